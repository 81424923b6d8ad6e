// SCRAM-SHA-256 verification of a client, PostgreSQL's flavour: mechanism "SCRAM-SHA-256"
// only (never -PLUS, so no channel binding; a client saying 'y' is fine since there is nothing
// to downgrade), the user name inside the exchange ignored (the startup packet names the
// user), authorization identities and mandatory extensions refused.
//
// Sans-io: each call takes the client's SCRAM text and writes the server's next SCRAM text;
// ServerAuth wraps these in Authentication messages.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "proxy/auth/auth_step.h"
#include "proxy/auth/scram_secret.h"

namespace sg::auth {

class ScramServer {
public:
    // `server_nonce` is appended to the client's nonce; empty means a fresh random one. Tests
    // pass a fixed nonce to replay known exchanges.
    explicit ScramServer(ScramSecret secret, std::string server_nonce = {});

    // For a user that does not exist or has no SCRAM secret: the exchange looks exactly like a
    // real one (the salt is derived from the user name, so it is stable across attempts) and
    // always fails at the proof, so clients cannot probe which users exist.
    static std::optional<ScramServer> for_unknown_user(std::string_view user);

    // client-first-message in, server-first-message out.
    AuthStep on_client_first(std::string_view message, std::string& server_first);
    // client-final-message in; on Success `server_final` holds the server's signature.
    AuthStep on_client_final(std::string_view message, std::string& server_final);

private:
    enum class State { AwaitClientFirst, AwaitClientFinal, Done };

    State state_ = State::AwaitClientFirst;
    ScramSecret secret_;
    bool always_fail_ = false;
    std::string server_nonce_;
    std::string nonce_;  // client nonce + server nonce
    std::string gs2_header_;
    std::string auth_message_prefix_;  // client-first-bare "," server-first ","
};

}  // namespace sg::auth
