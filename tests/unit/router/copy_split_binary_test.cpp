#include "router/copy_split_binary.h"

#include <gtest/gtest.h>

namespace sg::router {
namespace {

const std::string kHeader = std::string("PGCOPY\n\377\r\n\0", 11) + std::string(8, '\0');
const std::string kTrailer("\xff\xff", 2);

std::string be(uint64_t v, int bytes) {
    std::string s;
    for (int i = bytes - 1; i >= 0; --i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    return s;
}

// A tuple (int8 id, text owner); a null owner when `owner` is empty.
std::string tuple(int64_t id, const std::string& owner) {
    std::string t = be(2, 2) + be(8, 4) + be(static_cast<uint64_t>(id), 8);
    t += owner.empty() ? be(0xffffffff, 4) : be(owner.size(), 4) + owner;
    return t;
}

TEST(BinaryCopySplit, HeaderTuplesAndTrailerWhateverTheChunks) {
    const std::string stream = kHeader + tuple(1, "a") + tuple(-7, "") + tuple(42, "bb") + kTrailer;
    for (size_t step : {size_t(1), size_t(3), size_t(7), stream.size()}) {
        BinaryCopySplitter s(0);
        std::vector<CopyRow> rows;
        for (size_t i = 0; i < stream.size(); i += step)
            ASSERT_TRUE(s.feed(stream.substr(i, step), rows).ok());
        ASSERT_TRUE(s.finish(rows).ok());
        ASSERT_EQ(rows.size(), 5u) << step;
        EXPECT_TRUE(rows[0].header);
        EXPECT_EQ(rows[0].data, kHeader);
        EXPECT_EQ(rows[1].data, tuple(1, "a"));
        EXPECT_TRUE(rows[1].key_binary);
        EXPECT_EQ(rows[1].key, be(1, 8));
        EXPECT_EQ(rows[2].key, be(static_cast<uint64_t>(-7), 8));
        EXPECT_EQ(rows[3].data, tuple(42, "bb"));
        EXPECT_TRUE(rows[4].header);  // the trailer: every shard gets it
        EXPECT_EQ(rows[4].data, kTrailer);
        EXPECT_EQ(s.rows_seen(), 3u);
    }
}

TEST(BinaryCopySplit, KeyInAnotherColumnNullKeyAndNoTrailer) {
    BinaryCopySplitter s(1);
    std::vector<CopyRow> rows;
    ASSERT_TRUE(s.feed(kHeader + tuple(5, "k") + tuple(6, ""), rows).ok());
    ASSERT_TRUE(s.finish(rows).ok());  // EOF at a tuple boundary ends the data, as in PostgreSQL
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows[1].key, "k");
    EXPECT_FALSE(rows[2].key.has_value());  // NULL key
}

TEST(BinaryCopySplit, BadDataIsAnErrorNotAGuess) {
    {
        BinaryCopySplitter s(0);
        std::vector<CopyRow> rows;
        EXPECT_FALSE(s.feed(std::string(19, 'x'), rows).ok());
    }
    {
        BinaryCopySplitter s(0);
        std::vector<CopyRow> rows;
        ASSERT_TRUE(s.feed(kHeader + tuple(1, "a").substr(0, 9), rows).ok());
        EXPECT_FALSE(s.finish(rows).ok());  // cut in the middle of a tuple
    }
    {
        BinaryCopySplitter s(3);  // the key column is past the tuple's fields
        std::vector<CopyRow> rows;
        EXPECT_FALSE(s.feed(kHeader + tuple(1, "a"), rows).ok());
    }
    {
        BinaryCopySplitter s(0);
        std::vector<CopyRow> rows;
        EXPECT_FALSE(s.finish(rows).ok());  // no header at all
    }
}

}  // namespace
}  // namespace sg::router
