#include "proxy/auth/server_auth.h"

#include "proxy/wire/messages/authentication.h"
#include "proxy/wire/messages/error_response.h"

namespace sg::auth {

ServerAuth::ServerAuth(AuthMethod method, std::string user, const Credential* credential)
    : method_(method), user_(std::move(user)), credential_(credential) {}

AuthStep ServerAuth::start(wire::MessageWriter& out) {
    if (state_ != State::Initial) return finish(AuthStep::protocol_violation("already started"));
    switch (method_) {
        case AuthMethod::Trust:
            wire::encode(wire::AuthenticationOk{}, out);
            return finish(AuthStep::success());
        case AuthMethod::Md5:
            // No MD5 hash but a SCRAM secret: PostgreSQL upgrades the exchange to SCRAM.
            if (credential_ != nullptr && credential_->md5_hash() == nullptr &&
                credential_->scram() != nullptr) {
                return start_scram(out);
            }
            return start_md5(out);
        case AuthMethod::ScramSha256:
            return start_scram(out);
    }
    return finish(AuthStep::failure(sqlstate::kInternalError, "unknown auth method"));
}

AuthStep ServerAuth::on_message(wire::Bytes body, wire::MessageWriter& out) {
    switch (state_) {
        case State::AwaitMd5Password:
            return on_md5_password(body, out);
        case State::AwaitSaslInitial:
            return on_sasl_initial(body, out);
        case State::AwaitSaslResponse:
            return on_sasl_response(body, out);
        case State::Initial:
        case State::Done:
            break;
    }
    return finish(AuthStep::protocol_violation("unexpected password message"));
}

AuthStep ServerAuth::start_md5(wire::MessageWriter& out) {
    if (!random_bytes(md5_salt_)) {
        return finish(AuthStep::failure(sqlstate::kInternalError, "no random salt"));
    }
    wire::encode(wire::AuthenticationMD5Password{md5_salt_}, out);
    state_ = State::AwaitMd5Password;
    return AuthStep::next();
}

AuthStep ServerAuth::start_scram(wire::MessageWriter& out) {
    const ScramSecret* secret = credential_ != nullptr ? credential_->scram() : nullptr;
    scram_ = secret != nullptr ? std::optional<ScramServer>(ScramServer(*secret))
                               : ScramServer::for_unknown_user(user_);
    if (!scram_) return finish(AuthStep::failure(sqlstate::kInternalError, "no random key"));
    wire::encode(wire::AuthenticationSASL{{kScramSha256}}, out);
    state_ = State::AwaitSaslInitial;
    return AuthStep::next();
}

AuthStep ServerAuth::on_md5_password(wire::Bytes body, wire::MessageWriter& out) {
    wire::PasswordMessage msg;
    if (wire::Status s = wire::decode(body, msg); !s) {
        return finish(AuthStep::protocol_violation(s.error()));
    }
    const std::string* hash = credential_ != nullptr ? credential_->md5_hash() : nullptr;
    const auto expected = hash != nullptr ? md5_salted_response(*hash, md5_salt_) : std::nullopt;
    if (!expected ||
        !constant_time_equal(wire::as_bytes(*expected), wire::as_bytes(msg.password))) {
        return finish(AuthStep::failure(sqlstate::kInvalidPassword, "MD5 password mismatch"));
    }
    wire::encode(wire::AuthenticationOk{}, out);
    return finish(AuthStep::success());
}

AuthStep ServerAuth::on_sasl_initial(wire::Bytes body, wire::MessageWriter& out) {
    wire::SASLInitialResponse msg;
    if (wire::Status s = wire::decode(body, msg); !s) {
        return finish(AuthStep::protocol_violation(s.error()));
    }
    if (msg.mechanism != kScramSha256) {
        return finish(AuthStep::protocol_violation(
            "client selected an invalid SASL authentication mechanism"));
    }
    if (!msg.data) {
        return finish(AuthStep::protocol_violation("SCRAM client-first-message missing"));
    }
    std::string server_first;
    const AuthStep step = scram_->on_client_first(wire::as_chars(*msg.data), server_first);
    if (step.failed()) return finish(step);
    wire::encode(wire::AuthenticationSASLContinue{wire::as_bytes(server_first)}, out);
    state_ = State::AwaitSaslResponse;
    return step;
}

AuthStep ServerAuth::on_sasl_response(wire::Bytes body, wire::MessageWriter& out) {
    wire::SASLResponse msg;
    if (wire::Status s = wire::decode(body, msg); !s) {
        return finish(AuthStep::protocol_violation(s.error()));
    }
    std::string server_final;
    const AuthStep step = scram_->on_client_final(wire::as_chars(msg.data), server_final);
    if (step.failed()) return finish(step);
    wire::encode(wire::AuthenticationSASLFinal{wire::as_bytes(server_final)}, out);
    wire::encode(wire::AuthenticationOk{}, out);
    return finish(AuthStep::success());
}

AuthStep ServerAuth::finish(AuthStep step) {
    state_ = State::Done;
    return step;
}

void ServerAuth::encode_failure(const AuthStep& step, wire::MessageWriter& out) const {
    if (step.sqlstate == sqlstate::kInvalidPassword) {
        wire::encode_error(out, wire::Severity::Fatal, step.sqlstate,
                           "password authentication failed for user \"" + user_ + "\"");
        return;
    }
    wire::encode_error(out, wire::Severity::Fatal,
                       step.sqlstate.empty() ? sqlstate::kProtocolViolation : step.sqlstate,
                       step.reason);
}

}  // namespace sg::auth
