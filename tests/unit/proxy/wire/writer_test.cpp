#include "proxy/wire/writer.h"

#include <gtest/gtest.h>

#include "proxy/wire/messages/simple_query.h"

namespace sg::wire {
namespace {

TEST(MessageWriter, PatchesTheLengthOfEachMessage) {
    std::string out;
    MessageWriter w(out);
    w.begin('Q');
    w.cstr("hi");
    w.end();
    w.begin_untyped();
    w.i32(-1);
    w.i16(7);
    w.end();
    EXPECT_EQ(out, std::string("Q\0\0\0\x07hi\0"
                               "\0\0\0\x0a\xff\xff\xff\xff\0\x07",
                               18));
    EXPECT_FALSE(w.in_message());
}

TEST(MessageWriter, AppendsWithoutReallocatingOnceWarm) {
    std::string out;
    out.reserve(4096);
    const char* data = out.data();
    MessageWriter w(out);
    for (int i = 0; i < 100; ++i) encode(Query{"SELECT 1"}, w);
    EXPECT_EQ(out.size(), 100u * 14);
    EXPECT_EQ(out.data(), data);
}

}  // namespace
}  // namespace sg::wire
