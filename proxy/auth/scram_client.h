// SCRAM-SHA-256 as a client (the proxy logging in to a shard), the way libpq does it: no
// channel binding ("n,,"), an empty user name (the server takes it from the startup packet),
// and the server's signature verified before the login is trusted, so a server that does not
// know the secret cannot pretend the login succeeded.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "proxy/auth/auth_step.h"
#include "proxy/auth/crypto.h"

namespace sg::auth {

class ScramClient {
public:
    // `client_nonce` empty means a fresh random one; tests pass a fixed nonce.
    explicit ScramClient(std::string password, std::string client_nonce = {});

    // client-first-message (std::nullopt only if no random nonce could be made).
    std::optional<std::string> client_first();
    // server-first-message in, client-final-message out.
    AuthStep on_server_first(std::string_view message, std::string& client_final);
    // server-final-message in; Success only if the server proved it knows the secret.
    AuthStep on_server_final(std::string_view message);

    bool server_verified() const { return state_ == State::Verified; }

private:
    enum class State { Start, AwaitServerFirst, AwaitServerFinal, Verified, Done };

    State state_ = State::Start;
    std::string password_;
    std::string client_nonce_;
    std::string client_first_bare_;
    Sha256Digest expected_server_signature_{};
};

}  // namespace sg::auth
