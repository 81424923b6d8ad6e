#include "proxy/net.h"

#include "proxy/readiness.h"

namespace sg::net {

ClientStream::~ClientStream() { unregister(); }

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
    if (tls_) co_return co_await tls_->async_read_some(b, ec_token(ec));
    if (!readiness_tried_) {
        readiness_tried_ = true;
        readiness_ = &proxy::ReadinessService::of(sock_.get_executor());
        readiness_handle_ = readiness_->add(sock_.native_handle());
    }
    if (readiness_handle_) co_return co_await readiness_->read_some(readiness_handle_, sock_.native_handle(), b, ec);
    co_return co_await sock_.async_read_some(b, ec_token(ec));
}

std::optional<std::size_t> ClientStream::try_read(asio::mutable_buffer b, error_code& ec) {
    if (tls_ || !readiness_handle_) return std::nullopt;
    return readiness_->try_read(readiness_handle_, sock_.native_handle(), b, ec);
}

bool ClientStream::would_wait() const {
    return !tls_ && readiness_handle_ && !readiness_->maybe_readable(readiness_handle_);
}

awaitable<void> ClientStream::wait_readable(error_code& ec) {
    ec = {};
    if (!tls_ && readiness_handle_) co_await readiness_->wait_readable(readiness_handle_, ec);
}

void ClientStream::close() {
    unregister();
    error_code ec;
    socket().shutdown(tcp::socket::shutdown_both, ec);
    socket().close(ec);
}

}  // namespace sg::net
