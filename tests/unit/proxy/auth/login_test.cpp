// Whole logins at the message level: the proxy's ServerAuth (facing a client) against its
// ClientAuth (facing a shard), connected through encoded frames exactly as on a socket.
#include <gtest/gtest.h>

#include <variant>

#include "proxy/auth/client_auth.h"
#include "proxy/auth/server_auth.h"
#include "proxy/wire/frame.h"
#include "proxy/wire/messages.h"

namespace sg::auth {
namespace {

constexpr std::string_view kPencilVerifier =
    "SCRAM-SHA-256$4096:/WzzZZWRYFe+oqPkGQXobQ==$ztURsvJp8s/rSMLdFnI8P/EhxcYcAYaJc0yBRFGMWSs=:"
    "NtjKL7hnr0Pi6zSzmL6vVpyIOddKScnO04Ryl041y7o=";

std::vector<wire::Frame> frames_of(const std::string& buffer) {
    std::vector<wire::Frame> frames;
    wire::Bytes rest = wire::as_bytes(buffer);
    while (!rest.empty()) {
        const auto status = wire::parse_frame(rest);
        EXPECT_TRUE(std::holds_alternative<wire::Frame>(status));
        if (!std::holds_alternative<wire::Frame>(status)) break;
        frames.push_back(std::get<wire::Frame>(status));
        rest = rest.subspan(frames.back().size);
    }
    return frames;
}

struct Login {
    AuthStep server_step;  // the proxy-as-server's last step
    AuthStep client_step;  // the proxy-as-client's last step
    std::vector<std::string> request_kinds;
    std::string error_message;  // the ErrorResponse a failing client would see
};

// Drives both machines until one finishes or fails.
Login login(AuthMethod method, const Credential* credential, std::string_view password,
            std::string user = "alice") {
    ServerAuth server(method, user, credential);
    ClientAuth client(user, std::string(password));
    Login result;
    std::string to_client, to_server;
    wire::MessageWriter server_out(to_client), client_out(to_server);
    result.server_step = server.start(server_out);
    for (int round = 0; round < 10; ++round) {
        if (result.server_step.failed()) {
            to_client.clear();
            server.encode_failure(result.server_step, server_out);
            wire::ErrorResponse error;
            EXPECT_TRUE(wire::decode(frames_of(to_client).at(0).body, error).ok());
            result.error_message = error.message();
            return result;
        }
        for (const wire::Frame& frame : frames_of(to_client)) {
            EXPECT_EQ(frame.type, wire::be::kAuthenticationRequest);
            wire::Authentication request;
            EXPECT_TRUE(wire::decode(frame.body, request).ok());
            result.request_kinds.push_back(std::to_string(request.index()));
            result.client_step = client.on_request(request, client_out);
            if (result.client_step.failed()) return result;
        }
        to_client.clear();
        if (result.server_step.status == AuthStatus::Success) return result;
        for (const wire::Frame& frame : frames_of(to_server)) {
            EXPECT_EQ(frame.type, wire::fe::kPasswordMessage);
            result.server_step = server.on_message(frame.body, server_out);
        }
        to_server.clear();
    }
    ADD_FAILURE() << "login did not finish";
    return result;
}

Credential credential(std::string_view user, std::string_view configured) {
    Credential c;
    EXPECT_TRUE(parse_credential(user, configured, c).ok());
    return c;
}

void expect_success(const Login& l) {
    EXPECT_EQ(l.server_step.status, AuthStatus::Success) << l.server_step.reason;
    EXPECT_EQ(l.client_step.status, AuthStatus::Success) << l.client_step.reason;
}

void expect_wrong_password(const Login& l, std::string_view user = "alice") {
    EXPECT_EQ(l.server_step.status, AuthStatus::Failure);
    EXPECT_EQ(l.server_step.sqlstate, sqlstate::kInvalidPassword);
    EXPECT_EQ(l.error_message,
              "password authentication failed for user \"" + std::string(user) + "\"");
}

TEST(Login, ScramWithAPlainPassword) {
    const Credential c = credential("alice", "pencil");
    const Login l = login(AuthMethod::ScramSha256, &c, "pencil");
    expect_success(l);
    EXPECT_EQ(l.request_kinds, (std::vector<std::string>{"3", "4", "5", "0"}));
    expect_wrong_password(login(AuthMethod::ScramSha256, &c, "pencil!"));
}

TEST(Login, ScramWithPostgreSQLsVerifier) {
    const Credential c = credential("alice", kPencilVerifier);
    expect_success(login(AuthMethod::ScramSha256, &c, "pencil"));
    expect_wrong_password(login(AuthMethod::ScramSha256, &c, "Pencil"));
}

TEST(Login, Md5WithAPlainPasswordOrItsHash) {
    const Credential plain = credential("md5user", "md5secret");
    expect_success(login(AuthMethod::Md5, &plain, "md5secret", "md5user"));
    const Credential hashed = credential("md5user", "md51df59ed3db2d942a46e855424bbafc45");
    const Login l = login(AuthMethod::Md5, &hashed, "md5secret", "md5user");
    expect_success(l);
    EXPECT_EQ(l.request_kinds, (std::vector<std::string>{"2", "0"}));
    // A shard password configured as PostgreSQL's hash is enough for MD5 (as in pgbouncer).
    expect_success(
        login(AuthMethod::Md5, &hashed, "md51df59ed3db2d942a46e855424bbafc45", "md5user"));
    expect_wrong_password(login(AuthMethod::Md5, &hashed, "nope", "md5user"), "md5user");
}

TEST(Login, Md5MethodWithOnlyAScramSecretUsesScram) {
    const Credential c = credential("alice", kPencilVerifier);
    const Login l = login(AuthMethod::Md5, &c, "pencil");
    expect_success(l);
    EXPECT_EQ(l.request_kinds.front(), "3") << "AuthenticationSASL, as PostgreSQL does";
}

TEST(Login, ScramMethodWithOnlyAnMd5HashCannotSucceed) {
    const Credential c = credential("alice", "md5" + std::string(32, 'a'));
    expect_wrong_password(login(AuthMethod::ScramSha256, &c, "anything"));
}

TEST(Login, UnknownUsersLookLikeWrongPasswords) {
    expect_wrong_password(login(AuthMethod::ScramSha256, nullptr, "pencil", "ghost"), "ghost");
    expect_wrong_password(login(AuthMethod::Md5, nullptr, "pencil", "ghost"), "ghost");
}

TEST(Login, TrustSucceedsAtOnce) {
    const Login l = login(AuthMethod::Trust, nullptr, "");
    expect_success(l);
    EXPECT_EQ(l.request_kinds, (std::vector<std::string>{"0"}));
}

TEST(Credential, RejectsAMangledVerifier) {
    Credential c;
    EXPECT_FALSE(parse_credential("alice", "SCRAM-SHA-256$4096:bad", c).ok());
    EXPECT_TRUE(parse_credential("alice", "SCRAM-SHA-256", c).ok()) << "just a password";
}

std::string sasl_initial(std::string_view mechanism, std::optional<std::string_view> data) {
    std::string out;
    wire::MessageWriter w(out);
    wire::encode(
        wire::SASLInitialResponse{
            mechanism, data ? std::optional<wire::Bytes>(wire::as_bytes(*data)) : std::nullopt},
        w);
    return out.substr(wire::kFrameHeaderSize);
}

TEST(ServerAuth, ProtocolViolationsAre08P01) {
    const Credential c = credential("alice", kPencilVerifier);
    struct Case {
        std::string body;
        std::string_view what;
    };
    const Case cases[] = {
        {sasl_initial("SCRAM-SHA-256-PLUS", "p=tls-server-end-point,,n=,r=a"), "-PLUS"},
        {sasl_initial("SCRAM-SHA-1", "n,,n=,r=a"), "other mechanism"},
        {sasl_initial("SCRAM-SHA-256", std::nullopt), "no initial response"},
        {sasl_initial("SCRAM-SHA-256", "n,a=root,n=,r=a"), "authzid"},
        {std::string("SCRAM-SHA-256", 13), "truncated"},
    };
    for (const Case& c_ : cases) {
        ServerAuth server(AuthMethod::ScramSha256, "alice", &c);
        std::string out;
        wire::MessageWriter w(out);
        ASSERT_EQ(server.start(w).status, AuthStatus::Continue);
        const AuthStep step = server.on_message(wire::as_bytes(c_.body), w);
        EXPECT_EQ(step.status, AuthStatus::Failure) << c_.what;
        EXPECT_EQ(step.sqlstate, sqlstate::kProtocolViolation) << c_.what;
    }
}

TEST(ServerAuth, NoMessagesBeforeStartOrAfterTheEnd) {
    ServerAuth server(AuthMethod::Trust, "alice", nullptr);
    std::string out;
    wire::MessageWriter w(out);
    EXPECT_TRUE(server.on_message(wire::as_bytes(std::string_view("pw\0", 3)), w).failed());
    ServerAuth trusted(AuthMethod::Trust, "alice", nullptr);
    ASSERT_EQ(trusted.start(w).status, AuthStatus::Success);
    EXPECT_TRUE(trusted.on_message(wire::as_bytes(std::string_view("pw\0", 3)), w).failed());
}

TEST(ClientAuth, RefusesAServerThatSkipsTheScramProof) {
    ClientAuth client("alice", "pencil", "nonce");
    std::string out;
    wire::MessageWriter w(out);
    ASSERT_EQ(client.on_request(wire::AuthenticationSASL{{"SCRAM-SHA-256"}}, w).status,
              AuthStatus::Continue);
    EXPECT_TRUE(client.on_request(wire::AuthenticationOk{}, w).failed());
}

TEST(ClientAuth, AnswersCleartextAndRefusesWhatItCannotDo) {
    std::string out;
    wire::MessageWriter w(out);
    ClientAuth client("alice", "pw");
    ASSERT_EQ(client.on_request(wire::AuthenticationCleartextPassword{}, w).status,
              AuthStatus::Continue);
    EXPECT_EQ(out, std::string("p\0\0\0\x07pw\0", 8));
    EXPECT_EQ(client.on_request(wire::AuthenticationOk{}, w).status, AuthStatus::Success);

    EXPECT_TRUE(
        ClientAuth("alice", "pw").on_request(wire::AuthenticationUnsupported{7}, w).failed());
    EXPECT_TRUE(ClientAuth("alice", "pw")
                    .on_request(wire::AuthenticationSASL{{"SCRAM-SHA-256-PLUS"}}, w)
                    .failed());
    EXPECT_TRUE(ClientAuth("alice", "")
                    .on_request(wire::AuthenticationMD5Password{{1, 2, 3, 4}}, w)
                    .failed());
    EXPECT_TRUE(ClientAuth("alice", "md5" + std::string(32, 'b'))
                    .on_request(wire::AuthenticationSASL{{"SCRAM-SHA-256"}}, w)
                    .failed())
        << "SCRAM needs the plain password";
}

}  // namespace
}  // namespace sg::auth
