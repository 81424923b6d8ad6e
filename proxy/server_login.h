// Logging in to a shard: TCP connect, StartupMessage, authentication (SCRAM-SHA-256, MD5,
// cleartext, trust), then ParameterStatus/BackendKeyData up to the first ReadyForQuery.
#pragma once

#include <map>
#include <string>

#include "proxy/net.h"
#include "proxy/server_conn.h"

namespace sg::proxy {

struct LoginResult {
    std::string error;             // empty on success
    std::string refused_sqlstate;  // the shard answered the login with this error (or 28000)
    int32_t backend_pid = 0;
    int32_t backend_secret = 0;
    std::map<std::string, std::string> parameters;
};

// Bounded by target.connect_timeout_ms. Bytes the shard sent after its first ReadyForQuery
// (none in practice) are left in `rbuf[0, rlen)`.
awaitable<LoginResult> login_to_server(net::tcp::socket& sock, const ServerTarget& target,
                                       std::string& rbuf, size_t& rlen);

}  // namespace sg::proxy
