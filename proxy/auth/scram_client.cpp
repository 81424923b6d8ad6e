#include "proxy/auth/scram_client.h"

#include "proxy/auth/base64.h"
#include "proxy/auth/scram_messages.h"
#include "proxy/auth/scram_secret.h"

namespace sg::auth {

namespace {

constexpr std::string_view kGs2Header = "n,,";
constexpr std::string_view kGs2HeaderBase64 = "biws";  // base64("n,,")

}  // namespace

ScramClient::ScramClient(std::string password, std::string client_nonce)
    : password_(std::move(password)), client_nonce_(std::move(client_nonce)) {}

std::optional<std::string> ScramClient::client_first() {
    if (client_nonce_.empty()) {
        auto nonce = make_nonce();
        if (!nonce) return std::nullopt;
        client_nonce_ = std::move(*nonce);
    }
    client_first_bare_ = "n=,r=" + client_nonce_;
    state_ = State::AwaitServerFirst;
    return std::string(kGs2Header) + client_first_bare_;
}

AuthStep ScramClient::on_server_first(std::string_view message, std::string& client_final) {
    if (state_ != State::AwaitServerFirst) {
        return AuthStep::protocol_violation("unexpected SCRAM server-first-message");
    }
    state_ = State::Done;
    ServerFirstMessage first;
    if (wire::Status s = parse_server_first(message, first); !s) {
        return AuthStep::protocol_violation(s.error());
    }
    // The server must extend our nonce, not replace it: that is what binds its answer to us.
    if (first.nonce.size() <= client_nonce_.size() || !first.nonce.starts_with(client_nonce_)) {
        return AuthStep::protocol_violation("SCRAM server nonce does not extend the client nonce");
    }
    const auto keys = derive_scram_keys(password_, first.salt, first.iterations);
    if (!keys) return AuthStep::failure(sqlstate::kInternalError, "SCRAM key derivation failed");

    std::string without_proof = "c=";
    without_proof.append(kGs2HeaderBase64).append(",r=").append(first.nonce);
    const std::string auth_message =
        client_first_bare_ + "," + std::string(message) + "," + without_proof;
    const auto client_signature = hmac_sha256(keys->stored_key, wire::as_bytes(auth_message));
    const auto server_signature = hmac_sha256(keys->server_key, wire::as_bytes(auth_message));
    if (!client_signature || !server_signature) {
        return AuthStep::failure(sqlstate::kInternalError, "HMAC failed");
    }
    Sha256Digest proof{};
    for (std::size_t i = 0; i < proof.size(); ++i) {
        proof[i] = keys->client_key[i] ^ (*client_signature)[i];
    }
    expected_server_signature_ = *server_signature;
    client_final = without_proof + ",p=" + base64_encode(proof);
    state_ = State::AwaitServerFinal;
    return AuthStep::next();
}

AuthStep ScramClient::on_server_final(std::string_view message) {
    if (state_ != State::AwaitServerFinal) {
        return AuthStep::protocol_violation("unexpected SCRAM server-final-message");
    }
    state_ = State::Done;
    ServerFinalMessage final_msg;
    if (wire::Status s = parse_server_final(message, final_msg); !s) {
        return AuthStep::protocol_violation(s.error());
    }
    if (!final_msg.signature) {
        return AuthStep::failure(sqlstate::kInvalidPassword, "server rejected SCRAM proof");
    }
    if (!constant_time_equal(*final_msg.signature, expected_server_signature_)) {
        return AuthStep::failure(sqlstate::kInvalidAuthorizationSpecification,
                                 "incorrect server signature");
    }
    state_ = State::Verified;
    return AuthStep::success();
}

}  // namespace sg::auth
