// The proxy authenticating a client, for one login: a sans-io state machine over the startup
// phase's authentication messages. It writes Authentication* requests into a MessageWriter and
// consumes the bodies of the client's 'p' messages; the session only moves bytes.
//
// Method resolution follows PostgreSQL: "md5" with only a SCRAM secret uses SCRAM instead
// (MD5 cannot be computed from it); "scram-sha-256" with only an MD5 hash cannot succeed. Users
// that are unknown, or cannot use the method, go through a mock exchange that fails at the end,
// so a client cannot tell "no such user" from "wrong password".
#pragma once

#include <optional>
#include <string>

#include "common/config.h"
#include "proxy/auth/auth_step.h"
#include "proxy/auth/credential.h"
#include "proxy/auth/md5_password.h"
#include "proxy/auth/scram_server.h"
#include "proxy/wire/bytes.h"
#include "proxy/wire/writer.h"

namespace sg::auth {

class ServerAuth {
public:
    // `credential` is null for a user not in the configuration. It must outlive this object.
    ServerAuth(AuthMethod method, std::string user, const Credential* credential);

    // Writes the first request: AuthenticationSASL, AuthenticationMD5Password, or for trust
    // AuthenticationOk (Success at once).
    AuthStep start(wire::MessageWriter& out);
    // Consumes the body of a client 'p' message; writes the next request, or on Success the
    // last SCRAM message followed by AuthenticationOk.
    AuthStep on_message(wire::Bytes body, wire::MessageWriter& out);

    // The FATAL ErrorResponse for a failed step, worded as PostgreSQL words it (28P01
    // "password authentication failed for user \"x\"" for a wrong password).
    void encode_failure(const AuthStep& step, wire::MessageWriter& out) const;

    const std::string& user() const { return user_; }

private:
    enum class State { Initial, AwaitMd5Password, AwaitSaslInitial, AwaitSaslResponse, Done };

    AuthStep start_md5(wire::MessageWriter& out);
    AuthStep start_scram(wire::MessageWriter& out);
    AuthStep on_md5_password(wire::Bytes body, wire::MessageWriter& out);
    AuthStep on_sasl_initial(wire::Bytes body, wire::MessageWriter& out);
    AuthStep on_sasl_response(wire::Bytes body, wire::MessageWriter& out);
    AuthStep finish(AuthStep step);

    AuthMethod method_;
    std::string user_;
    const Credential* credential_;
    State state_ = State::Initial;
    Md5Salt md5_salt_{};
    std::optional<ScramServer> scram_;
};

}  // namespace sg::auth
