// The startup phase of the session core, driven by byte fixtures: the packets libpq, pgjdbc
// and hostile clients open a connection with.
#include "proxy/core/startup_machine.h"

#include <gtest/gtest.h>

#include <string>

#include "byte_fixtures.h"

namespace sg::proxy::core {
namespace {

using fixtures::be32;

// An untyped startup packet: length (counting itself), code, body.
std::string packet(uint32_t code, std::string_view body = {}) {
    return be32(uint32_t(8 + body.size())) + be32(code) + std::string(body);
}
std::string startup_message(std::string_view params) {
    return packet(196608, std::string(params) + '\0');  // protocol 3.0
}
const std::string kSslRequest = packet(80877103);
const std::string kGssEncRequest = packet(80877104);

template <class T>
const T& as(const StartupStep& s) {
    EXPECT_TRUE(std::holds_alternative<T>(s.action));
    return std::get<T>(s.action);
}

TEST(StartupMachine, AStartupMessageLogsIn) {
    StartupMachine m(false);
    const std::string p = startup_message(std::string("user\0alice\0database\0app\0", 24));
    auto s = m.step(p);
    EXPECT_EQ(s.consumed, p.size());
    const auto& login = as<startup::Login>(s);
    EXPECT_EQ(login.message.user(), "alice");
    EXPECT_EQ(login.message.database(), "app");
    EXPECT_TRUE(m.done());
}

TEST(StartupMachine, TheDatabaseDefaultsToTheUser) {
    StartupMachine m(false);
    const std::string p = startup_message(std::string("user\0bob\0", 9));  // (Login views it)
    auto s = m.step(p);
    EXPECT_EQ(as<startup::Login>(s).message.database(), "bob");
}

TEST(StartupMachine, APartialPacketWaits) {
    StartupMachine m(false);
    const std::string p = startup_message(std::string("user\0alice\0", 11));
    auto s = m.step(std::string_view(p).substr(0, 6));
    EXPECT_EQ(s.consumed, 0u);
    EXPECT_TRUE(std::holds_alternative<startup::NeedMore>(s.action));
    s = m.step(std::string_view(p).substr(0, 10));
    EXPECT_EQ(as<startup::NeedMore>(s).at_least, p.size());
}

TEST(StartupMachine, SslRequestWithoutACertificateIsRefusedAndLoginFollows) {
    // libpq's sslmode=prefer: SSLRequest, 'N', then the StartupMessage in plain text.
    StartupMachine m(false);
    auto s = m.step(kSslRequest);
    EXPECT_EQ(as<startup::AnswerByte>(s).byte, 'N');
    EXPECT_FALSE(m.done());
    const std::string p = startup_message(std::string("user\0alice\0", 11));
    s = m.step(p);
    EXPECT_EQ(as<startup::Login>(s).message.user(), "alice");
}

TEST(StartupMachine, SslRequestWithACertificateStartsTlsOnce) {
    StartupMachine m(true);
    auto s = m.step(kSslRequest);
    EXPECT_TRUE(std::holds_alternative<startup::StartTls>(s.action));
    m.tls_established();
    s = m.step(kSslRequest);  // a second request inside TLS
    EXPECT_EQ(as<startup::AnswerByte>(s).byte, 'N');
}

TEST(StartupMachine, BytesPipelinedBehindSslRequestAreRefused) {
    // CVE-2021-23222: what follows SSLRequest before the answer must not be read as plaintext.
    StartupMachine m(true);
    auto s = m.step(kSslRequest + startup_message(std::string("user\0mallory\0", 13)));
    const auto& f = as<startup::Fatal>(s);
    EXPECT_STREQ(f.sqlstate, "08P01");
    EXPECT_EQ(f.message, "received unencrypted data after SSL request");
    EXPECT_TRUE(m.done());
}

TEST(StartupMachine, GssEncryptionIsDeclined) {
    // libpq (gssencmode=prefer) asks for GSS encryption first.
    StartupMachine m(true);
    EXPECT_EQ(as<startup::AnswerByte>(m.step(kGssEncRequest)).byte, 'N');
}

TEST(StartupMachine, ACancelRequestCarriesItsKey) {
    StartupMachine m(false);
    auto s = m.step(packet(80877102, be32(1234) + be32(0x7fffffff)));
    const auto& c = as<startup::Cancel>(s);
    EXPECT_EQ(c.process_id, 1234);
    EXPECT_EQ(c.secret_key, 0x7fffffff);
    EXPECT_TRUE(m.done());
}

TEST(StartupMachine, AShortCancelRequestIsMalformed) {
    // The requests have fixed sizes: anything else is not the request it claims to be.
    StartupMachine m(false);
    auto s = m.step(packet(80877102, be32(1234)));
    EXPECT_STREQ(as<startup::Fatal>(s).sqlstate, "08P01");
    EXPECT_TRUE(m.done());
}

TEST(StartupMachine, ProtocolTwoIsRefusedAsPostgreSQLWordsIt) {
    StartupMachine m(false);
    auto s = m.step(packet(0x00020000, std::string("user\0a\0\0", 8)));
    const auto& f = as<startup::Fatal>(s);
    EXPECT_STREQ(f.sqlstate, "0A000");
    EXPECT_NE(f.message.find("unsupported frontend protocol 2.0"), std::string::npos);
}

TEST(StartupMachine, NoUserIs28000) {
    StartupMachine m(false);
    auto s = m.step(startup_message(std::string("database\0app\0", 13)));
    const auto& f = as<startup::Fatal>(s);
    EXPECT_STREQ(f.sqlstate, "28000");
    EXPECT_EQ(f.message, "no PostgreSQL user name specified in startup packet");
}

TEST(StartupMachine, AHugeLengthIsMalformedAtOnce) {
    StartupMachine m(false);
    auto s = m.step(be32(1u << 30) + be32(196608));
    EXPECT_STREQ(as<startup::Fatal>(s).sqlstate, "08P01");
}

TEST(StartupMachine, AParameterWithoutValueIsInvalid) {
    StartupMachine m(false);
    auto s = m.step(startup_message(std::string("user\0alice\0application_name", 27)));
    EXPECT_STREQ(as<startup::Fatal>(s).sqlstate, "08P01");
}

}  // namespace
}  // namespace sg::proxy::core
