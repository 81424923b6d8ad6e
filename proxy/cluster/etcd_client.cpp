#include "proxy/cluster/etcd_client.h"

#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>

namespace sg::cluster {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
template <typename T>
using awaitable = asio::awaitable<T>;

inline auto ec_token(error_code& ec) {
    return asio::redirect_error(asio::use_awaitable, ec);
}

struct Endpoint {
    std::string host;
    std::string port;
};

std::optional<Endpoint> split_endpoint(const std::string& ep) {
    auto colon = ep.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == ep.size()) return std::nullopt;
    return Endpoint{ep.substr(0, colon), ep.substr(colon + 1)};
}

// One HTTP answer, or the transport failure that prevented it.
struct Reply {
    std::string failure;  // non-empty: no answer (connect, write, read or timeout)
    unsigned status = 0;
    std::string body;
};

http::request<http::string_body> make_request(const Endpoint& ep, const char* path,
                                              const std::string& body) {
    http::request<http::string_body> req{http::verb::post, path, 11};
    req.set(http::field::host, ep.host + ":" + ep.port);
    req.set(http::field::content_type, "application/json");
    req.keep_alive(true);
    req.body() = body;
    req.prepare_payload();
    return req;
}

awaitable<std::string> connect(beast::tcp_stream& stream, const Endpoint& ep) {
    error_code ec;
    tcp::resolver resolver(co_await asio::this_coro::executor);
    auto results = co_await resolver.async_resolve(ep.host, ep.port, ec_token(ec));
    if (ec) co_return "resolve: " + ec.message();
    co_await stream.async_connect(results, ec_token(ec));
    if (ec) co_return "connect: " + ec.message();
    stream.socket().set_option(tcp::no_delay(true), ec);
    co_return std::string();
}

// Runs `op` on `ioc` to completion (the caller's deadlines bound it) and returns its value.
template <class T>
T run_to_completion(asio::io_context& ioc, awaitable<T> op) {
    std::optional<T> out;
    std::exception_ptr failure;
    ioc.restart();
    asio::co_spawn(ioc, std::move(op), [&](std::exception_ptr e, T v) {
        failure = e;
        out = std::move(v);
    });
    ioc.run();
    if (failure) std::rethrow_exception(failure);
    return std::move(*out);
}

}  // namespace

struct EtcdClient::Impl {
    asio::io_context ioc;
    std::optional<beast::tcp_stream> stream;  // open connection to endpoints[current]
    beast::flat_buffer buffer;
    std::size_t current = 0;
    std::string answered;  // the endpoint that answered last

    void drop() {
        if (stream) {
            error_code ec;
            stream->socket().close(ec);
        }
        stream.reset();
        buffer.clear();
    }

    // One request on endpoint `ep`, reusing the open connection when there is one. A reused
    // connection the server closed meanwhile gets one fresh retry (keep-alive race).
    awaitable<Reply> exchange(const Endpoint& ep, const char* path, const std::string& body,
                              std::chrono::milliseconds timeout) {
        for (int attempt = 0; attempt < 2; ++attempt) {
            bool reused = stream.has_value();
            if (!stream) {
                stream.emplace(ioc);
                stream->expires_after(timeout);
                std::string err = co_await connect(*stream, ep);
                if (!err.empty()) {
                    drop();
                    co_return Reply{err, 0, {}};
                }
            }
            stream->expires_after(timeout);
            auto req = make_request(ep, path, body);
            error_code ec;
            co_await http::async_write(*stream, req, ec_token(ec));
            http::response<http::string_body> res;
            if (!ec) co_await http::async_read(*stream, buffer, res, ec_token(ec));
            if (ec) {
                drop();
                if (reused && ec != beast::error::timeout) continue;
                co_return Reply{
                    (ec == beast::error::timeout
                         ? std::string("timed out after ") + std::to_string(timeout.count()) + " ms"
                         : ec.message()),
                    0,
                    {}};
            }
            if (!res.keep_alive()) drop();
            co_return Reply{"", res.result_int(), std::move(res.body())};
        }
        co_return Reply{"connection closed", 0, {}};
    }
};

EtcdClient::EtcdClient(EtcdOptions opts)
    : opts_(std::move(opts)), impl_(std::make_unique<Impl>()) {}
EtcdClient::~EtcdClient() {
    impl_->drop();
}

std::string EtcdClient::current_endpoint() const {
    return impl_->answered;
}

EtcdResult<std::string> EtcdClient::post(const char* path, const std::string& body) {
    if (opts_.endpoints.empty()) return EtcdError{"etcd: no endpoints configured"};
    std::string failures;
    const std::size_t n = opts_.endpoints.size();
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t idx = (impl_->current + i) % n;
        if (idx != impl_->current) impl_->drop();  // the open connection belongs to another member
        impl_->current = idx;
        const std::string& name = opts_.endpoints[idx];
        auto ep = split_endpoint(name);
        if (!ep) return EtcdError{"etcd: endpoint '" + name + "' is not host:port"};
        Reply r = run_to_completion(impl_->ioc, impl_->exchange(*ep, path, body, opts_.timeout));
        // 5xx: this member cannot serve now (no leader, stopping): the next one may.
        if (r.failure.empty() && r.status < 500) {
            impl_->answered = name;
            return std::move(r.body);
        }
        std::string why =
            r.failure.empty() ? "HTTP " + std::to_string(r.status) + " " + r.body : r.failure;
        spdlog::debug("etcd {} {}: {}", name, path, why);
        if (!failures.empty()) failures += "; ";
        failures += name + ": " + why;
        impl_->drop();
    }
    impl_->current = (impl_->current + 1) % n;  // start the next call elsewhere
    return EtcdError{"etcd unreachable (" + failures + ")"};
}

EtcdResult<RangeResult> EtcdClient::get(std::string_view key, bool prefix) {
    auto body = post("/v3/kv/range", encode_range(key, prefix));
    if (!body) return body.error();
    return decode_range(*body);
}

EtcdResult<int64_t> EtcdClient::put(std::string_view key, std::string_view value, int64_t lease) {
    auto body = post("/v3/kv/put", encode_put(key, value, lease));
    if (!body) return body.error();
    return decode_put(*body);
}

EtcdResult<int64_t> EtcdClient::remove(std::string_view key) {
    // DeleteRange takes the same body as Range; its answer has the same header as Put's.
    auto body = post("/v3/kv/deleterange", encode_range(key));
    if (!body) return body.error();
    return decode_put(*body);
}

EtcdResult<TxnResult> EtcdClient::cas(std::string_view key, std::string_view value,
                                      int64_t expected_mod_revision, int64_t lease) {
    auto body = post("/v3/kv/txn", encode_cas(key, value, expected_mod_revision, lease));
    if (!body) return body.error();
    return decode_txn(*body);
}

EtcdResult<TxnResult> EtcdClient::cas_guarded(std::string_view key, std::string_view value,
                                              int64_t expected_mod_revision,
                                              std::string_view guard_key, int64_t guard_lease,
                                              std::string_view stable_prefix, int64_t stable_since,
                                              const KeyRevisions& unchanged) {
    auto body =
        post("/v3/kv/txn", encode_cas_guarded(key, value, expected_mod_revision, guard_key,
                                              guard_lease, stable_prefix, stable_since, unchanged));
    if (!body) return body.error();
    return decode_txn(*body);
}

EtcdResult<bool> EtcdClient::delete_if_lease(std::string_view key, int64_t lease) {
    auto body = post("/v3/kv/txn", encode_delete_if_lease(key, lease));
    if (!body) return body.error();
    auto r = decode_txn(*body);
    if (!r) return r.error();
    return r->succeeded;
}

EtcdResult<LeaseGrant> EtcdClient::lease_grant(int64_t ttl_s) {
    auto body = post("/v3/lease/grant", encode_lease_grant(ttl_s));
    if (!body) return body.error();
    return decode_lease_grant(*body);
}

EtcdResult<int64_t> EtcdClient::lease_keepalive(int64_t id) {
    // A bidirectional stream in gRPC; one request in, one message out, then the stream ends.
    auto body = post("/v3/lease/keepalive", encode_lease_id(id));
    if (!body) return body.error();
    auto msgs = take_stream_messages(*body);
    if (msgs.empty() && !body->empty()) msgs.push_back(*body);  // no trailing newline
    if (msgs.empty()) return EtcdError{"etcd: empty keepalive response"};
    return decode_keepalive(msgs.front());
}

EtcdResult<router::Ok> EtcdClient::lease_revoke(int64_t id) {
    auto body = post("/v3/lease/revoke", encode_lease_id(id));
    if (!body) return body.error();
    if (auto e = decode_error(*body)) {
        // Revoking a lease that is already gone is what the caller wanted.
        if (e->find("requested lease not found") != std::string::npos) return router::Ok{};
        return EtcdError{"etcd: " + *e};
    }
    return router::Ok{};
}

EtcdResult<router::Ok> EtcdClient::watch(std::string_view key, int64_t start_revision,
                                         const std::function<bool(const WatchMessage&)>& on_message,
                                         const std::atomic<bool>& stop,
                                         std::chrono::milliseconds poll,
                                         std::chrono::milliseconds idle_limit, bool prefix) {
    if (opts_.endpoints.empty()) return EtcdError{"etcd: no endpoints configured"};
    // The watch takes its own connection to the member unary calls use now, so a request on
    // the unary connection never waits behind the stream.
    const std::string name = opts_.endpoints[impl_->current % opts_.endpoints.size()];
    auto ep = split_endpoint(name);
    if (!ep) return EtcdError{"etcd: endpoint '" + name + "' is not host:port"};
    const std::string body = encode_watch_create(key, start_revision, prefix);
    asio::io_context& ioc = impl_->ioc;
    beast::tcp_stream stream(ioc);
    bool done = false;
    EtcdResult<router::Ok> result = router::Ok{};
    bool handed_up = false;  // on_message returned false: a clean end
    auto last_activity = std::chrono::steady_clock::now();

    auto run = [&]() -> awaitable<int> {
        stream.expires_after(opts_.timeout);
        if (std::string err = co_await connect(stream, *ep); !err.empty()) {
            result = EtcdError{"etcd watch " + name + ": " + err};
            co_return 0;
        }
        error_code ec;
        auto req = make_request(*ep, "/v3/watch", body);
        co_await http::async_write(stream, req, ec_token(ec));
        beast::flat_buffer buf;
        http::response_parser<http::string_body> parser;
        parser.body_limit(boost::none);
        if (!ec) co_await http::async_read_header(stream, buf, parser, ec_token(ec));
        if (ec) {
            result = EtcdError{"etcd watch " + name + ": " + ec.message()};
            co_return 0;
        }
        if (parser.get().result_int() != 200) {
            result = EtcdError{"etcd watch " + name + ": HTTP " +
                               std::to_string(parser.get().result_int())};
            co_return 0;
        }
        stream.expires_never();  // the stream is idle between changes; the poll loop bounds it
        std::string pending;
        while (!parser.is_done()) {
            co_await http::async_read_some(stream, buf, parser, ec_token(ec));
            if (ec) {
                result = EtcdError{"etcd watch " + name + ": " + ec.message()};
                co_return 0;
            }
            // string_body appends at the body's current end, so taking it here is safe.
            last_activity = std::chrono::steady_clock::now();
            pending += parser.get().body();
            parser.get().body().clear();
            for (const std::string& raw : take_stream_messages(pending)) {
                auto msg = decode_watch(raw);
                if (!msg) {
                    result = msg.error();
                    co_return 0;
                }
                if (msg->canceled) {
                    result = EtcdError{"etcd watch canceled: " + msg->cancel_reason +
                                       (msg->compact_revision
                                            ? " (compacted at revision " +
                                                  std::to_string(msg->compact_revision) + ")"
                                            : std::string())};
                    co_return 0;
                }
                if (!on_message(*msg)) {
                    handed_up = true;
                    co_return 0;
                }
            }
        }
        result = EtcdError{"etcd watch " + name + ": stream ended"};
        co_return 0;
    };

    ioc.restart();
    asio::co_spawn(ioc, run(), [&](std::exception_ptr e, int) {
        if (e) result = EtcdError{"etcd watch " + name + ": internal error"};
        done = true;
    });
    // Wake every `poll` to honour `stop`; closing the socket ends the coroutine's read.
    while (!done) {
        ioc.run_for(poll);
        const bool idle = std::chrono::steady_clock::now() - last_activity > idle_limit;
        if (!done && (stop.load() || idle)) {
            error_code ec;
            stream.socket().close(ec);
            ioc.run();  // let the coroutine see the closed socket and finish
            return router::Ok{};
        }
    }
    if (handed_up) return router::Ok{};
    if (result)
        impl_->answered = name;
    else
        impl_->current = (impl_->current + 1) % opts_.endpoints.size();  // next watch elsewhere
    return result;
}

}  // namespace sg::cluster
