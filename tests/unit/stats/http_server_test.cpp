#include "proxy/http/http_server.h"

#include <gtest/gtest.h>

#include <string>

namespace sg::http {
namespace {

namespace asio = net::asio;
using net::tcp;

TEST(HttpHandle, Routes) {
    const BodyFn body = [] { return std::string("shardgate_up 1\n"); };
    auto r = handle_request("GET", "/metrics", body);
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.body, "shardgate_up 1\n");
    EXPECT_EQ(r.content_type.rfind("text/plain; version=0.0.4", 0), 0u);
    EXPECT_EQ(handle_request("GET", "/metrics?x=1", body).status, 200u);
    r = handle_request("GET", "/healthz", body);
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.body, "ok\n");
    EXPECT_EQ(handle_request("GET", "/", body).status, 404u);
    EXPECT_EQ(handle_request("GET", "/metricsx", body).status, 404u);
    EXPECT_EQ(handle_request("POST", "/metrics", body).status, 405u);
}

TEST(HttpListen, SplitsHostAndPort) {
    std::string host;
    uint16_t port = 0;
    ASSERT_TRUE(split_listen("127.0.0.1:9930", host, port));
    EXPECT_EQ(host, "127.0.0.1");
    EXPECT_EQ(port, 9930);
    ASSERT_TRUE(split_listen("[::1]:0", host, port));
    EXPECT_EQ(host, "::1");
    EXPECT_FALSE(split_listen("9930", host, port));
    EXPECT_FALSE(split_listen("host:", host, port));
    EXPECT_FALSE(split_listen("host:70000", host, port));
    EXPECT_FALSE(split_listen("host:12a", host, port));
}

// Sends raw bytes to the server and returns everything it answers until it closes.
std::string exchange(asio::io_context& io, uint16_t port, const std::string& request,
                     bool half_close = true) {
    std::string reply;
    asio::co_spawn(
        io,
        [&]() -> net::awaitable<void> {
            tcp::socket s(io);
            net::error_code ec;
            co_await s.async_connect({asio::ip::make_address("127.0.0.1"), port},
                                     net::ec_token(ec));
            if (ec) co_return;
            co_await asio::async_write(s, asio::buffer(request), net::ec_token(ec));
            if (half_close) s.shutdown(tcp::socket::shutdown_send, ec);
            char buf[4096];
            for (;;) {
                size_t n = co_await s.async_read_some(asio::buffer(buf), net::ec_token(ec));
                reply.append(buf, n);
                if (ec) break;
            }
            io.stop();
        },
        asio::detached);
    io.restart();
    io.run_for(std::chrono::seconds(5));
    return reply;
}

class HttpServerTest : public ::testing::Test {
protected:
    void SetUp() override {
        Limits limits;
        limits.max_header_bytes = 1024;
        limits.io_timeout = std::chrono::milliseconds(300);
        ASSERT_EQ(server.start(io, "127.0.0.1:0",
                               Endpoints{[this] {
                                             return "shardgate_queries_total " +
                                                    std::to_string(++scrapes) + "\n";
                                         },
                                         {},
                                         [] { return std::string("<!DOCTYPE html><p>report</p>"); },
                                         [] { return std::string("{}"); },
                                         [this] { return credentials; }},
                               limits),
                  "");
        ASSERT_NE(server.port(), 0);
    }
    asio::io_context io;
    HttpServer server;
    int scrapes = 0;
    std::string credentials;
};

TEST_F(HttpServerTest, ReportPagesAskForBasicAuthWhenConfigured) {
    std::string r =
        exchange(io, server.port(), "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
    EXPECT_NE(r.find("Content-Type: text/html; charset=utf-8"), std::string::npos) << r;
    credentials = "admin:s3cret";
    r = exchange(io, server.port(), "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(r.rfind("HTTP/1.1 401", 0), 0u) << r;
    EXPECT_NE(r.find("WWW-Authenticate: Basic realm=\"shardgate\""), std::string::npos) << r;
    EXPECT_EQ(r.find("report"), std::string::npos) << r;
    // base64("admin:s3cret") = YWRtaW46czNjcmV0
    r = exchange(io, server.port(),
                 "GET /report.json HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWRtaW46czNjcmV0\r\n"
                 "Connection: close\r\n\r\n");
    EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
    EXPECT_NE(r.find("Content-Type: application/json"), std::string::npos) << r;
    // Metrics and probes stay open.
    r = exchange(io, server.port(),
                 "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
}

TEST_F(HttpServerTest, ServesMetricsAndHealth) {
    std::string r = exchange(io, server.port(),
                             "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
    EXPECT_NE(r.find("Content-Type: text/plain; version=0.0.4"), std::string::npos) << r;
    EXPECT_NE(r.find("\r\n\r\nshardgate_queries_total 1\n"), std::string::npos) << r;
    r = exchange(io, server.port(), "GET /healthz HTTP/1.0\r\n\r\n");
    EXPECT_EQ(r.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << r;
    EXPECT_NE(r.find("\r\n\r\nok\n"), std::string::npos) << r;
    r = exchange(io, server.port(), "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(r.rfind("HTTP/1.1 404", 0), 0u) << r;
}

TEST_F(HttpServerTest, KeepAliveServesSeveralRequests) {
    const std::string one = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    const std::string r =
        exchange(io, server.port(),
                 one + one + "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_NE(r.find("shardgate_queries_total 2\n"), std::string::npos) << r;
    EXPECT_NE(r.find("ok\n"), std::string::npos) << r;
}

TEST_F(HttpServerTest, BadRequestsGet400AndOversizedHeadersAreRefused) {
    std::string r = exchange(io, server.port(), "THIS IS NOT HTTP\r\n\r\n");
    EXPECT_EQ(r.rfind("HTTP/1.1 400", 0), 0u) << r;
    r = exchange(io, server.port(),
                 "GET /metrics HTTP/1.1\r\nX-Big: " + std::string(4000, 'a') + "\r\n\r\n");
    EXPECT_EQ(r.rfind("HTTP/1.1 400", 0), 0u) << r;
    EXPECT_EQ(scrapes, 0);
}

TEST_F(HttpServerTest, SilentClientIsDisconnectedAtTheDeadline) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::string r = exchange(io, server.port(), "GET /metr", false);
    EXPECT_TRUE(r.empty()) << r;
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
}

TEST_F(HttpServerTest, ReportsBadListenAddresses) {
    HttpServer s;
    EXPECT_NE(s.start(io, "nonsense", {}), "");
    EXPECT_NE(s.start(io, "127.0.0.1:99999", {}), "");
    const std::string busy = s.start(io, "127.0.0.1:" + std::to_string(server.port()), {});
    EXPECT_NE(busy.find("in use"), std::string::npos) << busy;
}

}  // namespace
}  // namespace sg::http
