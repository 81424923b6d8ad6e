// The proxy logging in to a PostgreSQL shard: answers each Authentication* request with the
// frontend message it calls for. Sans-io: the caller decodes the server's 'R' messages, feeds
// them here, and sends whatever was written.
//
// The password may be a plain password or, as with pgbouncer, PostgreSQL's "md5..." hash of it
// (enough for MD5, not for SCRAM). A server that ends a started SCRAM exchange with
// AuthenticationOk before proving its signature is refused: skipping the proof would let an
// impostor accept any login.
#pragma once

#include <optional>
#include <string>

#include "proxy/auth/auth_step.h"
#include "proxy/auth/scram_client.h"
#include "proxy/wire/messages/authentication.h"
#include "proxy/wire/writer.h"

namespace sg::auth {

class ClientAuth {
public:
    // `scram_nonce` empty means random; tests fix it.
    ClientAuth(std::string user, std::string password, std::string scram_nonce = {});

    // Continue: the answer (if any) is in `out`, wait for the next request. Success: the
    // server sent AuthenticationOk. Failure: give up on this connection.
    AuthStep on_request(const wire::Authentication& request, wire::MessageWriter& out);

private:
    AuthStep on(const wire::AuthenticationOk&, wire::MessageWriter& out);
    AuthStep on(const wire::AuthenticationCleartextPassword&, wire::MessageWriter& out);
    AuthStep on(const wire::AuthenticationMD5Password& request, wire::MessageWriter& out);
    AuthStep on(const wire::AuthenticationSASL& request, wire::MessageWriter& out);
    AuthStep on(const wire::AuthenticationSASLContinue& request, wire::MessageWriter& out);
    AuthStep on(const wire::AuthenticationSASLFinal& request, wire::MessageWriter& out);
    AuthStep on(const wire::AuthenticationUnsupported& request, wire::MessageWriter& out);

    std::string user_;
    std::string password_;
    std::string scram_nonce_;
    std::optional<ScramClient> scram_;
    bool done_ = false;
};

}  // namespace sg::auth
