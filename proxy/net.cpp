#include "proxy/net.h"

#include "proxy/readiness.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <vector>

namespace sg::net {

std::size_t send_now(int fd, const asio::const_buffer* bufs, std::size_t count, error_code& ec) {
    ec = {};
    constexpr std::size_t kIov = 64;
    std::size_t total = 0;
    std::size_t i = 0, off = 0;  // the next byte to send: bufs[i], offset off
    while (i < count) {
        iovec iov[kIov];
        std::size_t k = 0, want = 0;
        for (std::size_t j = i; j < count && k < kIov; ++j) {
            std::size_t skip = j == i ? off : 0;
            if (bufs[j].size() == skip) continue;
            iov[k].iov_base = const_cast<char*>(static_cast<const char*>(bufs[j].data())) + skip;
            iov[k].iov_len = bufs[j].size() - skip;
            want += iov[k].iov_len;
            ++k;
        }
        if (k == 0) break;
        ssize_t n;
        if (k == 1) {
            n = ::send(fd, iov[0].iov_base, iov[0].iov_len, MSG_DONTWAIT | MSG_NOSIGNAL);
        } else {
            msghdr m{};
            m.msg_iov = iov;
            m.msg_iovlen = k;
            n = ::sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
        }
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                ec = error_code(errno, boost::system::system_category());
            break;
        }
        total += std::size_t(n);
        // Advance (i, off) past the n bytes just written.
        std::size_t left = std::size_t(n);
        while (i < count && left >= bufs[i].size() - off) {
            left -= bufs[i].size() - off;
            off = 0;
            ++i;
        }
        off += left;
        if (std::size_t(n) < want) break;  // the socket's buffer is full: the rest waits
    }
    return total;
}

awaitable<std::size_t> write_rest(tcp::socket& sock, const asio::const_buffer* bufs,
                                  std::size_t count, std::size_t done, error_code& ec) {
    std::vector<asio::const_buffer> rest;
    for (std::size_t i = 0; i < count; ++i) {
        if (done >= bufs[i].size()) {
            done -= bufs[i].size();
            continue;
        }
        rest.push_back(bufs[i] + done);
        done = 0;
    }
    auto awaited = co_await asio::async_write(sock, rest, ec_token(ec));
    co_return awaited;
}

ClientStream::~ClientStream() {
    unregister();
}

void ClientStream::unregister() {
    if (readiness_handle_) readiness_->remove(readiness_handle_, socket().native_handle());
    readiness_handle_ = 0;
}

awaitable<error_code> ClientStream::start_tls(asio::ssl::context& ctx) {
    unregister();  // TLS records are read through OpenSSL and Asio
    readiness_tried_ = true;
    tls_ = std::make_unique<asio::ssl::stream<tcp::socket>>(std::move(sock_), ctx);
    error_code ec;
    co_await tls_->async_handshake(asio::ssl::stream_base::server, ec_token(ec));
    co_return ec;
}

awaitable<std::size_t> ClientStream::read_some(asio::mutable_buffer b, error_code& ec) {
    if (tls_) {
        auto awaited = co_await tls_->async_read_some(b, ec_token(ec));
        co_return awaited;
    }
    if (!readiness_tried_) {
        readiness_tried_ = true;
        readiness_ = &proxy::ReadinessService::of(sock_.get_executor());
        readiness_handle_ = readiness_->add(sock_.native_handle());
    }
    if (readiness_handle_) {
        auto awaited =
            co_await readiness_->read_some(readiness_handle_, sock_.native_handle(), b, ec);
        co_return awaited;
    }
    auto awaited = co_await sock_.async_read_some(b, ec_token(ec));
    co_return awaited;
}

std::optional<std::size_t> ClientStream::try_read(asio::mutable_buffer b, error_code& ec) {
    if (tls_ || !readiness_handle_) return std::nullopt;
    return readiness_->try_read(readiness_handle_, sock_.native_handle(), b, ec);
}

bool ClientStream::would_wait() const {
    return !tls_ && readiness_handle_ && !readiness_->maybe_readable(readiness_handle_);
}

namespace {
awaitable<void> nothing_to_wait() {
    co_return;
}
}  // namespace

// Not a coroutine itself: the caller awaits the readiness wait directly.
awaitable<void> ClientStream::wait_readable(error_code& ec) {
    ec = {};
    if (!tls_ && readiness_handle_) return readiness_->wait_readable(readiness_handle_, ec);
    return nothing_to_wait();
}

void ClientStream::cancel_wait() {
    if (!tls_ && readiness_handle_) readiness_->cancel(readiness_handle_);
}

void ClientStream::close() {
    unregister();
    error_code ec;
    socket().shutdown(tcp::socket::shutdown_both, ec);
    socket().close(ec);
}

}  // namespace sg::net
