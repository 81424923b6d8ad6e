#include "proxy/core/startup_machine.h"

#include "common/sqlstate.h"
#include "proxy/wire/frame.h"

namespace sg::proxy::core {

StartupStep StartupMachine::finish(size_t consumed, StartupAction action) {
    state_ = Done{};
    return {consumed, std::move(action)};
}

StartupStep StartupMachine::step(std::string_view input) {
    if (done()) return {0, startup::Close{}};
    auto st = wire::parse_startup_frame(wire::as_bytes(input));
    if (auto* need = std::get_if<wire::NeedMore>(&st))
        return {0, startup::NeedMore{need->at_least}};
    if (auto* bad = std::get_if<wire::Malformed>(&st))
        return finish(0, startup::Fatal{sqlstate::kProtocolViolation,
                                        "invalid startup packet: " + std::string(bad->reason)});
    const auto& f = std::get<wire::StartupFrame>(st);
    switch (f.kind) {
        case wire::StartupKind::SslRequest:
            // Bytes pipelined behind SSLRequest were sent before the client knew whether TLS
            // would be used; read as plaintext they would be a man-in-the-middle's injection
            // (CVE-2021-23222): refused as PostgreSQL refuses them, whatever the answer.
            if (f.size != input.size())
                return finish(f.size,
                              startup::Fatal{sqlstate::kProtocolViolation,
                                             "received unencrypted data after SSL request"});
            if (!tls_offered_ || std::holds_alternative<Encrypted>(state_))
                return {f.size, startup::AnswerByte{wire::kSslRefused}};
            return {f.size, startup::StartTls{}};
        case wire::StartupKind::GssEncRequest:
            return {f.size, startup::AnswerByte{wire::kSslRefused}};
        case wire::StartupKind::CancelRequest: {
            wire::CancelRequest c;
            if (!wire::decode(f, c).ok()) return finish(f.size, startup::Close{});
            return finish(f.size, startup::Cancel{c.process_id, c.secret_key});
        }
        case wire::StartupKind::UnsupportedProtocol:
            return finish(f.size, startup::Fatal{sqlstate::kFeatureNotSupported,
                                                 wire::unsupported_protocol_message(f.code)});
        case wire::StartupKind::Startup: {
            startup::Login login;
            if (!wire::decode(f, login.message).ok())
                return finish(
                    f.size, startup::Fatal{sqlstate::kProtocolViolation, "invalid startup packet"});
            if (login.message.user().empty())
                return finish(f.size, startup::Fatal{sqlstate::kInvalidAuthorizationSpecification,
                                                     "no PostgreSQL user name specified in startup "
                                                     "packet"});
            return finish(f.size, std::move(login));
        }
    }
    return finish(f.size, startup::Fatal{sqlstate::kProtocolViolation, "invalid startup packet"});
}

}  // namespace sg::proxy::core
