// A client that disconnects while its multi-shard statement runs must not leave the legs running
// on the shards to their end (a fan-out ran 35 minutes after its client left, issue 17). During
// a single-shard statement the session's coroutine reads from the client (replies are relayed
// from the server's reader), so it sees the EOF and cancels; during a fan-out it waits for the
// shards instead. ClientWatch covers that gap: it waits for the client's socket to become
// readable, and when a peek finds the peer closed (EOF or an error) it cancels every leg.
// Bytes from the client (a pipelined next request) end the watch and stay in the socket for the
// session to read. Plain TCP only: through TLS a readable socket says nothing about a close.
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>

#include "proxy/proxy.h"
#include "proxy/session.h"
#include "proxy/spawn.h"

namespace sg::proxy {

namespace asio = net::asio;

Session::ClientWatch::ClientWatch(Session& s) : s_(s) {
    // Requests already buffered: the client is there, and the session reads them next.
    if (s.client_watch_ || !s.stream_.watchable() || s.cstart_ < s.clen_) return;
    s.client_watch_ = owner_ = true;
    const uint64_t gen = ++s.client_watch_gen_;
    asio::co_spawn(
        s.proxy_.io(),
        [self = s.shared_from_this(), gen]() -> awaitable<void> {
            auto mine = [&] { return self->client_watch_ && self->client_watch_gen_ == gen; };
            // Started after its statement ended (a fast fan-out): the session may be reading the
            // client itself by now, and a socket has one reader. Leave it alone.
            if (!mine() || self->closing_) co_return;
            error_code ec;
            co_await self->stream_.wait_readable(ec);
            // Woken by ~ClientWatch (operation_aborted): the statement is over.
            if (ec || !mine() || self->closing_) co_return;
            self->client_watch_ = false;
            char byte;
            const ssize_t n =
                ::recv(self->stream_.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
            if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)))
                co_return;
            spdlog::info(
                "client {}: left during a statement: cancelling it on every shard it runs on",
                self->peer_);
            self->cancel_running();  // a fan-out's legs, or the one server of a read awaited for
                                     // its retry
        },
        LogUnhandled("session: client watch"));
}

Session::ClientWatch::~ClientWatch() {
    // The wait is woken with operation_aborted at once (the readiness slot is free again before
    // the session's next read), and the coroutine ends when it runs.
    if (!owner_ || !std::exchange(s_.client_watch_, false)) return;
    s_.stream_.cancel_wait();
}

}  // namespace sg::proxy
