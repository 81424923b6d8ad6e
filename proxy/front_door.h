// The front door's refusals: a client beyond max_client_conn gets its ErrorResponse the way
// PostgreSQL's postmaster sends it, after reading what the client sends first (an SSLRequest
// or GSSENCRequest is answered 'N', so libpq's default sslmode=prefer reads the error instead
// of failing "during SSL exchange"); and the accept loop's policy when the process is out of
// file descriptors.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "proxy/net.h"

namespace sg::proxy {

// Reads the client's startup packet (answering 'N' to SSL/GSS encryption requests first),
// sends `error_frames` and closes; the whole exchange is bounded by `timeout`.
net::awaitable<void> refuse_connection(net::tcp::socket sock, std::string error_frames,
                                       std::chrono::milliseconds timeout);

// How long the accept loop pauses after `ec`: out of descriptors or memory (EMFILE, ENFILE,
// ENOBUFS, ENOMEM) leaves the connection in the backlog, so accepting again at once would spin.
// nullopt for other errors (the next accept is tried at once).
std::optional<std::chrono::milliseconds> accept_backoff(const net::error_code& ec);

}  // namespace sg::proxy
