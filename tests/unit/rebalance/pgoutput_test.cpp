// pgoutput v1 and walsender framing, decoded from hand-built messages; truncation anywhere is
// an error, never a read past the buffer.
#include "rebalance/pgoutput.h"

#include <gtest/gtest.h>

namespace sg::rebalance {
namespace {

std::string cstr(const std::string& s) {
    return s + std::string(1, '\0');
}
std::string text_col(const std::string& v) {
    return "t" + encode_int(v.size(), 4) + v;
}

TEST(PgOutput, RelationAndChanges) {
    std::string rel = "R" + encode_int(16384, 4) + cstr("public") + cstr("orders") + "d" +
                      encode_int(2, 2) + std::string(1, '\1') + cstr("id") + encode_int(20, 4) +
                      encode_int(0xffffffff, 4) + std::string(1, '\0') + cstr("note") +
                      encode_int(25, 4) + encode_int(0xffffffff, 4);
    auto r = decode_pgoutput(rel);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->type, PgOutputMsg::Type::Relation);
    EXPECT_EQ(r->relation.relname, "orders");
    EXPECT_EQ(r->relation.columns, (std::vector<std::string>{"id", "note"}));
    EXPECT_EQ(r->relation.key, (std::vector<bool>{true, false}));

    std::string ins = "I" + encode_int(16384, 4) + "N" + encode_int(2, 2) + text_col("42") + "n";
    auto i = decode_pgoutput(ins);
    ASSERT_TRUE(i.ok());
    EXPECT_EQ(i->change.kind, ChangeMsg::Kind::Insert);
    EXPECT_EQ(i->change.new_tuple[0].value, "42");
    EXPECT_EQ(i->change.new_tuple[1].kind, TupleColumn::Kind::Null);

    std::string upd = "U" + encode_int(16384, 4) + "K" + encode_int(2, 2) + text_col("41") + "n" +
                      "N" + encode_int(2, 2) + text_col("42") + "u";
    auto u = decode_pgoutput(upd);
    ASSERT_TRUE(u.ok());
    ASSERT_TRUE(u->change.old_tuple);
    EXPECT_TRUE(u->change.old_is_key_only);
    EXPECT_EQ((*u->change.old_tuple)[0].value, "41");
    EXPECT_EQ(u->change.new_tuple[1].kind, TupleColumn::Kind::Unchanged);

    std::string del = "D" + encode_int(16384, 4) + "K" + encode_int(1, 2) + text_col("7");
    auto d = decode_pgoutput(del);
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->change.kind, ChangeMsg::Kind::Delete);

    for (const std::string* m : {&rel, &ins, &upd, &del})
        for (size_t cut = 0; cut < m->size(); ++cut)
            EXPECT_FALSE(decode_pgoutput(m->substr(0, cut)).ok()) << (*m)[0] << " cut " << cut;
}

TEST(PgOutput, CommitMessageAndFrames) {
    auto c = decode_pgoutput("C" + std::string(1, '\0') + encode_int(0x100, 8) +
                             encode_int(0x1A0, 8) + encode_int(5, 8));
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->type, PgOutputMsg::Type::Commit);
    EXPECT_EQ(c->lsn, 0x1A0u);
    auto m = decode_pgoutput("M" + std::string(1, '\1') + encode_int(0x200, 8) + cstr("shardgate") +
                             encode_int(3, 4) + "abc");
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(m->prefix, "shardgate");
    EXPECT_EQ(m->content, "abc");
    EXPECT_FALSE(decode_pgoutput("Z").ok());

    auto k = decode_frame("k" + encode_int(0x300, 8) + encode_int(1, 8) + std::string(1, '\1'));
    ASSERT_TRUE(k.ok());
    EXPECT_EQ(k->type, StreamFrame::Type::Keepalive);
    EXPECT_TRUE(k->reply_requested);
    // The payload points into the frame, which must outlive it.
    const std::string frame = "w" + encode_int(1, 8) + encode_int(2, 8) + encode_int(3, 8) + "B";
    auto w = decode_frame(frame);
    ASSERT_TRUE(w.ok());
    EXPECT_EQ(w->payload, "B");
    EXPECT_EQ(encode_status_update(0x1A0, 9).size(), 34u);
    EXPECT_EQ(format_lsn(0x16B3748ull | (1ull << 32)), "1/16B3748");
    EXPECT_EQ(parse_lsn("1/16B3748"), 0x16B3748ull | (1ull << 32));
}

}  // namespace
}  // namespace sg::rebalance
