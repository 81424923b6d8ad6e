#include "proxy/notice_merge.h"

#include <gtest/gtest.h>

#include "proxy/wire/messages/error_response.h"
#include "proxy/wire/writer.h"

namespace sg::proxy {
namespace {

std::string notice(const std::string& message) {
    std::string out;
    wire::MessageWriter w(out);
    w.begin('N');
    w.u8('S');
    w.cstr("NOTICE");
    w.u8('M');
    w.cstr(message);
    w.u8(0);
    w.end();
    return out;
}

TEST(NoticeMerge, EachDistinctNoticeAsOftenAsTheShardThatSentItMost) {
    const std::string a = notice("table \"t\" does not exist, skipping"), b = notice("row 1"),
                      c = notice("other");
    const std::string s0 = a + b + b, s1 = a + b + c, s2 = a;
    EXPECT_EQ(merge_notices({s0, s1, s2}), a + b + b + c);
    EXPECT_EQ(merge_notices({a, a, a, a}), a);  // not once per shard
    EXPECT_EQ(merge_notices({"", ""}), "");
}

}  // namespace
}  // namespace sg::proxy
