// Asio vocabulary shared by the network side, and the client stream that is either a plain
// TCP socket or TLS over it (decided once, during startup).
#pragma once

#include <utility>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <ctime>
#include <memory>
#include <optional>

#include "proxy/clock.h"

namespace sg::proxy {
class ReadinessService;
}

namespace sg::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
template <typename T>
using awaitable = asio::awaitable<T>;
using asio::use_awaitable;

// Errors are values on the data path: every async op is awaited through this token.
inline auto ec_token(error_code& ec) {
    return asio::redirect_error(asio::use_awaitable, ec);
}

// Writes as much of `bufs` as the socket takes now, without waiting: the bytes written (all of
// them, almost always, on a proxy's small messages). `ec` is set on an error other than "would
// block". Callers write the rest with write_rest(), which waits for the socket.
std::size_t send_now(int fd, const asio::const_buffer* bufs, std::size_t count, error_code& ec);

// Writes what send_now() left of `bufs` (skipping `done` bytes), waiting for the socket: the slow
// path of a write, taken only when the peer reads slower than the proxy writes.
awaitable<std::size_t> write_rest(tcp::socket& sock, const asio::const_buffer* bufs,
                                  std::size_t count, std::size_t done, error_code& ec);

// Writes all of `bufs` on a plain TCP socket, suspending only when the socket cannot take it
// at once (Asio's async_write always completes through the scheduler, even when its first
// send wrote everything: a coroutine round trip per message).
inline awaitable<std::size_t> write_plain(tcp::socket& sock, const asio::const_buffer* bufs,
                                          std::size_t count, error_code& ec) {
    ec = {};
    std::size_t n = send_now(sock.native_handle(), bufs, count, ec);
    if (ec) co_return n;
    std::size_t total = 0;
    for (std::size_t i = 0; i < count; ++i) total += bufs[i].size();
    if (n == total) co_return n;
    co_return n + co_await write_rest(sock, bufs, count, n, ec);
}

// A one-shot wake-up that coroutines on the same strand can wait for (a timer that is
// cancelled to notify). Asio 1.74 has no channels, and this is all the sessions need.
class Event {
public:
    explicit Event(asio::any_io_executor ex) : timer_(ex, Clock::time_point::max()) {}
    awaitable<void> wait() {
        error_code ec;
        co_await timer_.async_wait(ec_token(ec));
    }
    // Waits at most `d`; returns false on timeout.
    awaitable<bool> wait_for(Clock::duration d) {
        timer_.expires_after(d);
        error_code ec;
        co_await timer_.async_wait(ec_token(ec));
        bool notified = ec == asio::error::operation_aborted;
        timer_.expires_at(Clock::time_point::max());
        co_return notified;
    }
    void notify_all() { timer_.cancel(); }

private:
    asio::steady_timer timer_;
};

// The client side of a session: plain TCP until (and unless) the client asks for TLS.
// Plain reads go through proxy::ReadinessService (no speculative recv per message).
class ClientStream {
public:
    explicit ClientStream(tcp::socket s) : sock_(std::move(s)) {}
    ~ClientStream();
    ClientStream(const ClientStream&) = delete;
    ClientStream& operator=(const ClientStream&) = delete;

    tcp::socket& socket() { return tls_ ? tls_->next_layer() : sock_; }
    bool is_tls() const { return tls_ != nullptr; }

    // Switches to TLS; bytes already buffered by the caller must be empty (the protocol says
    // the client waits for 'S' before its ClientHello, and anything before that is refused).
    awaitable<error_code> start_tls(asio::ssl::context& ctx);

    awaitable<std::size_t> read_some(asio::mutable_buffer b, error_code& ec);

    // True when a read now would wait (plain TCP, drained): the caller may drop its buffer
    // and wait_readable() first, so idle clients hold no read buffer.
    bool would_wait() const;
    // read_some without suspending (plain TCP once registered): nullopt when it would wait.
    std::optional<std::size_t> try_read(asio::mutable_buffer b, error_code& ec);
    awaitable<void> wait_readable(error_code& ec);

    awaitable<void> write_all(asio::const_buffer b, error_code& ec) {
        if (tls_)
            co_await asio::async_write(*tls_, b, ec_token(ec));
        else
            co_await write_plain(sock_, &b, 1, ec);
    }

    // Wakes a pending read with operation_aborted and closes the socket.
    void close();
    // Whether wait_readable() really waits for the socket (plain TCP, registered with epoll):
    // only then can a watcher tell a closed peer from one that said nothing.
    bool watchable() const { return !tls_ && readiness_handle_ != 0; }
    // Wakes a pending wait_readable() with operation_aborted; the socket stays open.
    void cancel_wait();

private:
    void unregister();

    tcp::socket sock_;
    std::unique_ptr<asio::ssl::stream<tcp::socket>> tls_;
    proxy::ReadinessService* readiness_ = nullptr;
    uint64_t readiness_handle_ = 0;
    bool readiness_tried_ = false;
};

}  // namespace sg::net
