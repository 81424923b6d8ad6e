// The answer of every authentication state machine to one input: keep going, done, or failed
// and why. The machines write what must be sent into a MessageWriter; the caller performs the
// I/O and, on Failure, sends the ErrorResponse and closes the connection.
#pragma once

#include <string_view>

#include "common/sqlstate.h"

namespace sg::auth {

enum class AuthStatus {
    Continue,  // output written (if any); feed the peer's next message
    Success,   // authenticated; the output ends with AuthenticationOk (server side)
    Failure,   // stop; nothing more may be exchanged with this peer
};

struct AuthStep {
    AuthStatus status = AuthStatus::Continue;
    // Failure only. sqlstate: 28P01 for a wrong password, 08P01 for a malformed exchange,
    // 28000 for a method that cannot be used. reason: static text for logs and error details;
    // it never contains a secret.
    std::string_view sqlstate;
    std::string_view reason;

    static constexpr AuthStep next() { return {}; }
    static constexpr AuthStep success() { return {AuthStatus::Success, {}, {}}; }
    static constexpr AuthStep failure(std::string_view sqlstate, std::string_view reason) {
        return {AuthStatus::Failure, sqlstate, reason};
    }
    static constexpr AuthStep protocol_violation(std::string_view reason) {
        return failure(sqlstate::kProtocolViolation, reason);
    }

    constexpr bool failed() const { return status == AuthStatus::Failure; }
};

}  // namespace sg::auth
