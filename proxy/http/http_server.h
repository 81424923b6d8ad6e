// The HTTP endpoint of [admin] http_listen: GET /metrics (Prometheus text format) and
// GET /healthz ("ok", liveness: always cheap), GET /readyz (200, or 503 naming the degraded
// shards), GET / (the live query cost report, HTML) and GET /report.json (the same report as
// JSON); any other path is 404, any other method 405.
//
// [admin] http_auth guards the report pages only: / and /report.json answer 401 with a Basic
// challenge unless the request carries the configured credentials. /metrics, /healthz and
// /readyz stay open, as Prometheus scrapers and orchestrator probes expect.
//
// Hostile clients cost bounded resources: a request's header and body are size-limited, each
// read and write has a deadline, connections are capped, and a malformed request gets a 400
// and the connection closed. Runs on the caller's io_context (the event loop whose statistics
// it serves), so the metrics callback needs no locking.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/net.h"

namespace sg::http {

struct Limits {
    size_t max_header_bytes = 8 * 1024;
    size_t max_body_bytes = 8 * 1024;
    std::chrono::milliseconds io_timeout{10'000};  // per read or write
    int max_connections = 64;
    int max_requests_per_connection = 1000;
};

// What a request gets: decided without I/O, so tests call it directly.
struct Response {
    unsigned status = 200;
    std::string content_type;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // besides Content-Type
};
using BodyFn = std::function<std::string()>;
// Readiness: true when every shard can be served, with a text for the body either way.
struct Readiness {
    bool ready = true;
    std::string text;
};
using ReadyFn = std::function<Readiness()>;

// What the listener serves; an empty function makes its path 404.
struct Endpoints {
    BodyFn metrics;
    ReadyFn ready;
    BodyFn report_html, report_json;  // "/" and "/report.json"
    // The "user:password" the report pages require, read at each request (RELOAD may change
    // it); empty or unset: the pages are open.
    std::function<std::string()> credentials;
};

struct Request {
    std::string_view method, target;
    std::string_view authorization;  // the Authorization header, empty when absent
};

Response handle_request(const Request& request, const Endpoints& endpoints);
// /metrics, /healthz and /readyz only (the report pages are 404).
Response handle_request(std::string_view method, std::string_view target,
                        const BodyFn& metrics_body, const ReadyFn& ready = {});

// "HOST:PORT" ("127.0.0.1:9930", "[::1]:9930", "localhost:0") -> host and port; false when
// it is not of that form.
bool split_listen(std::string_view listen, std::string& host, uint16_t& port);

struct ServerState;  // the acceptor and what its connections share; outlives stop()

class HttpServer {
public:
    HttpServer() = default;
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Binds and starts accepting on `io`. Returns "" or why it cannot listen (for the log).
    std::string start(net::asio::io_context& io, const std::string& listen, Endpoints endpoints,
                      Limits limits = {});
    // Stops accepting; connections in progress end at their next deadline or request.
    void stop();
    // The bound port (useful with port 0); 0 when not listening.
    uint16_t port() const;

private:
    std::shared_ptr<ServerState> state_;
};

}  // namespace sg::http
