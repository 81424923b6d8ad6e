#include "proxy/http/http_server.h"

#include <spdlog/spdlog.h>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <exception>

#include "proxy/http/basic_auth.h"
#include "proxy/stats/prometheus.h"

namespace sg::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using net::tcp;

struct ServerState {
    explicit ServerState(net::asio::io_context& io) : acceptor(io) {}
    tcp::acceptor acceptor;
    Endpoints endpoints;
    Limits limits;
    int connections = 0;
    bool stopped = false;
};

namespace {

// Counts a connection for the cap for as long as its coroutine lives.
struct ConnectionSlot {
    explicit ConnectionSlot(ServerState& s) : st(s) { ++st.connections; }
    ~ConnectionSlot() { --st.connections; }
    ServerState& st;
};

bhttp::response<bhttp::string_body> make_response(const Response& r, unsigned version,
                                                  bool keep_alive) {
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), version};
    res.set(bhttp::field::server, "shardgate");
    res.set(bhttp::field::content_type, r.content_type);
    if (r.status == 405) res.set(bhttp::field::allow, "GET");
    for (const auto& [name, value] : r.headers) res.set(name, value);
    res.keep_alive(keep_alive);
    res.body() = r.body;
    res.prepare_payload();
    return res;
}

net::awaitable<void> serve_connection(std::shared_ptr<ServerState> st, tcp::socket sock) {
    ConnectionSlot slot(*st);
    beast::tcp_stream stream(std::move(sock));
    // The buffer's cap bounds what one request may occupy, header and body together.
    beast::flat_buffer buffer(st->limits.max_header_bytes + st->limits.max_body_bytes);
    for (int n = 0; n < st->limits.max_requests_per_connection && !st->stopped; ++n) {
        bhttp::request_parser<bhttp::string_body> parser;
        parser.header_limit(static_cast<uint32_t>(st->limits.max_header_bytes));
        parser.body_limit(st->limits.max_body_bytes);
        net::error_code ec;
        stream.expires_after(st->limits.io_timeout);
        co_await bhttp::async_read(stream, buffer, parser, net::ec_token(ec));
        if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
            ec == net::asio::error::eof || ec == net::asio::error::connection_reset ||
            ec == net::asio::error::operation_aborted)
            break;
        if (ec) {
            // Malformed or oversized: say so once and hang up.
            auto res = make_response(
                {400, "text/plain; charset=utf-8", "bad request: " + ec.message() + "\n", {}}, 11,
                false);
            stream.expires_after(st->limits.io_timeout);
            co_await bhttp::async_write(stream, res, net::ec_token(ec));
            break;
        }
        const auto& req = parser.get();
        const bool keep_alive = req.keep_alive() && !st->stopped;
        auto sv = [](auto s) { return std::string_view(s.data(), s.size()); };
        auto authorization = req.find(bhttp::field::authorization);
        const Request request{
            sv(req.method_string()), sv(req.target()),
            authorization == req.end() ? std::string_view() : sv(authorization->value())};
        auto res = make_response(handle_request(request, st->endpoints), req.version(), keep_alive);
        stream.expires_after(st->limits.io_timeout);
        co_await bhttp::async_write(stream, res, net::ec_token(ec));
        if (ec || !keep_alive) break;
    }
    net::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.socket().close(ignored);
}

void log_failure(std::exception_ptr e) {
    if (!e) return;
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        spdlog::warn("http: connection failed: {}", x.what());
    }
}

net::awaitable<void> accept_loop(std::shared_ptr<ServerState> st) {
    auto ex = co_await net::asio::this_coro::executor;
    net::asio::steady_timer backoff(ex);
    while (!st->stopped) {
        net::error_code ec;
        tcp::socket sock = co_await st->acceptor.async_accept(net::ec_token(ec));
        if (ec == net::asio::error::operation_aborted || st->stopped) break;
        if (ec) {
            // Out of descriptors and the like: do not spin, try again shortly.
            spdlog::warn("http: accept failed: {}", ec.message());
            backoff.expires_after(std::chrono::milliseconds(100));
            co_await backoff.async_wait(net::ec_token(ec));
            continue;
        }
        if (st->connections >= st->limits.max_connections) {
            sock.close(ec);
            continue;
        }
        net::asio::co_spawn(ex, serve_connection(st, std::move(sock)), log_failure);
    }
}

}  // namespace

Response handle_request(const Request& request, const Endpoints& e) {
    const std::string_view path = request.target.substr(0, request.target.find('?'));
    const bool report = path == "/" || path == "/report.json";
    const bool known = path == "/metrics" || path == "/healthz" || path == "/readyz" ||
                       (path == "/" && e.report_html) || (path == "/report.json" && e.report_json);
    if (!known) return {404, "text/plain; charset=utf-8", "not found\n", {}};
    if (request.method != "GET")
        return {405, "text/plain; charset=utf-8", "only GET is supported\n", {}};
    if (path == "/healthz") return {200, "text/plain; charset=utf-8", "ok\n", {}};
    if (path == "/readyz") {
        Readiness r = e.ready ? e.ready() : Readiness{true, "ready\n"};
        return {r.ready ? 200u : 503u, "text/plain; charset=utf-8", std::move(r.text), {}};
    }
    if (report) {
        const std::string expected = e.credentials ? e.credentials() : std::string();
        if (!expected.empty() && !basic_auth_ok(request.authorization, expected))
            return {401,
                    "text/plain; charset=utf-8",
                    "authentication required ([admin] http_auth)\n",
                    {{"WWW-Authenticate", std::string(kBasicChallenge)},
                     {"Cache-Control", "no-store"}}};
        if (path == "/report.json")
            return {200, "application/json", e.report_json(), {{"Cache-Control", "no-store"}}};
        return {200, "text/html; charset=utf-8", e.report_html(), {{"Cache-Control", "no-store"}}};
    }
    return {200, stats::kPrometheusContentType, e.metrics ? e.metrics() : std::string(), {}};
}

Response handle_request(std::string_view method, std::string_view target,
                        const BodyFn& metrics_body, const ReadyFn& ready) {
    return handle_request(Request{method, target, {}}, Endpoints{metrics_body, ready, {}, {}, {}});
}

bool split_listen(std::string_view listen, std::string& host, uint16_t& port) {
    const size_t colon = listen.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    std::string_view h = listen.substr(0, colon), p = listen.substr(colon + 1);
    if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
    unsigned value = 0;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
    if (p.empty() || ec != std::errc() || end != p.data() + p.size() || value > 65535) return false;
    host.assign(h);
    port = static_cast<uint16_t>(value);
    return true;
}

HttpServer::~HttpServer() {
    stop();
}

std::string HttpServer::start(net::asio::io_context& io, const std::string& listen,
                              Endpoints served, Limits limits) {
    stop();
    std::string host;
    uint16_t port = 0;
    if (!split_listen(listen, host, port)) return "http_listen '" + listen + "' must be HOST:PORT";
    net::error_code ec;
    tcp::resolver resolver(io);
    auto endpoints = resolver.resolve(host, std::to_string(port), tcp::resolver::passive, ec);
    if (ec || endpoints.empty())
        return "http_listen '" + listen + "': cannot resolve " + host + ": " + ec.message();
    auto st = std::make_shared<ServerState>(io);
    st->endpoints = std::move(served);
    st->limits = limits;
    const tcp::endpoint ep = endpoints.begin()->endpoint();
    st->acceptor.open(ep.protocol(), ec);
    if (!ec) st->acceptor.set_option(net::asio::socket_base::reuse_address(true), ec);
    if (!ec) st->acceptor.bind(ep, ec);
    if (!ec) st->acceptor.listen(net::asio::socket_base::max_listen_connections, ec);
    if (ec) return "http_listen '" + listen + "': " + ec.message();
    state_ = st;
    net::asio::co_spawn(io, accept_loop(std::move(st)), log_failure);
    return {};
}

void HttpServer::stop() {
    if (!state_) return;
    state_->stopped = true;
    net::error_code ec;
    state_->acceptor.close(ec);
    state_.reset();
}

uint16_t HttpServer::port() const {
    if (!state_) return 0;
    net::error_code ec;
    auto ep = state_->acceptor.local_endpoint(ec);
    return ec ? 0 : ep.port();
}

}  // namespace sg::http
