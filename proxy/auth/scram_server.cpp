#include "proxy/auth/scram_server.h"

#include <array>

#include "proxy/auth/base64.h"
#include "proxy/auth/scram_messages.h"

namespace sg::auth {

namespace {

// A process-wide random key, so mock salts are stable per user but unpredictable.
const std::optional<std::array<std::uint8_t, 32>>& mock_key() {
    static const std::optional<std::array<std::uint8_t, 32>> key =
        []() -> std::optional<std::array<std::uint8_t, 32>> {
        std::array<std::uint8_t, 32> k{};
        if (!random_bytes(k)) return std::nullopt;
        return k;
    }();
    return key;
}

}  // namespace

ScramServer::ScramServer(ScramSecret secret, std::string server_nonce)
    : secret_(std::move(secret)), server_nonce_(std::move(server_nonce)) {}

std::optional<ScramServer> ScramServer::for_unknown_user(std::string_view user) {
    const auto& key = mock_key();
    if (!key) return std::nullopt;
    const auto digest = hmac_sha256(*key, wire::as_bytes(user));
    if (!digest) return std::nullopt;
    ScramSecret secret;
    secret.iterations = kDefaultScramIterations;
    secret.salt.assign(digest->begin(), digest->begin() + kScramSaltLength);
    ScramServer server(std::move(secret));
    server.always_fail_ = true;
    return server;
}

AuthStep ScramServer::on_client_first(std::string_view message, std::string& server_first) {
    if (state_ != State::AwaitClientFirst) {
        return AuthStep::protocol_violation("unexpected SCRAM client-first-message");
    }
    state_ = State::Done;  // any early return below ends the exchange
    ClientFirstMessage first;
    if (wire::Status s = parse_client_first(message, first); !s) {
        return AuthStep::protocol_violation(s.error());
    }
    if (server_nonce_.empty()) {
        auto nonce = make_nonce();
        if (!nonce) {
            return AuthStep::failure(sqlstate::kInternalError, "could not generate nonce");
        }
        server_nonce_ = std::move(*nonce);
    }
    nonce_.assign(first.nonce).append(server_nonce_);
    gs2_header_.assign(first.gs2_header);
    server_first = make_server_first(nonce_, base64_encode(secret_.salt), secret_.iterations);
    auth_message_prefix_.assign(first.bare).append(",").append(server_first).append(",");
    state_ = State::AwaitClientFinal;
    return AuthStep::next();
}

AuthStep ScramServer::on_client_final(std::string_view message, std::string& server_final) {
    if (state_ != State::AwaitClientFinal) {
        return AuthStep::protocol_violation("unexpected SCRAM client-final-message");
    }
    state_ = State::Done;
    ClientFinalMessage final_msg;
    if (wire::Status s = parse_client_final(message, final_msg); !s) {
        return AuthStep::protocol_violation(s.error());
    }
    if (final_msg.channel_binding != base64_encode(wire::as_bytes(gs2_header_))) {
        return AuthStep::protocol_violation(
            "unexpected SCRAM channel-binding attribute in client-final-message");
    }
    if (final_msg.nonce != nonce_) {
        return AuthStep::protocol_violation("malformed SCRAM message: nonce does not match");
    }

    const std::string auth_message = auth_message_prefix_ + std::string(final_msg.without_proof);
    const auto client_signature = hmac_sha256(secret_.stored_key, wire::as_bytes(auth_message));
    if (!client_signature) {
        return AuthStep::failure(sqlstate::kInternalError, "HMAC failed");
    }
    // ClientKey = ClientProof XOR ClientSignature; the proof holds iff H(ClientKey) = StoredKey.
    Sha256Digest client_key{};
    for (std::size_t i = 0; i < client_key.size(); ++i) {
        client_key[i] = final_msg.proof[i] ^ (*client_signature)[i];
    }
    const auto stored_key = sha256(client_key);
    if (!stored_key) return AuthStep::failure(sqlstate::kInternalError, "SHA-256 failed");
    if (!constant_time_equal(*stored_key, secret_.stored_key) || always_fail_) {
        return AuthStep::failure(sqlstate::kInvalidPassword, "SCRAM proof does not match");
    }

    const auto server_signature = hmac_sha256(secret_.server_key, wire::as_bytes(auth_message));
    if (!server_signature) {
        return AuthStep::failure(sqlstate::kInternalError, "HMAC failed");
    }
    server_final = "v=" + base64_encode(*server_signature);
    return AuthStep::success();
}

}  // namespace sg::auth
