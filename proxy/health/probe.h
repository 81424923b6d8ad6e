// Talking to a shard with a bound: the empty-query check (pgbouncer's server_check_query) and
// a CancelRequest that gives up instead of hanging on a shard that stopped answering.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "proxy/server_conn.h"

namespace sg::proxy::health {

// Sends an empty Query on `s` (idle, not attached to anyone) and waits up to `timeout` for its
// ReadyForQuery. Returns "" when the shard answered, else why not. On failure the caller
// closes `s`: replies may still be owed on it.
awaitable<std::string> probe(ServerConn& s, std::chrono::milliseconds timeout);

// The same with a query of the monitor's own (`sql`, one statement): the values of its first
// row go to `row` (NULL as nullopt; empty when it returned none).
using ProbeRow = std::vector<std::optional<std::string>>;
awaitable<std::string> probe_query(ServerConn& s, std::string_view sql,
                                   std::chrono::milliseconds timeout, ProbeRow* row);

// Sends a CancelRequest for (pid, secret) to `target` on a connection of its own, abandoned
// after `timeout` (a frozen postmaster accepts TCP connections but never acts on them).
// Runs detached.
void send_cancel_bounded(net::asio::any_io_executor ex, const ServerTarget& target, int32_t pid,
                         int32_t secret, std::chrono::milliseconds timeout);

}  // namespace sg::proxy::health
