#include "proxy/notify/listen_batch.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "proxy/wire/messages/extended_query.h"
#include "proxy/wire/writer.h"

namespace sg::proxy::notify {
namespace {

using Step = ListenBatchStep;

// A batch built with the wire encoders, one call per message.
struct Batch {
    std::string bytes;
    Batch& parse(std::string_view name, std::string_view sql, std::vector<uint32_t> types = {}) {
        wire::MessageWriter w(bytes);
        wire::encode(wire::Parse{name, sql, std::move(types)}, w);
        return *this;
    }
    Batch& bind(std::string_view portal, std::string_view stmt, int params = 0) {
        wire::MessageWriter w(bytes);
        wire::Bind b;
        b.portal = portal;
        b.statement = stmt;
        for (int i = 0; i < params; ++i) b.params.push_back(std::nullopt);
        b.result_formats = {1};  // asyncpg asks for binary results
        wire::encode(b, w);
        return *this;
    }
    Batch& describe(wire::Target t, std::string_view name) {
        wire::MessageWriter w(bytes);
        wire::encode(wire::Describe{t, name}, w);
        return *this;
    }
    Batch& execute(std::string_view portal) {
        wire::MessageWriter w(bytes);
        wire::encode(wire::Execute{portal, 0}, w);
        return *this;
    }
    Batch& close(wire::Target t, std::string_view name) {
        wire::MessageWriter w(bytes);
        wire::encode(wire::Close{t, name}, w);
        return *this;
    }
    Batch& sync() {
        wire::MessageWriter w(bytes);
        wire::encode(wire::Sync{}, w);
        return *this;
    }
    Batch& flush() {
        wire::MessageWriter w(bytes);
        wire::encode(wire::Flush{}, w);
        return *this;
    }
};

struct Known {
    std::map<std::string, std::string, std::less<>> statements;
    StatementText fn() {
        return [this](std::string_view name) -> std::optional<std::string_view> {
            auto it = statements.find(name);
            if (it == statements.end()) return std::nullopt;
            return std::string_view(it->second);
        };
    }
};

std::vector<Step::Kind> kinds(const ListenBatchPlan& p) {
    std::vector<Step::Kind> out;
    for (const auto& s : p.steps) out.push_back(s.kind);
    return out;
}

TEST(ListenBatch, AsyncpgPreparesUnderANameThenRunsIt) {
    Known known;
    Batch prepare;
    prepare.parse("__asyncpg_stmt_1__", "LISTEN \"Ch\"")
        .describe(wire::Target::Statement, "__asyncpg_stmt_1__")
        .flush();
    auto p = plan_listen_batch(prepare.bytes, known.fn(), false, false);
    ASSERT_TRUE(p);
    EXPECT_EQ(kinds(*p), (std::vector{Step::Parse, Step::DescribeStatement, Step::Flush}));
    EXPECT_TRUE(p->parses_listen);
    EXPECT_EQ(p->executes, 0u);
    EXPECT_EQ(p->steps[0].st.channel, "Ch");

    known.statements["__asyncpg_stmt_1__"] = "LISTEN \"Ch\"";
    Batch run;
    run.bind("", "__asyncpg_stmt_1__").execute("").sync();
    p = plan_listen_batch(run.bytes, known.fn(), false, false);
    ASSERT_TRUE(p);
    EXPECT_EQ(kinds(*p), (std::vector{Step::Bind, Step::Execute, Step::Sync}));
    EXPECT_EQ(p->steps[1].st.kind, ListenStatement::Listen);
    EXPECT_EQ(p->steps[1].st.channel, "Ch");
    EXPECT_FALSE(p->parses_listen);
}

TEST(ListenBatch, UnnamedPipelineOfSeveralWithCloses) {
    Known known;
    known.statements["old"] = "SELECT 1";
    Batch b;
    b.close(wire::Target::Statement, "old")
        .parse("", "LISTEN a")
        .bind("", "")
        .describe(wire::Target::Portal, "")
        .execute("")
        .parse("", "UNLISTEN *")
        .bind("p1", "")
        .execute("p1")
        .close(wire::Target::Portal, "p1")
        .sync();
    auto p = plan_listen_batch(b.bytes, known.fn(), false, true);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->executes, 2u);
    EXPECT_EQ(p->steps[4].st.channel, "a");
    EXPECT_EQ(p->steps[7].st.kind, ListenStatement::UnlistenAll);
}

TEST(ListenBatch, DeclinesWhatItCannotAnswerExactly) {
    Known known;
    known.statements["sel"] = "SELECT 1";
    known.statements["l"] = "LISTEN x";
    auto declined = [&](Batch b, bool in_block = false, bool on_server = false) {
        return !plan_listen_batch(b.bytes, known.fn(), in_block, on_server).has_value();
    };
    // Another statement in the same pipeline (it runs on a shard).
    EXPECT_TRUE(declined(Batch()
                             .parse("", "LISTEN a")
                             .bind("", "")
                             .execute("")
                             .parse("", "SELECT 1")
                             .bind("", "")
                             .execute("")
                             .sync()));
    EXPECT_TRUE(declined(Batch().bind("", "sel").execute("").bind("", "l").execute("").sync()));
    // Several statements in one Parse, parameters, declared parameter types.
    EXPECT_TRUE(declined(Batch().parse("", "LISTEN a; SELECT 1").bind("", "").execute("").sync()));
    EXPECT_TRUE(declined(Batch().parse("", "LISTEN a").bind("", "", 1).execute("").sync()));
    EXPECT_TRUE(declined(Batch().parse("", "LISTEN a", {23}).sync()));
    // A named statement parsed over an existing one (42P05 on the shard path).
    EXPECT_TRUE(declined(Batch().parse("l", "LISTEN y").sync()));
    // Outside a transaction block an Execute must commit at this batch's Sync.
    EXPECT_TRUE(declined(Batch().bind("", "l").execute("").flush()));
    EXPECT_FALSE(declined(Batch().bind("", "l").execute("").flush(), /*in_block=*/true));
    // A portal bound and left for a later batch; a portal of another batch; executed twice.
    EXPECT_TRUE(declined(Batch().bind("p", "l").sync()));
    EXPECT_TRUE(declined(Batch().execute("p").sync()));
    EXPECT_TRUE(declined(Batch().bind("", "l").execute("").execute("").sync()));
    // A Close of a portal living on the transaction's server.
    EXPECT_TRUE(declined(Batch().close(wire::Target::Portal, "c").bind("", "l").execute("").sync(),
                         true, true));
    // Only Close messages, no terminator, something after the Sync, an unknown statement.
    EXPECT_TRUE(declined(Batch().close(wire::Target::Statement, "sel").sync()));
    EXPECT_TRUE(declined(Batch().bind("", "l").execute("")));
    EXPECT_TRUE(declined(Batch().bind("", "l").execute("").sync().sync()));
    EXPECT_TRUE(declined(Batch().bind("", "nope").execute("").sync()));
    // A closed statement is gone for the rest of the batch.
    EXPECT_TRUE(
        declined(Batch().close(wire::Target::Statement, "l").bind("", "l").execute("").sync()));
}

TEST(ListenBatch, ReportsTheTruncatedChannelAtParse) {
    Known known;
    const std::string name(70, 'c');
    auto p = plan_listen_batch(Batch().parse("", "LISTEN " + name).sync().bytes, known.fn(), false,
                               false);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->steps[0].st.channel, std::string(63, 'c'));
    EXPECT_EQ(p->steps[0].st.truncated, name);
}

}  // namespace
}  // namespace sg::proxy::notify
