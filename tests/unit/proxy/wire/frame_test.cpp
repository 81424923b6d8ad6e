#include "proxy/wire/frame.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proxy/wire/messages.h"

namespace sg::wire {
namespace {

std::string two_queries_and_a_sync() {
    std::string out;
    MessageWriter w(out);
    encode(Query{"SELECT 1"}, w);
    encode(Query{"SELECT 2; SELECT 3"}, w);
    encode(Sync{}, w);
    return out;
}

// Splits a buffer into frames the way a session does: parse, consume frame.size, repeat.
std::vector<std::string> drain(std::string& buffer, std::vector<char>& types) {
    std::vector<std::string> bodies;
    for (;;) {
        const FrameStatus status = parse_frame(as_bytes(buffer));
        if (!std::holds_alternative<Frame>(status)) break;
        const Frame f = std::get<Frame>(status);
        types.push_back(f.type);
        bodies.emplace_back(as_chars(f.body));
        buffer.erase(0, f.size);
    }
    return bodies;
}

TEST(Frame, SeveralFramesInOneRead) {
    std::string buffer = two_queries_and_a_sync();
    std::vector<char> types;
    const auto bodies = drain(buffer, types);
    ASSERT_EQ(bodies.size(), 3u);
    EXPECT_EQ(types, (std::vector<char>{'Q', 'Q', 'S'}));
    EXPECT_EQ(bodies[1], std::string("SELECT 2; SELECT 3", 19));  // with its NUL
    EXPECT_TRUE(buffer.empty());
}

TEST(Frame, FedByteByByteNeverConsumesAPartialFrame) {
    const std::string stream = two_queries_and_a_sync();
    std::string buffer;
    std::vector<char> types;
    std::size_t frames = 0;
    for (char c : stream) {
        buffer.push_back(c);
        const FrameStatus status = parse_frame(as_bytes(buffer));
        if (const auto* need = std::get_if<NeedMore>(&status)) {
            EXPECT_GT(need->at_least, buffer.size());
            continue;
        }
        ASSERT_TRUE(std::holds_alternative<Frame>(status));
        EXPECT_EQ(std::get<Frame>(status).size, buffer.size())
            << "frame appears exactly when whole";
        frames += drain(buffer, types).size();
    }
    EXPECT_EQ(frames, 3u);
    EXPECT_TRUE(buffer.empty());
}

TEST(Frame, NeedMoreReportsTheWholeFrameSize) {
    const std::string stream = two_queries_and_a_sync();
    const auto status = parse_frame(as_bytes(stream).first(7));
    ASSERT_TRUE(std::holds_alternative<NeedMore>(status));
    EXPECT_EQ(std::get<NeedMore>(status).at_least, 1u + 4 + 9);  // 'Q', length, "SELECT 1\0"
    EXPECT_EQ(std::get<NeedMore>(parse_frame({})).at_least, kFrameHeaderSize);
}

TEST(Frame, LengthBelowFourIsMalformed) {
    for (std::uint8_t len : {0, 1, 2, 3}) {
        const std::uint8_t bytes[] = {'Q', 0, 0, 0, len};
        EXPECT_TRUE(std::holds_alternative<Malformed>(parse_frame(bytes))) << int(len);
    }
    const std::uint8_t empty_body[] = {'S', 0, 0, 0, 4};
    const auto ok = parse_frame(empty_body);
    ASSERT_TRUE(std::holds_alternative<Frame>(ok));
    EXPECT_TRUE(std::get<Frame>(ok).body.empty());
}

TEST(Frame, OversizedOrNegativeLengthIsMalformedBeforeAnyBodyArrives) {
    const std::uint8_t gigabytes[] = {'Q', 0x7f, 0xff, 0xff, 0xff};
    EXPECT_TRUE(std::holds_alternative<Malformed>(parse_frame(gigabytes)));
    const std::uint8_t negative[] = {'Q', 0xff, 0xff, 0xff, 0xfe};
    EXPECT_TRUE(std::holds_alternative<Malformed>(parse_frame(negative)));
    const std::uint8_t just_over[] = {'Q', 0, 0, 0x04, 0x01};  // 1025 > 1024
    EXPECT_TRUE(std::holds_alternative<Malformed>(parse_frame(just_over, 1024)));
    const std::uint8_t at_limit[] = {'Q', 0, 0, 0x04, 0x00};
    EXPECT_TRUE(std::holds_alternative<NeedMore>(parse_frame(at_limit, 1024)));
}

std::string startup_packet(std::uint32_t code, std::string_view body = {}) {
    std::string out;
    MessageWriter w(out);
    w.begin_untyped();
    w.u32(code);
    w.bytes(body);
    w.end();
    return out;
}

StartupFrame expect_startup(const std::string& packet) {
    const auto status = parse_startup_frame(as_bytes(packet));
    EXPECT_TRUE(std::holds_alternative<StartupFrame>(status));
    return std::get<StartupFrame>(status);
}

TEST(StartupFrame, ClassifiesRequestsByCode) {
    EXPECT_EQ(expect_startup(startup_packet(80877103)).kind, StartupKind::SslRequest);
    EXPECT_EQ(expect_startup(startup_packet(80877104)).kind, StartupKind::GssEncRequest);
    EXPECT_EQ(expect_startup(startup_packet(80877102, std::string(8, 'x'))).kind,
              StartupKind::CancelRequest);
    EXPECT_EQ(expect_startup(startup_packet(196608, std::string(1, '\0'))).kind,
              StartupKind::Startup);
    EXPECT_EQ(expect_startup(startup_packet(pg_protocol(3, 2), std::string(1, '\0'))).kind,
              StartupKind::Startup);
    const StartupFrame v2 = expect_startup(startup_packet(pg_protocol(2, 0), std::string(1, '\0')));
    EXPECT_EQ(v2.kind, StartupKind::UnsupportedProtocol);
    EXPECT_EQ(unsupported_protocol_message(v2.code),
              "unsupported frontend protocol 2.0: server supports 3.0 to 3.0");
    EXPECT_EQ(expect_startup(startup_packet(pg_protocol(1234, 9999))).kind,
              StartupKind::UnsupportedProtocol);
}

TEST(StartupFrame, RequestsMustHaveTheirExactLength) {
    const auto ssl_with_body = startup_packet(kNegotiateSslCode, "x");
    EXPECT_TRUE(std::holds_alternative<Malformed>(parse_startup_frame(as_bytes(ssl_with_body))));
    const auto short_cancel = startup_packet(kCancelRequestCode, "1234");
    EXPECT_TRUE(std::holds_alternative<Malformed>(parse_startup_frame(as_bytes(short_cancel))));
}

TEST(StartupFrame, LengthLimits) {
    const std::uint8_t too_short[] = {0, 0, 0, 7, 0, 3, 0, 0};
    EXPECT_TRUE(std::holds_alternative<Malformed>(parse_startup_frame(too_short)));
    const std::uint8_t too_long[] = {0, 0, 0x27, 0x11};  // 10001 > MAX_STARTUP_PACKET_LENGTH
    EXPECT_TRUE(std::holds_alternative<Malformed>(parse_startup_frame(too_long)));
    const std::uint8_t http[] = {'G', 'E', 'T', ' ', '/', ' ', 'H', 'T'};
    EXPECT_TRUE(std::holds_alternative<Malformed>(parse_startup_frame(http)));
    EXPECT_EQ(std::get<NeedMore>(parse_startup_frame({})).at_least, kStartupHeaderSize);
}

TEST(StartupFrame, FedByteByByte) {
    const std::string packet = startup_packet(kProtocolVersion3, std::string("user\0bob\0\0", 10));
    for (std::size_t n = 0; n < packet.size(); ++n) {
        const auto status = parse_startup_frame(as_bytes(packet).first(n));
        ASSERT_TRUE(std::holds_alternative<NeedMore>(status)) << n;
        EXPECT_GT(std::get<NeedMore>(status).at_least, n);
    }
    const StartupFrame f = expect_startup(packet);
    EXPECT_EQ(f.size, packet.size());
    StartupMessage msg;
    ASSERT_TRUE(decode(f, msg).ok());
    EXPECT_EQ(msg.user(), "bob");
}

}  // namespace
}  // namespace sg::wire
