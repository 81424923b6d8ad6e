#include "proxy/front_door.h"

#include <cerrno>
#include <memory>

#include "proxy/wire/frame.h"

namespace sg::proxy {

namespace asio = net::asio;

net::awaitable<void> refuse_connection(net::tcp::socket sock, std::string error_frames,
                                       std::chrono::milliseconds timeout) {
    auto s = std::make_shared<net::tcp::socket>(std::move(sock));
    auto timer = std::make_shared<asio::steady_timer>(s->get_executor(), timeout);
    timer->async_wait([s, timer](net::error_code ec) {
        if (!ec) {
            net::error_code ignore;
            s->close(ignore);
        }
    });
    std::string buf(512, '\0');
    size_t len = 0;
    net::error_code ec;
    // Up to two packets: an encryption request (answered 'N'), then the startup packet.
    for (int packets = 0; packets < 2 && !ec;) {
        auto st = wire::parse_startup_frame(wire::as_bytes(std::string_view(buf.data(), len)));
        if (std::holds_alternative<wire::NeedMore>(st)) {
            if (len == buf.size()) buf.resize(buf.size() * 2);
            len += co_await s->async_read_some(asio::buffer(buf.data() + len, buf.size() - len),
                                               net::ec_token(ec));
            continue;
        }
        if (std::holds_alternative<wire::Malformed>(st)) break;  // the error goes out anyway
        const auto& f = std::get<wire::StartupFrame>(st);
        ++packets;
        const size_t size = f.size;
        const bool encryption =
            f.kind == wire::StartupKind::SslRequest || f.kind == wire::StartupKind::GssEncRequest;
        buf.erase(0, size);
        len -= size;
        if (f.kind == wire::StartupKind::CancelRequest) {
            // A cancel gets no reply, whatever the limit.
            error_frames.clear();
            break;
        }
        if (!encryption) break;
        const char no = 'N';
        co_await asio::async_write(*s, asio::buffer(&no, 1), net::ec_token(ec));
    }
    if (!ec && !error_frames.empty())
        co_await asio::async_write(*s, asio::buffer(error_frames), net::ec_token(ec));
    timer->cancel();
    net::error_code ignore;
    // Half-close first: the client reads the error before it sees the end of the stream.
    s->shutdown(net::tcp::socket::shutdown_send, ignore);
    s->close(ignore);
}

std::optional<std::chrono::milliseconds> accept_backoff(const net::error_code& ec) {
    if (ec.category() != boost::system::system_category() &&
        ec.category() != boost::system::generic_category())
        return std::nullopt;
    switch (ec.value()) {
        case EMFILE:
        case ENFILE:
        case ENOBUFS:
        case ENOMEM:
            return std::chrono::milliseconds(100);
        default:
            return std::nullopt;
    }
}

}  // namespace sg::proxy
