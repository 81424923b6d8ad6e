// FrameCursor walks only whole frames and never reads past its buffer; load_be32 reads
// PostgreSQL's (big-endian) byte order.
#include "proxy/wire/frame_cursor.h"

#include <gtest/gtest.h>

#include <string>

#include "proxy/wire/messages/session_status.h"
#include "proxy/wire/protocol.h"
#include "proxy/wire/writer.h"

namespace sg::wire {
namespace {

std::string command_complete(std::string_view tag) {
    std::string out;
    MessageWriter w(out);
    w.begin(be::kCommandComplete);
    w.cstr(tag);
    w.end();
    return out;
}

TEST(FrameCursor, YieldsEveryWholeFrameInOrderWithItsOffset) {
    std::string buf = command_complete("SELECT 1");
    const size_t second = buf.size();
    append_ready_for_query(buf, 'T');
    FrameCursor c(buf);
    auto a = c.next();
    ASSERT_TRUE(a);
    EXPECT_EQ(a->type, be::kCommandComplete);
    EXPECT_EQ(a->body, std::string_view("SELECT 1\0", 9));
    EXPECT_EQ(a->offset, 0u);
    auto b = c.next();
    ASSERT_TRUE(b);
    EXPECT_EQ(b->type, be::kReadyForQuery);
    EXPECT_EQ(b->body, "T");
    EXPECT_EQ(b->offset, second);
    EXPECT_EQ(b->whole, std::string_view(buf).substr(second));
    EXPECT_FALSE(c.next());
    EXPECT_TRUE(c.at_end());
}

TEST(FrameCursor, StopsBeforeAPartialFrameAndStaysStopped) {
    std::string buf = command_complete("INSERT 0 5");
    const std::string whole = buf;
    buf += command_complete("UPDATE 2").substr(0, 7);  // header and two body bytes
    FrameCursor c(buf);
    ASSERT_TRUE(c.next());
    EXPECT_FALSE(c.next());
    EXPECT_FALSE(c.next());
    EXPECT_FALSE(c.at_end());
    EXPECT_EQ(c.offset(), whole.size());
}

TEST(FrameCursor, RejectsALengthFieldBelowFour) {
    const std::string buf("C\0\0\0\x03xyz", 8);
    FrameCursor c(buf);
    EXPECT_FALSE(c.next());
    EXPECT_FALSE(c.at_end());
    EXPECT_EQ(c.offset(), 0u);
}

TEST(FrameCursor, EmptyBufferIsAtEnd) {
    FrameCursor c(std::string_view{});
    EXPECT_FALSE(c.next());
    EXPECT_TRUE(c.at_end());
}

TEST(LoadBe32, ReadsNetworkOrder) {
    const unsigned char b[4] = {0x12, 0x34, 0x56, 0xf8};
    EXPECT_EQ(load_be32(b), 0x123456f8u);
}

TEST(AppendReadyForQuery, IsTheSixByteFrame) {
    std::string out;
    append_ready_for_query(out, 'E');
    EXPECT_EQ(out, std::string("Z\0\0\0\x05"
                               "E",
                               6));
}

}  // namespace
}  // namespace sg::wire
