// The client's first packets, before authentication, as a machine without I/O.
//
// A connection starts with SSLRequest / GSSENCRequest (answered with one byte), a
// CancelRequest (acted on, never answered: the connection just closes) or the StartupMessage
// that names the user and database. The session's startup (proxy/session_startup.cpp) reads
// bytes, calls step() and carries the action out: the byte answers, the TLS handshake, the
// cancel, the FATAL error. Unit tests drive it with byte fixtures.
//
// State (one variant): Plain (nothing decided, no TLS), Encrypted (TLS is up: a second
// SSLRequest is refused with 'N' as PostgreSQL does), Done (a StartupMessage, a cancel or an
// error ended the phase).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "proxy/wire/messages/startup.h"

namespace sg::proxy::core {

namespace startup {
// Nothing whole yet: read more (`at_least` bytes in total, once a length is known).
struct NeedMore {
    size_t at_least;
};
// Answer this one byte ('N': no TLS / no GSS encryption here) and go on reading.
struct AnswerByte {
    char byte;
};
// Answer 'S', then run the TLS handshake; nothing is buffered behind the request.
struct StartTls {};
// A CancelRequest: ask the session with this key to cancel, then close without a reply.
struct Cancel {
    int32_t process_id;
    int32_t secret_key;
};
// The StartupMessage: its parameters are views into the input the step was given (valid
// until the caller's buffer changes); the user is never empty.
struct Login {
    wire::StartupMessage message;
};
// Close without a word (a cancel packet that does not decode).
struct Close {};
// Answer FATAL with this, then close.
struct Fatal {
    const char* sqlstate;
    std::string message;
};
}  // namespace startup

using StartupAction = std::variant<startup::NeedMore, startup::AnswerByte, startup::StartTls,
                                   startup::Cancel, startup::Login, startup::Close, startup::Fatal>;

struct StartupStep {
    size_t consumed;
    StartupAction action;
};

class StartupMachine {
public:
    // `tls_offered`: the proxy has a certificate (an SSLRequest may be accepted).
    explicit StartupMachine(bool tls_offered) : tls_offered_(tls_offered) {}

    StartupStep step(std::string_view input);

    // The TLS handshake succeeded (after StartTls).
    void tls_established() { state_ = Encrypted{}; }
    bool done() const { return std::holds_alternative<Done>(state_); }

private:
    struct Plain {};
    struct Encrypted {};
    struct Done {};
    StartupStep finish(size_t consumed, StartupAction action);

    std::variant<Plain, Encrypted, Done> state_;
    bool tls_offered_;
};

}  // namespace sg::proxy::core
