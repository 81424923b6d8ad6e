#include <gtest/gtest.h>

#include "proxy/wire/frame.h"
#include "proxy/wire/messages/command_complete.h"

namespace sg::wire {
namespace {

TEST(CommandTag, ParsesRowCounts) {
    struct Case {
        std::string_view tag;
        std::string_view command;
        std::uint64_t rows;
    };
    for (const Case& c :
         {Case{"INSERT 0 5", "INSERT", 5}, Case{"UPDATE 3", "UPDATE", 3},
          Case{"DELETE 0", "DELETE", 0}, Case{"SELECT 7", "SELECT", 7}, Case{"COPY 9", "COPY", 9},
          Case{"MERGE 2", "MERGE", 2}, Case{"FETCH 10", "FETCH", 10}, Case{"MOVE 1", "MOVE", 1},
          Case{"SELECT 18446744073709551615", "SELECT", 18446744073709551615u}}) {
        const auto parsed = parse_row_count_tag(c.tag);
        ASSERT_TRUE(parsed.has_value()) << c.tag;
        EXPECT_EQ(parsed->command, c.command);
        EXPECT_EQ(parsed->rows, c.rows);
    }
}

TEST(CommandTag, RejectsTagsWithoutCounts) {
    for (std::string_view tag : {"BEGIN", "CREATE TABLE", "SET", "INSERT 5", "INSERT 0 x", "UPDATE",
                                 "UPDATE -1", "SELECT 1 2", "DELETE 3 ", ""}) {
        EXPECT_FALSE(parse_row_count_tag(tag).has_value()) << tag;
    }
}

TEST(CommandTag, BuildsTagsAsPostgreSQLDoes) {
    std::string tag;
    append_command_tag(tag, "INSERT", 12);
    EXPECT_EQ(tag, "INSERT 0 12");
    tag.clear();
    append_command_tag(tag, "UPDATE", 0);
    EXPECT_EQ(tag, "UPDATE 0");

    std::string storage;
    MessageWriter w(storage);
    encode_command_complete("SELECT", 7, w);
    const auto frame = std::get<Frame>(parse_frame(as_bytes(storage)));
    CommandComplete out;
    ASSERT_TRUE(decode(frame.body, out).ok());
    EXPECT_EQ(out.tag, "SELECT 7");
}

}  // namespace
}  // namespace sg::wire
