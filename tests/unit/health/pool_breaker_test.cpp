// A pool consults its shard's breaker: refused at once while open, without touching the
// network; the refusal names the shard, the reason and since when.
#include <gtest/gtest.h>

#include "proxy/front_door.h"
#include "proxy/health/shard_health.h"
#include "proxy/pool.h"

using namespace sg::proxy;
namespace asio = sg::net::asio;

namespace {

std::variant<std::shared_ptr<ServerConn>, PoolError> acquire_once(asio::io_context& io,
                                                                  Pool& pool) {
    std::variant<std::shared_ptr<ServerConn>, PoolError> out;
    asio::co_spawn(
        io, [&]() -> asio::awaitable<void> { out = co_await pool.acquire(); }, asio::detached);
    io.run();
    io.restart();
    return out;
}

}  // namespace

TEST(PoolBreaker, OpenBreakerRefusesAtOnce) {
    asio::io_context io;
    ServerTarget t;
    t.shard = 1;
    t.shard_name = "s1";
    t.host = "192.0.2.1";  // TEST-NET: a connect would hang until connect_timeout_ms
    t.port = 5432;
    t.connect_timeout_ms = 60000;
    Pool pool(io.get_executor(), t, 4, 1000);
    health::ShardHealth h;
    h.name = "s1";
    h.host = t.host;
    h.port = t.port;
    h.breaker.set_threshold(1);
    h.failure("health check: no answer within 500 ms");  // opens (no monitor: nothing else to fail)
    ASSERT_FALSE(h.admits());
    pool.set_checks(PoolChecks{&h, 0, 100, 0});

    EXPECT_EQ(pool.take_idle(), nullptr);
    auto start = std::chrono::steady_clock::now();
    auto got = acquire_once(io, pool);
    auto took = std::chrono::steady_clock::now() - start;
    ASSERT_TRUE(std::holds_alternative<PoolError>(got));
    const auto& err = std::get<PoolError>(got);
    EXPECT_EQ(err.sqlstate, "08006");
    EXPECT_NE(err.message.find("shard \"s1\" (192.0.2.1:5432) is unavailable since "),
              std::string::npos)
        << err.message;
    EXPECT_NE(err.message.find("no answer within 500 ms"), std::string::npos) << err.message;
    EXPECT_LT(took, std::chrono::milliseconds(10));
    EXPECT_EQ(pool.total(), 0);
    EXPECT_EQ(h.state_name(), std::string("open"));
}

TEST(PoolBreaker, ConnectFailuresOpenTheBreaker) {
    asio::io_context io;
    // A port nothing listens on: each connect is refused at once (no answer from a shard).
    asio::ip::tcp::acceptor probe(io,
                                  asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    uint16_t port = probe.local_endpoint().port();
    probe.close();
    ServerTarget t;
    t.shard_name = "s0";
    t.host = "127.0.0.1";
    t.port = port;
    t.user = "x";
    t.dbname = "x";
    t.connect_timeout_ms = 2000;
    Pool pool(io.get_executor(), t, 4, 1000);
    health::ShardHealth h;
    h.name = "s0";
    h.host = t.host;
    h.port = port;
    h.breaker.set_threshold(2);
    pool.set_checks(PoolChecks{&h, 0, 100, 0});

    auto first = acquire_once(io, pool);
    ASSERT_TRUE(std::holds_alternative<PoolError>(first));
    EXPECT_EQ(std::get<PoolError>(first).message.find("unavailable since"), std::string::npos);
    EXPECT_TRUE(h.admits());
    EXPECT_EQ(h.state_name(), std::string("down"));  // one failure, below the threshold
    auto second = acquire_once(io, pool);
    ASSERT_TRUE(std::holds_alternative<PoolError>(second));
    EXPECT_FALSE(h.admits());
    EXPECT_EQ(h.connect_failures, 2u);
    EXPECT_NE(std::get<PoolError>(second).message.find("connect: "), std::string::npos);
}

TEST(FrontDoor, AcceptBackoffOnlyForResourceExhaustion) {
    using boost::system::error_code;
    using boost::system::system_category;
    EXPECT_TRUE(accept_backoff(error_code(EMFILE, system_category())));
    EXPECT_TRUE(accept_backoff(error_code(ENFILE, system_category())));
    EXPECT_TRUE(accept_backoff(error_code(ENOBUFS, system_category())));
    EXPECT_FALSE(accept_backoff(error_code(ECONNABORTED, system_category())));
    EXPECT_FALSE(accept_backoff(error_code()));
}
