// SCRAM-SHA-256 exchanges replayed byte for byte: the RFC 7677 test vector against the server
// side, and a transcript recorded from a real PostgreSQL 15 login against both sides.
#include <gtest/gtest.h>

#include "proxy/auth/base64.h"
#include "proxy/auth/scram_client.h"
#include "proxy/auth/scram_messages.h"
#include "proxy/auth/scram_server.h"

namespace sg::auth {
namespace {

ScramSecret secret_for(std::string_view password, std::string_view salt_b64) {
    const auto salt = base64_decode(salt_b64);
    EXPECT_TRUE(salt.has_value());
    const auto secret = derive_scram_secret(password, *salt, 4096);
    EXPECT_TRUE(secret.has_value());
    return *secret;
}

TEST(ScramServer, Rfc7677TestVector) {
    ScramServer server(secret_for("pencil", "W22ZaJ0SNY7soEsUEjb6gQ=="),
                       "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
    std::string server_first;
    ASSERT_EQ(server.on_client_first("n,,n=user,r=rOprNGfwEbeRWgbNEkqO", server_first).status,
              AuthStatus::Continue);
    EXPECT_EQ(server_first,
              "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,"
              "i=4096");
    std::string server_final;
    const AuthStep step = server.on_client_final(
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
        "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        server_final);
    ASSERT_EQ(step.status, AuthStatus::Success) << step.reason;
    EXPECT_EQ(server_final, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
}

// Recorded from PostgreSQL 15 for role "scramuser" (password "pencil"), our client nonce fixed.
constexpr std::string_view kPgVerifier =
    "SCRAM-SHA-256$4096:/WzzZZWRYFe+oqPkGQXobQ==$ztURsvJp8s/rSMLdFnI8P/EhxcYcAYaJc0yBRFGMWSs=:"
    "NtjKL7hnr0Pi6zSzmL6vVpyIOddKScnO04Ryl041y7o=";
constexpr std::string_view kPgClientNonce = "sgFixedClientNonce0123456";
constexpr std::string_view kPgServerNonce = "COUrKp7oe0dJ7fKr+VA09nb7";
constexpr std::string_view kPgClientFirst = "n,,n=,r=sgFixedClientNonce0123456";
constexpr std::string_view kPgServerFirst =
    "r=sgFixedClientNonce0123456COUrKp7oe0dJ7fKr+VA09nb7,s=/WzzZZWRYFe+oqPkGQXobQ==,i=4096";
constexpr std::string_view kPgClientFinal =
    "c=biws,r=sgFixedClientNonce0123456COUrKp7oe0dJ7fKr+VA09nb7,"
    "p=JUWN3sGhdVJfzgXhWQGPkMLQR4Rssr9Z/QelHulatxo=";
constexpr std::string_view kPgServerFinal = "v=nz2cg7Jxr6vS0E754MnB7rOKeSjX8SAeJmuKT3EQJCY=";

TEST(ScramClient, ReproducesTheLoginPostgreSQLAccepted) {
    ScramClient client("pencil", std::string(kPgClientNonce));
    EXPECT_EQ(client.client_first(), kPgClientFirst);
    std::string client_final;
    ASSERT_EQ(client.on_server_first(kPgServerFirst, client_final).status, AuthStatus::Continue);
    EXPECT_EQ(client_final, kPgClientFinal);
    EXPECT_EQ(client.on_server_final(kPgServerFinal).status, AuthStatus::Success);
    EXPECT_TRUE(client.server_verified());
}

TEST(ScramServer, AnswersAsPostgreSQLDid) {
    ScramServer server(*parse_scram_verifier(kPgVerifier), std::string(kPgServerNonce));
    std::string server_first, server_final;
    ASSERT_EQ(server.on_client_first(kPgClientFirst, server_first).status, AuthStatus::Continue);
    EXPECT_EQ(server_first, kPgServerFirst);
    ASSERT_EQ(server.on_client_final(kPgClientFinal, server_final).status, AuthStatus::Success);
    EXPECT_EQ(server_final, kPgServerFinal);
}

TEST(ScramClient, RejectsAForgedServerSignature) {
    ScramClient client("pencil", std::string(kPgClientNonce));
    (void)client.client_first();
    std::string client_final;
    ASSERT_EQ(client.on_server_first(kPgServerFirst, client_final).status, AuthStatus::Continue);
    const AuthStep step = client.on_server_final("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
    EXPECT_TRUE(step.failed());
    EXPECT_FALSE(client.server_verified());
}

TEST(ScramClient, RejectsAServerThatDoesNotExtendItsNonce) {
    ScramClient client("pencil", "abc");
    (void)client.client_first();
    std::string client_final;
    EXPECT_TRUE(client.on_server_first("r=xyz123,s=c2FsdA==,i=4096", client_final).failed());
    ScramClient again("pencil", "abc");
    (void)again.client_first();
    EXPECT_TRUE(again.on_server_first("r=abc,s=c2FsdA==,i=4096", client_final).failed())
        << "the server must add its own nonce";
}

TEST(ScramClient, ServerErrorIsAFailure) {
    ScramClient client("pencil", std::string(kPgClientNonce));
    (void)client.client_first();
    std::string client_final;
    ASSERT_FALSE(client.on_server_first(kPgServerFirst, client_final).failed());
    EXPECT_EQ(client.on_server_final("e=invalid-proof").sqlstate, sqlstate::kInvalidPassword);
}

struct Exchange {
    AuthStep first;
    AuthStep final;
    std::string server_final;
};

// Runs our client against our server with the given passwords.
Exchange run(std::string_view server_password, std::string_view client_password) {
    ScramServer server(*derive_scram_secret(server_password));
    ScramClient client{std::string(client_password)};
    Exchange ex;
    std::string server_first, client_final;
    ex.first = server.on_client_first(*client.client_first(), server_first);
    EXPECT_FALSE(client.on_server_first(server_first, client_final).failed());
    ex.final = server.on_client_final(client_final, ex.server_final);
    if (ex.final.status == AuthStatus::Success) {
        EXPECT_EQ(client.on_server_final(ex.server_final).status, AuthStatus::Success);
    }
    return ex;
}

TEST(ScramServer, AgainstOurClient) {
    EXPECT_EQ(run("s3cret", "s3cret").final.status, AuthStatus::Success);
    const Exchange wrong = run("s3cret", "guess");
    EXPECT_EQ(wrong.final.status, AuthStatus::Failure);
    EXPECT_EQ(wrong.final.sqlstate, sqlstate::kInvalidPassword);
    EXPECT_TRUE(wrong.server_final.empty()) << "no signature for a failed proof";
}

AuthStep client_first_step(std::string_view client_first) {
    ScramServer server(*parse_scram_verifier(kPgVerifier), "srv");
    std::string server_first;
    return server.on_client_first(client_first, server_first);
}

TEST(ScramServer, Gs2HeaderHandlingFollowsPostgreSQL) {
    EXPECT_EQ(client_first_step("n,,n=,r=abc").status, AuthStatus::Continue);
    EXPECT_EQ(client_first_step("y,,n=,r=abc").status, AuthStatus::Continue)
        << "'y' is fine: -PLUS is never offered, so there is nothing to downgrade";
    EXPECT_EQ(client_first_step("n,,n=ignored-user,r=abc").status, AuthStatus::Continue);
    EXPECT_EQ(client_first_step("n,,n=,r=abc,x=extension").status, AuthStatus::Continue);
    for (std::string_view bad : {"p=tls-server-end-point,,n=,r=abc", "n,a=admin,n=,r=abc",
                                 "x,,n=,r=abc", "n,,m=ext,n=,r=abc", "n,,r=abc", "n,,n=,r=",
                                 "n,,n=,r=a\x01"
                                 "b",
                                 "", "n,"}) {
        const AuthStep step = client_first_step(bad);
        EXPECT_EQ(step.status, AuthStatus::Failure) << bad;
        EXPECT_EQ(step.sqlstate, sqlstate::kProtocolViolation) << bad;
    }
}

TEST(ScramServer, ChannelBindingAttributeMustEchoTheGs2Header) {
    ScramServer server(*parse_scram_verifier(kPgVerifier), std::string(kPgServerNonce));
    std::string server_first, server_final;
    ASSERT_FALSE(server.on_client_first(kPgClientFirst, server_first).failed());
    std::string tampered(kPgClientFinal);
    tampered.replace(2, 4, "eSws");  // claims "y,," although the client sent "n,,"
    EXPECT_EQ(server.on_client_final(tampered, server_final).sqlstate,
              sqlstate::kProtocolViolation);
}

TEST(ScramServer, RejectsAWrongNonceAndMessagesOutOfOrder) {
    ScramServer server(*parse_scram_verifier(kPgVerifier), std::string(kPgServerNonce));
    std::string out;
    EXPECT_TRUE(server.on_client_final(kPgClientFinal, out).failed()) << "final before first";

    ScramServer other(*parse_scram_verifier(kPgVerifier), "differentServerNonce");
    ASSERT_FALSE(other.on_client_first(kPgClientFirst, out).failed());
    EXPECT_EQ(other.on_client_final(kPgClientFinal, out).sqlstate, sqlstate::kProtocolViolation);
    EXPECT_TRUE(other.on_client_first(kPgClientFirst, out).failed()) << "no second round";
}

TEST(ScramServer, UnknownUsersSeeAStableSaltAndAlwaysFail) {
    auto a = ScramServer::for_unknown_user("ghost");
    auto b = ScramServer::for_unknown_user("ghost");
    ASSERT_TRUE(a && b);
    std::string first_a, first_b;
    ASSERT_FALSE(a->on_client_first("n,,n=,r=abc", first_a).failed());
    ASSERT_FALSE(b->on_client_first("n,,n=,r=abc", first_b).failed());
    ServerFirstMessage pa, pb;
    ASSERT_TRUE(parse_server_first(first_a, pa).ok());
    ASSERT_TRUE(parse_server_first(first_b, pb).ok());
    EXPECT_EQ(pa.salt, pb.salt);
    EXPECT_EQ(pa.iterations, 4096);
}

}  // namespace
}  // namespace sg::auth
