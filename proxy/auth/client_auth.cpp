#include "proxy/auth/client_auth.h"

#include <algorithm>

#include "proxy/auth/md5_password.h"
#include "proxy/auth/scram_secret.h"

namespace sg::auth {

namespace {

AuthStep cannot_authenticate(std::string_view reason) {
    return AuthStep::failure(sqlstate::kInvalidAuthorizationSpecification, reason);
}

}  // namespace

ClientAuth::ClientAuth(std::string user, std::string password, std::string scram_nonce)
    : user_(std::move(user)),
      password_(std::move(password)),
      scram_nonce_(std::move(scram_nonce)) {}

AuthStep ClientAuth::on_request(const wire::Authentication& request, wire::MessageWriter& out) {
    if (done_) return AuthStep::protocol_violation("authentication request after the end");
    const AuthStep step = std::visit([&](const auto& r) { return on(r, out); }, request);
    done_ = step.status != AuthStatus::Continue;
    return step;
}

AuthStep ClientAuth::on(const wire::AuthenticationOk&, wire::MessageWriter&) {
    if (scram_ && !scram_->server_verified()) {
        return cannot_authenticate("server ended SCRAM authentication without proving itself");
    }
    return AuthStep::success();
}

AuthStep ClientAuth::on(const wire::AuthenticationCleartextPassword&, wire::MessageWriter& out) {
    if (password_.empty()) return cannot_authenticate("server asked for a password, none set");
    if (is_md5_hash(password_)) {
        return cannot_authenticate("server asked for a cleartext password, only a hash is set");
    }
    wire::encode(wire::PasswordMessage{password_}, out);
    return AuthStep::next();
}

AuthStep ClientAuth::on(const wire::AuthenticationMD5Password& request, wire::MessageWriter& out) {
    if (password_.empty()) return cannot_authenticate("server asked for a password, none set");
    const auto hash = is_md5_hash(password_) ? std::optional<std::string>(password_)
                                             : md5_password_hash(user_, password_);
    const auto response = hash ? md5_salted_response(*hash, request.salt) : std::nullopt;
    if (!response) return AuthStep::failure(sqlstate::kInternalError, "MD5 failed");
    wire::encode(wire::PasswordMessage{*response}, out);
    return AuthStep::next();
}

AuthStep ClientAuth::on(const wire::AuthenticationSASL& request, wire::MessageWriter& out) {
    if (scram_) return AuthStep::protocol_violation("SASL exchange started twice");
    const auto& mechanisms = request.mechanisms;
    if (std::find(mechanisms.begin(), mechanisms.end(), kScramSha256) == mechanisms.end()) {
        return cannot_authenticate("server offers no supported SASL mechanism");
    }
    if (password_.empty() || is_md5_hash(password_)) {
        return cannot_authenticate("SCRAM-SHA-256 needs the plain password");
    }
    scram_.emplace(password_, scram_nonce_);
    const auto first = scram_->client_first();
    if (!first) return AuthStep::failure(sqlstate::kInternalError, "no random nonce");
    wire::encode(wire::SASLInitialResponse{kScramSha256, wire::as_bytes(*first)}, out);
    return AuthStep::next();
}

AuthStep ClientAuth::on(const wire::AuthenticationSASLContinue& request, wire::MessageWriter& out) {
    if (!scram_) return AuthStep::protocol_violation("SASLContinue before SASL");
    std::string client_final;
    const AuthStep step = scram_->on_server_first(wire::as_chars(request.data), client_final);
    if (step.failed()) return step;
    wire::encode(wire::SASLResponse{wire::as_bytes(client_final)}, out);
    return AuthStep::next();
}

AuthStep ClientAuth::on(const wire::AuthenticationSASLFinal& request, wire::MessageWriter&) {
    if (!scram_) return AuthStep::protocol_violation("SASLFinal before SASL");
    const AuthStep step = scram_->on_server_final(wire::as_chars(request.data));
    // The proof is checked; AuthenticationOk still has to arrive.
    return step.failed() ? step : AuthStep::next();
}

AuthStep ClientAuth::on(const wire::AuthenticationUnsupported&, wire::MessageWriter&) {
    return cannot_authenticate("server requested an unsupported authentication method");
}

}  // namespace sg::auth
