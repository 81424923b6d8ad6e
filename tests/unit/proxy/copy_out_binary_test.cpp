#include "proxy/copy_out_binary.h"

#include <gtest/gtest.h>

#include "proxy/wire/writer.h"

namespace sg::proxy {
namespace {

const std::string kHeader = std::string("PGCOPY\n\377\r\n\0", 11) + std::string(8, '\0');
const std::string kTrailer("\xff\xff", 2);

std::string copy_data(const std::string& payload) {
    std::string out;
    wire::MessageWriter w(out);
    w.begin('d');
    w.bytes(payload);
    w.end();
    return out;
}

// One tuple of one int4 field.
std::string tuple(int v) {
    std::string t("\0\1\0\0\0\4", 6);
    for (int s = 24; s >= 0; s -= 8) t.push_back(static_cast<char>((v >> s) & 0xff));
    return t;
}

// A shard's stream as PostgreSQL frames it: header with the first tuple, one frame per tuple,
// the trailer alone (header and trailer together when there is no tuple).
std::string shard_stream(std::initializer_list<int> values) {
    std::string out, pending = kHeader;
    for (int v : values) {
        out += copy_data(pending + tuple(v));
        pending.clear();
    }
    return out + copy_data(pending + kTrailer);
}

// The payload bytes of CopyData frames, joined.
std::string stream_of(const std::string& frames) {
    std::string s;
    for (size_t pos = 0; pos < frames.size();) {
        EXPECT_EQ(frames[pos], 'd');
        uint32_t len = (uint8_t(frames[pos + 1]) << 24) | (uint8_t(frames[pos + 2]) << 16) |
                       (uint8_t(frames[pos + 3]) << 8) | uint8_t(frames[pos + 4]);
        EXPECT_GT(len, 4u);  // no empty frame is sent
        s += frames.substr(pos + 5, len - 4);
        pos += 1 + len;
    }
    return s;
}

TEST(CopyOutBinary, OneHeaderAndOneTrailerForEveryShardsTuples) {
    const std::string s0 = shard_stream({1, 2}), s1 = shard_stream({}), s2 = shard_stream({3});
    auto joined = join_binary_copy_out({s0, s1, s2});
    ASSERT_TRUE(joined.ok()) << joined.error().message;
    EXPECT_EQ(stream_of(*joined), kHeader + tuple(1) + tuple(2) + tuple(3) + kTrailer);
    // A single shard passes through unchanged.
    auto one = join_binary_copy_out({s0});
    ASSERT_TRUE(one.ok());
    EXPECT_EQ(*one, s0);
}

TEST(CopyOutBinary, HeaderExtensionAndFramesCutAnywhere) {
    // A header with a 3-byte extension, the stream cut into frames at odd places.
    std::string header = kHeader;
    header[18] = 3;
    const std::string stream = header + "abc" + tuple(7) + kTrailer;
    std::string cut;
    for (size_t i = 0; i < stream.size(); i += 5) cut += copy_data(stream.substr(i, 5));
    auto joined = join_binary_copy_out({shard_stream({1}), cut, shard_stream({})});
    ASSERT_TRUE(joined.ok()) << joined.error().message;
    EXPECT_EQ(stream_of(*joined), kHeader + tuple(1) + tuple(7) + kTrailer);
}

TEST(CopyOutBinary, MalformedStreamsAreErrorsNotGuesses) {
    EXPECT_FALSE(
        join_binary_copy_out({copy_data("not a copy header at all"), shard_stream({})}).ok());
    EXPECT_FALSE(join_binary_copy_out({copy_data(kHeader + tuple(1)), shard_stream({})})
                     .ok());                                             // no trailer
    EXPECT_FALSE(join_binary_copy_out({std::string("d\0\0", 3)}).ok());  // cut frame
}

TEST(CopyOutBinary, FormatOfTheCopyOutResponse) {
    EXPECT_TRUE(copy_out_is_binary(std::string("H\0\0\0\x0b\1\0\1\0\1", 10)));
    EXPECT_FALSE(copy_out_is_binary(std::string("H\0\0\0\x0b\0\0\1\0\0", 10)));
    EXPECT_FALSE(copy_out_is_binary("G"));
}

}  // namespace
}  // namespace sg::proxy
