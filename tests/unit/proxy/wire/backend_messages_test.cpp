// Every backend message round-trips, and every truncation of it is rejected.
#include <gtest/gtest.h>

#include "common/sqlstate.h"
#include "proxy/wire/messages.h"
#include "tests/unit/proxy/wire/wire_test_util.h"

namespace sg::wire {
namespace {

using testing::expect_prefixes_rejected;
using testing::round_trip;

Authentication auth_round_trip(const Authentication& msg, std::string& storage) {
    storage.clear();
    MessageWriter w(storage);
    encode(msg, w);
    const auto status = parse_frame(as_bytes(storage));
    EXPECT_TRUE(std::holds_alternative<Frame>(status));
    const Frame frame = std::get<Frame>(status);
    EXPECT_EQ(frame.type, be::kAuthenticationRequest);
    Authentication out;
    EXPECT_TRUE(decode(frame.body, out).ok());
    EXPECT_EQ(out.index(), msg.index());
    return out;
}

TEST(Authentication, EveryRequestRoundTrips) {
    std::string storage;
    auth_round_trip(AuthenticationOk{}, storage);
    EXPECT_EQ(storage, std::string("R\0\0\0\x08\0\0\0\0", 9));
    auth_round_trip(AuthenticationCleartextPassword{}, storage);

    const auto md5 = auth_round_trip(AuthenticationMD5Password{{1, 2, 3, 4}}, storage);
    EXPECT_EQ(std::get<AuthenticationMD5Password>(md5).salt,
              (std::array<std::uint8_t, 4>{1, 2, 3, 4}));

    const auto sasl =
        auth_round_trip(AuthenticationSASL{{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}}, storage);
    EXPECT_EQ(std::get<AuthenticationSASL>(sasl).mechanisms,
              (std::vector<std::string_view>{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}));

    const auto cont = auth_round_trip(AuthenticationSASLContinue{as_bytes("r=a,s=b,i=1")}, storage);
    EXPECT_EQ(as_chars(std::get<AuthenticationSASLContinue>(cont).data), "r=a,s=b,i=1");
    const auto fin = auth_round_trip(AuthenticationSASLFinal{as_bytes("v=xyz")}, storage);
    EXPECT_EQ(as_chars(std::get<AuthenticationSASLFinal>(fin).data), "v=xyz");

    const auto gss = auth_round_trip(AuthenticationUnsupported{7}, storage);
    EXPECT_EQ(std::get<AuthenticationUnsupported>(gss).code, 7);
}

TEST(Authentication, RejectsUnknownCodesAndTruncation) {
    Authentication out;
    const std::uint8_t unknown[] = {0, 0, 0, 99};
    EXPECT_FALSE(decode(unknown, out).ok());
    const std::uint8_t short_salt[] = {0, 0, 0, 5, 1, 2};
    EXPECT_FALSE(decode(short_salt, out).ok());
    const std::uint8_t unterminated_list[] = {0, 0, 0, 10, 'S', 'C', 0};
    EXPECT_FALSE(decode(unterminated_list, out).ok());
    const std::uint8_t ok_with_extra[] = {0, 0, 0, 0, 1};
    EXPECT_FALSE(decode(ok_with_extra, out).ok());
}

TEST(SessionStatus, RoundTrips) {
    std::string storage;
    const auto ps = round_trip(ParameterStatus{"TimeZone", "UTC"}, storage);
    EXPECT_EQ(ps.name, "TimeZone");
    EXPECT_EQ(ps.value, "UTC");
    expect_prefixes_rejected(ParameterStatus{"a", "b"});

    const auto key = round_trip(BackendKeyData{1234, -99}, storage);
    EXPECT_EQ(key.process_id, 1234);
    EXPECT_EQ(key.secret_key, -99);
    expect_prefixes_rejected(BackendKeyData{1, 2});

    for (auto status :
         {TransactionStatus::Idle, TransactionStatus::InTransaction, TransactionStatus::Failed}) {
        EXPECT_EQ(round_trip(ReadyForQuery{status}, storage).status, status);
    }
    expect_prefixes_rejected(ReadyForQuery{});
    ReadyForQuery rfq;
    const std::uint8_t bad_status[] = {'X'};
    EXPECT_FALSE(decode(bad_status, rfq).ok());

    const auto n = round_trip(NotificationResponse{77, "jobs", "{\"id\":1}"}, storage);
    EXPECT_EQ(n.process_id, 77);
    EXPECT_EQ(n.channel, "jobs");
    EXPECT_EQ(n.payload, "{\"id\":1}");
    expect_prefixes_rejected(NotificationResponse{1, "c", "p"});
}

TEST(ErrorResponse, RoundTripsAllFields) {
    ErrorResponse msg;
    msg.fields = {{'S', "ERREUR"},
                  {'V', "ERROR"},
                  {'C', "42P01"},
                  {'M', "missing"},
                  {'D', "detail"},
                  {'H', "hint"},
                  {'P', "15"},
                  {'p', "3"},
                  {'q', "internal"},
                  {'W', "context"},
                  {'s', "public"},
                  {'t', "orders"},
                  {'c', "id"},
                  {'d', "int4"},
                  {'n', "orders_pkey"},
                  {'F', "parse.c"},
                  {'L', "1180"},
                  {'R', "parserOpenTable"},
                  {'Z', "future field code"}};
    std::string storage;
    const ErrorResponse out = round_trip(msg, storage);
    ASSERT_EQ(out.fields.size(), msg.fields.size());
    EXPECT_EQ(out.severity(), "ERROR") << "the non-localized severity wins";
    EXPECT_EQ(out.sqlstate(), sqlstate::kUndefinedTable);
    EXPECT_EQ(out.message(), "missing");
    EXPECT_EQ(out.detail(), "detail");
    EXPECT_EQ(out.hint(), "hint");
    EXPECT_EQ(out.get(field::kTableName), "orders");
    EXPECT_EQ(out.get('Z'), "future field code");
    expect_prefixes_rejected(msg);

    NoticeResponse notice;
    notice.fields = {{'S', "NOTICE"}, {'C', "00000"}, {'M', "hello"}};
    const NoticeResponse n = round_trip(notice, storage);
    EXPECT_EQ(n.severity(), "NOTICE");
    EXPECT_EQ(n.message(), "hello");
}

TEST(ErrorBuilder, WritesSeverityBothWaysThenTheRest) {
    std::string storage;
    MessageWriter w(storage);
    ErrorBuilder(Severity::Fatal, sqlstate::kInvalidPassword,
                 "password authentication failed for user \"alice\"")
        .detail("no such user")
        .hint("check [[users]]")
        .position(7)
        .encode_error(w);
    const auto status = parse_frame(as_bytes(storage));
    ASSERT_TRUE(std::holds_alternative<Frame>(status));
    EXPECT_EQ(std::get<Frame>(status).type, 'E');
    ErrorResponse out;
    ASSERT_TRUE(decode(std::get<Frame>(status).body, out).ok());
    EXPECT_EQ(out.get(field::kSeverity), "FATAL");
    EXPECT_EQ(out.get(field::kSeverityNonLocalized), "FATAL");
    EXPECT_EQ(out.sqlstate(), "28P01");
    EXPECT_EQ(out.message(), "password authentication failed for user \"alice\"");
    EXPECT_EQ(out.detail(), "no such user");
    EXPECT_EQ(out.hint(), "check [[users]]");
    EXPECT_EQ(out.get(field::kPosition), "7");

    storage.clear();
    ErrorBuilder(Severity::Warning, "01000", "careful").encode_notice(w);
    EXPECT_EQ(storage[0], 'N');
    storage.clear();
    encode_error(w, Severity::Error, sqlstate::kFeatureNotSupported, "no");
    ASSERT_TRUE(decode(std::get<Frame>(parse_frame(as_bytes(storage))).body, out).ok());
    EXPECT_EQ(out.sqlstate(), "0A000");
    EXPECT_EQ(out.severity(), "ERROR");
}

TEST(RowDescription, RoundTrips) {
    RowDescription msg;
    msg.fields = {{"id", 16384, 1, 20, 8, -1, 0}, {"name", 0, 0, 25, -1, -1, 1}};
    std::string storage;
    const RowDescription out = round_trip(msg, storage);
    ASSERT_EQ(out.fields.size(), 2u);
    EXPECT_EQ(out.fields[0].name, "id");
    EXPECT_EQ(out.fields[0].table_oid, 16384u);
    EXPECT_EQ(out.fields[0].column_attr, 1);
    EXPECT_EQ(out.fields[0].type_oid, 20u);
    EXPECT_EQ(out.fields[0].type_size, 8);
    EXPECT_EQ(out.fields[1].type_size, -1);
    EXPECT_EQ(out.fields[1].type_modifier, -1);
    EXPECT_EQ(out.fields[1].format, 1);
    expect_prefixes_rejected(msg);
}

TEST(DataRow, RoundTripsNullAndEmpty) {
    DataRow msg;
    msg.columns = {as_bytes("42"), std::nullopt, as_bytes("")};
    std::string storage;
    const DataRow out = round_trip(msg, storage);
    ASSERT_EQ(out.columns.size(), 3u);
    EXPECT_EQ(as_chars(*out.columns[0]), "42");
    EXPECT_FALSE(out.columns[1].has_value());
    ASSERT_TRUE(out.columns[2].has_value());
    EXPECT_TRUE(out.columns[2]->empty());
    expect_prefixes_rejected(msg);
    const std::uint8_t column_past_end[] = {0, 1, 0, 0, 0, 9, 'a'};
    DataRow bad;
    EXPECT_FALSE(decode(column_past_end, bad).ok());
}

TEST(CommandComplete, RoundTrips) {
    std::string storage;
    EXPECT_EQ(round_trip(CommandComplete{"INSERT 0 5"}, storage).tag, "INSERT 0 5");
    expect_prefixes_rejected(CommandComplete{"BEGIN"});
}

TEST(ExtendedReplies, RoundTrip) {
    std::string storage;
    round_trip(ParseComplete{}, storage);
    round_trip(BindComplete{}, storage);
    round_trip(CloseComplete{}, storage);
    round_trip(NoData{}, storage);
    round_trip(PortalSuspended{}, storage);
    round_trip(EmptyQueryResponse{}, storage);
    const auto pd = round_trip(ParameterDescription{{23, 25, 0}}, storage);
    EXPECT_EQ(pd.type_oids, (std::vector<std::uint32_t>{23, 25, 0}));
    expect_prefixes_rejected(ParameterDescription{{23}});
}

TEST(CopyResponses, RoundTripWithTheirOwnType) {
    std::string storage;
    const auto in = round_trip(CopyInResponse{0, {0, 0}}, storage);
    EXPECT_EQ(in.column_formats.size(), 2u);
    const auto out = round_trip(CopyOutResponse{1, {1, 1, 1}}, storage);
    EXPECT_EQ(out.format, 1);
    EXPECT_EQ(out.column_formats, (std::vector<std::int16_t>{1, 1, 1}));
    round_trip(CopyBothResponse{0, {}}, storage);
    expect_prefixes_rejected(CopyOutResponse{0, {0}});
}

TEST(NegotiateProtocolVersion, RoundTrips) {
    std::string storage;
    const auto out = round_trip(NegotiateProtocolVersion{0, {"_pq_.compression"}}, storage);
    EXPECT_EQ(out.newest_minor, 0);
    EXPECT_EQ(out.unrecognized, (std::vector<std::string_view>{"_pq_.compression"}));
    expect_prefixes_rejected(NegotiateProtocolVersion{0, {"_pq_.x"}});
}

}  // namespace
}  // namespace sg::wire
