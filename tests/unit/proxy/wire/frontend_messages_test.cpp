// Every frontend message round-trips, and every truncation of it is rejected.
#include <gtest/gtest.h>

#include "proxy/wire/messages.h"
#include "tests/unit/proxy/wire/wire_test_util.h"

namespace sg::wire {
namespace {

using testing::expect_prefixes_rejected;
using testing::round_trip;

TEST(StartupMessage, RoundTripsWithParametersInOrder) {
    StartupMessage msg;
    msg.parameters = {{"user", "alice"},
                      {"database", "app"},
                      {"options", "-c search_path=s1"},
                      {"application_name", "psql"}};
    std::string storage;
    MessageWriter w(storage);
    encode(msg, w);
    const auto status = parse_startup_frame(as_bytes(storage));
    ASSERT_TRUE(std::holds_alternative<StartupFrame>(status));
    StartupMessage out;
    ASSERT_TRUE(decode(std::get<StartupFrame>(status), out).ok());
    EXPECT_EQ(out.protocol, kProtocolVersion3);
    ASSERT_EQ(out.parameters.size(), 4u);
    EXPECT_EQ(out.user(), "alice");
    EXPECT_EQ(out.database(), "app");
    EXPECT_EQ(out.options(), "-c search_path=s1");
    EXPECT_EQ(out.application_name(), "psql");
    EXPECT_FALSE(out.has("client_encoding"));
}

TEST(StartupMessage, DatabaseDefaultsToUserAndLastValueWins) {
    StartupMessage msg;
    msg.parameters = {{"user", "bob"}, {"application_name", "a"}, {"application_name", "b"}};
    EXPECT_EQ(msg.database(), "bob");
    EXPECT_EQ(msg.application_name(), "b");
}

StartupFrame startup_frame_of(std::string_view body) {
    return StartupFrame{StartupKind::Startup, kProtocolVersion3, as_bytes(body), 8 + body.size()};
}

TEST(StartupMessage, RejectsBadLayouts) {
    StartupMessage out;
    EXPECT_FALSE(decode(startup_frame_of(std::string_view("user\0bob\0", 9)), out).ok())
        << "missing final terminator";
    EXPECT_FALSE(decode(startup_frame_of(std::string_view("user\0bob", 8)), out).ok());
    EXPECT_FALSE(decode(startup_frame_of(std::string_view("user\0", 5)), out).ok());
    EXPECT_FALSE(decode(startup_frame_of(std::string_view("\0junk", 5)), out).ok())
        << "bytes after the terminator";
    EXPECT_TRUE(decode(startup_frame_of(std::string_view("\0", 1)), out).ok());
    EXPECT_TRUE(out.user().empty()) << "a missing user is the session's 28000, not a framing error";
    CancelRequest cancel;
    EXPECT_FALSE(decode(startup_frame_of(std::string_view("\0", 1)), cancel).ok());
}

TEST(CancelRequest, RoundTrips) {
    std::string storage;
    MessageWriter w(storage);
    encode(CancelRequest{4242, -17}, w);
    EXPECT_EQ(storage.size(), 16u);
    const auto status = parse_startup_frame(as_bytes(storage));
    ASSERT_TRUE(std::holds_alternative<StartupFrame>(status));
    CancelRequest out;
    ASSERT_TRUE(decode(std::get<StartupFrame>(status), out).ok());
    EXPECT_EQ(out.process_id, 4242);
    EXPECT_EQ(out.secret_key, -17);
}

TEST(SslAndGssRequests, AreEightBytesWithTheirCode) {
    std::string storage;
    MessageWriter w(storage);
    encode_ssl_request(w);
    encode_gssenc_request(w);
    EXPECT_EQ(storage, std::string("\0\0\0\x08\x04\xd2\x16\x2f\0\0\0\x08\x04\xd2\x16\x30", 16));
}

TEST(Query, RoundTrips) {
    std::string storage;
    EXPECT_EQ(round_trip(Query{"SELECT 1; SELECT 2"}, storage).sql, "SELECT 1; SELECT 2");
    EXPECT_EQ(round_trip(Query{""}, storage).sql, "");
    expect_prefixes_rejected(Query{"SELECT 1"});
}

TEST(Parse, RoundTrips) {
    Parse msg{"s1", "SELECT $1::int, $2", {23, 0}};
    std::string storage;
    const Parse out = round_trip(msg, storage);
    EXPECT_EQ(out.statement, "s1");
    EXPECT_EQ(out.query, "SELECT $1::int, $2");
    EXPECT_EQ(out.param_types, (std::vector<std::uint32_t>{23, 0}));
    expect_prefixes_rejected(msg);
}

TEST(Bind, RoundTripsNullsBinaryAndFormats) {
    const std::string binary("\x00\x00\x00\x2a", 4);
    Bind msg;
    msg.portal = "p1";
    msg.statement = "s1";
    msg.param_formats = {0, 1, 0};
    msg.params = {as_bytes("42"), as_bytes(binary), std::nullopt};
    msg.result_formats = {1};
    std::string storage;
    const Bind out = round_trip(msg, storage);
    EXPECT_EQ(out.portal, "p1");
    EXPECT_EQ(out.statement, "s1");
    ASSERT_EQ(out.params.size(), 3u);
    EXPECT_EQ(as_chars(*out.params[0]), "42");
    EXPECT_EQ(as_chars(*out.params[1]), binary);
    EXPECT_FALSE(out.params[2].has_value());
    EXPECT_EQ(out.param_format(1), FormatCode::Binary);
    EXPECT_EQ(out.param_format(2), FormatCode::Text);
    EXPECT_EQ(out.result_formats, (std::vector<std::int16_t>{1}));
    expect_prefixes_rejected(msg);
}

TEST(Bind, EmptyValueIsNotNull) {
    Bind msg;
    msg.params = {as_bytes("")};
    std::string storage;
    const Bind out = round_trip(msg, storage);
    ASSERT_EQ(out.params.size(), 1u);
    ASSERT_TRUE(out.params[0].has_value());
    EXPECT_TRUE(out.params[0]->empty());
    EXPECT_EQ(out.param_format(0), FormatCode::Text);
}

TEST(Bind, OneFormatAppliesToAll) {
    Bind msg;
    msg.param_formats = {1};
    msg.params = {as_bytes("a"), as_bytes("b")};
    std::string storage;
    const Bind out = round_trip(msg, storage);
    EXPECT_EQ(out.param_format(0), FormatCode::Binary);
    EXPECT_EQ(out.param_format(1), FormatCode::Binary);
}

TEST(Bind, RejectsInconsistentFormatsAndBadLengths) {
    std::string storage;
    Bind msg;
    msg.param_formats = {0, 1};
    msg.params = {as_bytes("a"), as_bytes("b"), as_bytes("c")};
    Frame frame = testing::encode_to_frame(msg, storage);
    Bind out;
    EXPECT_FALSE(decode(frame.body, out).ok());

    msg.param_formats = {2};
    frame = testing::encode_to_frame(msg, storage);
    EXPECT_FALSE(decode(frame.body, out).ok()) << "format code 2";

    // portal "", statement "", 0 formats, 1 param of length -2.
    const std::uint8_t minus_two[] = {0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe, 0, 0};
    EXPECT_FALSE(decode(minus_two, out).ok());
    // A parameter count far beyond what the body holds is refused before allocating.
    const std::uint8_t huge_count[] = {0, 0, 0, 0, 0xff, 0xff};
    EXPECT_FALSE(decode(huge_count, out).ok());
}

TEST(Bind, DecodingAgainReusesCapacity) {
    Bind msg;
    msg.params = {as_bytes("1"), as_bytes("2"), std::nullopt};
    std::string storage;
    const Frame frame = testing::encode_to_frame(msg, storage);
    Bind out;
    ASSERT_TRUE(decode(frame.body, out).ok());
    const auto* data = out.params.data();
    ASSERT_TRUE(decode(frame.body, out).ok());
    EXPECT_EQ(out.params.data(), data);
}

TEST(DescribeAndClose, RoundTripBothTargets) {
    std::string storage;
    const Describe d = round_trip(Describe{Target::Portal, "p1"}, storage);
    EXPECT_EQ(d.target, Target::Portal);
    EXPECT_EQ(d.name, "p1");
    const Close c = round_trip(Close{Target::Statement, ""}, storage);
    EXPECT_EQ(c.target, Target::Statement);
    EXPECT_EQ(c.name, "");
    expect_prefixes_rejected(Describe{Target::Statement, "s"});
    expect_prefixes_rejected(Close{Target::Portal, "p"});
    const std::uint8_t bad_target[] = {'X', 's', 0};
    Describe out;
    EXPECT_FALSE(decode(bad_target, out).ok());
}

TEST(Execute, RoundTrips) {
    std::string storage;
    const Execute out = round_trip(Execute{"p1", 100}, storage);
    EXPECT_EQ(out.portal, "p1");
    EXPECT_EQ(out.max_rows, 100);
    expect_prefixes_rejected(Execute{"", 0});
}

TEST(EmptyMessages, RoundTripAndRejectABody) {
    std::string storage;
    round_trip(Sync{}, storage);
    EXPECT_EQ(storage, std::string("S\0\0\0\x04", 5));
    round_trip(Flush{}, storage);
    round_trip(Terminate{}, storage);
    round_trip(CopyDone{}, storage);
    const std::uint8_t one_byte[] = {0};
    Sync sync;
    EXPECT_FALSE(decode(one_byte, sync).ok());
}

TEST(Copy, DataDoneFailRoundTrip) {
    std::string storage;
    const std::string chunk("1\tone\n2\ttwo\n\0binary", 19);
    EXPECT_EQ(testing::bytes_to_string(round_trip(CopyData{as_bytes(chunk)}, storage).data), chunk);
    EXPECT_EQ(round_trip(CopyFail{"client gave up"}, storage).message, "client gave up");
    expect_prefixes_rejected(CopyFail{"x"});
}

TEST(PasswordMessages, RoundTrip) {
    std::string storage;
    EXPECT_EQ(round_trip(PasswordMessage{"md5abc"}, storage).password, "md5abc");
    expect_prefixes_rejected(PasswordMessage{"pw"});

    const SASLInitialResponse init =
        round_trip(SASLInitialResponse{"SCRAM-SHA-256", as_bytes("n,,n=,r=abc")}, storage);
    EXPECT_EQ(init.mechanism, "SCRAM-SHA-256");
    ASSERT_TRUE(init.data.has_value());
    EXPECT_EQ(as_chars(*init.data), "n,,n=,r=abc");
    expect_prefixes_rejected(SASLInitialResponse{"SCRAM-SHA-256", as_bytes("n,,n=,r=abc")});

    const SASLInitialResponse no_data =
        round_trip(SASLInitialResponse{"SCRAM-SHA-256", std::nullopt}, storage);
    EXPECT_FALSE(no_data.data.has_value());

    EXPECT_EQ(as_chars(round_trip(SASLResponse{as_bytes("c=biws,r=x,p=y")}, storage).data),
              "c=biws,r=x,p=y");
}

TEST(FrontendTypes, UnknownTypesHaveNoName) {
    EXPECT_EQ(frontend_message_name('Q'), "Query");
    EXPECT_EQ(frontend_message_name('B'), "Bind");
    EXPECT_TRUE(frontend_message_name('Z').empty());
    EXPECT_TRUE(frontend_message_name('\0').empty());
    EXPECT_EQ(backend_message_name('Z'), "ReadyForQuery");
    EXPECT_TRUE(backend_message_name('Q').empty());
}

}  // namespace
}  // namespace sg::wire
