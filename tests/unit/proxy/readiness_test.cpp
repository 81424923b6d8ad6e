// ReadinessService: reads on real loopback TCP sockets driven by one io_context, including the
// edge-triggered corner cases (data and FIN in one burst, cancel and unregister while waiting).
#include "proxy/readiness.h"

#include <gtest/gtest.h>

#include <sys/socket.h>

#include <array>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace sg::proxy {
namespace {

namespace asio = net::asio;
using net::error_code;
using net::tcp;

struct Pair {
    tcp::socket server, client;
};

Pair connected_pair(asio::io_context& io) {
    tcp::acceptor acc(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    tcp::socket client(io);
    client.connect(acc.local_endpoint());
    tcp::socket server = acc.accept();
    return Pair{std::move(server), std::move(client)};
}

// Runs `body` as a coroutine to completion (bounded: a hang fails instead of blocking).
template <typename F>
void run(asio::io_context& io, F body) {
    bool done = false;
    asio::co_spawn(
        io,
        [&]() -> net::awaitable<void> {
            co_await body();
            done = true;
            io.stop();  // the service keeps a wait armed: the loop never runs out of work
        },
        asio::detached);
    io.run_for(std::chrono::seconds(5));
    ASSERT_TRUE(done) << "the coroutine did not finish";
}

TEST(Readiness, ReadsWhatArrivesAndWaitsForMore) {
    asio::io_context io(1);
    auto [server, client] = connected_pair(io);
    auto& rs = ReadinessService::of(io.get_executor());
    uint64_t h = rs.add(server.native_handle());
    ASSERT_NE(h, 0u);
    std::string got;
    asio::steady_timer later(io);
    run(io, [&]() -> net::awaitable<void> {
        char buf[64];
        error_code ec;
        asio::write(client, asio::buffer("hello", 5));
        size_t n = co_await rs.read_some(h, server.native_handle(), asio::buffer(buf), ec);
        EXPECT_FALSE(ec);
        got.append(buf, n);
        // Nothing buffered now: the read waits until the peer writes again.
        later.expires_after(std::chrono::milliseconds(20));
        later.async_wait([&](error_code) { asio::write(client, asio::buffer(" world", 6)); });
        n = co_await rs.read_some(h, server.native_handle(), asio::buffer(buf), ec);
        EXPECT_FALSE(ec);
        got.append(buf, n);
    });
    EXPECT_EQ(got, "hello world");
    rs.remove(h, server.native_handle());
    EXPECT_EQ(rs.registered(), 0u);
}

TEST(Readiness, AFullBufferReadsAgainWithoutWaiting) {
    asio::io_context io(1);
    auto [server, client] = connected_pair(io);
    auto& rs = ReadinessService::of(io.get_executor());
    uint64_t h = rs.add(server.native_handle());
    std::string got;
    run(io, [&]() -> net::awaitable<void> {
        asio::write(client, asio::buffer("abcdefghij", 10));
        client.close();
        char buf[4];
        error_code ec;
        for (;;) {
            size_t n = co_await rs.read_some(h, server.native_handle(), asio::buffer(buf), ec);
            if (ec) break;
            got.append(buf, n);
        }
        EXPECT_EQ(ec, asio::error::eof);
    });
    EXPECT_EQ(got, "abcdefghij");
    rs.remove(h, server.native_handle());
}

TEST(Readiness, DataAndFinInOneBurstEndInEof) {
    // The FIN arrives before the data is read: there is no later edge for it, so a short read
    // must not be taken for "drained" (a client that vanishes mid-message must be noticed).
    asio::io_context io(1);
    auto [server, client] = connected_pair(io);
    auto& rs = ReadinessService::of(io.get_executor());
    uint64_t h = rs.add(server.native_handle());
    asio::write(client, asio::buffer("Q\0\0", 3));
    client.close();
    io.poll();  // let the service see (and consume) the edge before anything reads
    std::optional<error_code> last;
    size_t total = 0;
    run(io, [&]() -> net::awaitable<void> {
        char buf[64];
        for (;;) {
            error_code ec;
            size_t n = co_await rs.read_some(h, server.native_handle(), asio::buffer(buf), ec);
            total += n;
            if (ec) {
                last = ec;
                break;
            }
        }
    });
    EXPECT_EQ(total, 3u);
    ASSERT_TRUE(last.has_value());
    EXPECT_EQ(*last, asio::error::eof);
    rs.remove(h, server.native_handle());
}

TEST(Readiness, CancelAndRemoveWakeAWaitingReader) {
    asio::io_context io(1);
    auto [server, client] = connected_pair(io);
    auto& rs = ReadinessService::of(io.get_executor());
    uint64_t h = rs.add(server.native_handle());
    asio::steady_timer t(io);
    error_code first, second;
    run(io, [&]() -> net::awaitable<void> {
        char buf[16];
        t.expires_after(std::chrono::milliseconds(10));
        t.async_wait([&](error_code) { rs.cancel(h); });
        co_await rs.read_some(h, server.native_handle(), asio::buffer(buf), first);
        t.expires_after(std::chrono::milliseconds(10));
        t.async_wait([&](error_code) { rs.remove(h, server.native_handle()); });
        co_await rs.read_some(h, server.native_handle(), asio::buffer(buf), second);
    });
    EXPECT_EQ(first, asio::error::operation_aborted);
    EXPECT_EQ(second, asio::error::operation_aborted);
    EXPECT_EQ(rs.registered(), 0u);
}

TEST(Readiness, EdgesThatComeWhileTheSetIsNotWatchedAreNotLost) {
    // Many sockets, many short rounds: data lands while the service is between waits (handling
    // a batch, or with no wait started yet) as well as while it waits. Every byte must be read,
    // with no read left waiting on data that has arrived.
    constexpr int kPairs = 12;
    constexpr int kRounds = 300;
    asio::io_context io(1);
    auto& rs = ReadinessService::of(io.get_executor());
    std::vector<Pair> pairs;
    std::vector<uint64_t> handles;
    for (int i = 0; i < kPairs; ++i) {
        pairs.push_back(connected_pair(io));
        handles.push_back(rs.add(pairs.back().server.native_handle()));
        ASSERT_NE(handles.back(), 0u);
    }
    std::vector<size_t> got(kPairs, 0);
    int finished = 0;
    for (int i = 0; i < kPairs; ++i) {
        // Reader i echoes each byte back once it has read it; the writer below sends the next
        // byte to a socket only after its echo, so every round needs a fresh edge.
        asio::co_spawn(
            io,
            [&, i]() -> net::awaitable<void> {
                char buf[8];
                while (got[i] < size_t(kRounds)) {
                    error_code ec;
                    size_t n = co_await rs.read_some(handles[i], pairs[i].server.native_handle(),
                                                     asio::buffer(buf), ec);
                    if (ec) co_return;
                    got[i] += n;
                    co_await asio::async_write(pairs[i].server, asio::buffer(buf, n),
                                               net::ec_token(ec));
                }
            },
            asio::detached);
        asio::co_spawn(
            io,
            [&, i]() -> net::awaitable<void> {
                char c = 'x', echo;
                for (int r = 0; r < kRounds; ++r) {
                    error_code ec;
                    co_await asio::async_write(pairs[i].client, asio::buffer(&c, 1),
                                               net::ec_token(ec));
                    co_await asio::async_read(pairs[i].client, asio::buffer(&echo, 1),
                                              net::ec_token(ec));
                    if (ec) co_return;
                }
                if (++finished == kPairs) io.stop();
            },
            asio::detached);
    }
    io.run_for(std::chrono::seconds(10));
    EXPECT_EQ(finished, kPairs) << "a reader missed an edge and waited for data already there";
    for (int i = 0; i < kPairs; ++i) EXPECT_EQ(got[i], size_t(kRounds)) << "pair " << i;
    for (int i = 0; i < kPairs; ++i) rs.remove(handles[i], pairs[i].server.native_handle());
}

TEST(Readiness, AStaleHandleIsRefused) {
    asio::io_context io(1);
    auto [server, client] = connected_pair(io);
    auto& rs = ReadinessService::of(io.get_executor());
    uint64_t h = rs.add(server.native_handle());
    rs.remove(h, server.native_handle());
    uint64_t h2 = rs.add(server.native_handle());  // reuses the slot, new generation
    EXPECT_NE(h, h2);
    error_code ec;
    run(io, [&]() -> net::awaitable<void> {
        char buf[4];
        co_await rs.read_some(h, server.native_handle(), asio::buffer(buf), ec);
    });
    EXPECT_EQ(ec, asio::error::operation_aborted);
    rs.remove(h2, server.native_handle());
}

}  // namespace
}  // namespace sg::proxy

namespace sg::proxy {
namespace {

// The write fast path: send_now() writes what the socket takes without waiting, write_plain()
// writes the rest once the peer reads, and every byte arrives once, in order, across buffers.
TEST(PlainWrite, PartialSendsResumeWhereTheyStopped) {
    asio::io_context io(1);
    auto [server, client] = connected_pair(io);
    int small = 4096;
    ::setsockopt(server.native_handle(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    // Three buffers of different sizes (one empty), far more than both socket buffers hold.
    std::string a(3000000, '\0'), b, c(123457, '\0');
    for (size_t i = 0; i < a.size(); ++i) a[i] = char('a' + i % 26);
    for (size_t i = 0; i < c.size(); ++i) c[i] = char('0' + i % 10);
    std::vector<asio::const_buffer> bufs{asio::buffer(a), asio::buffer(b), asio::buffer(c)};

    error_code ec;
    size_t now = net::send_now(server.native_handle(), bufs.data(), bufs.size(), ec);
    EXPECT_FALSE(ec);
    EXPECT_GT(now, 0u);
    EXPECT_LT(now, a.size() + c.size())
        << "the socket took everything; the test needs a partial write";

    std::string got;
    size_t written = 0;
    error_code wec;
    bool done = false;
    asio::co_spawn(
        io,
        [&]() -> net::awaitable<void> {
            written = now + co_await net::write_rest(server, bufs.data(), bufs.size(), now, wec);
            done = true;
        },
        asio::detached);
    // The reader drains the client side while the rest is written.
    std::function<void()> drain;
    std::array<char, 8192> rb{};
    drain = [&] {
        client.async_read_some(asio::buffer(rb), [&](error_code rec, size_t n) {
            got.append(rb.data(), n);
            if (!rec && got.size() < a.size() + c.size()) drain();
        });
    };
    drain();
    io.run_for(std::chrono::seconds(10));
    ASSERT_TRUE(done);
    EXPECT_FALSE(wec);
    EXPECT_EQ(written, a.size() + c.size());
    EXPECT_EQ(got, a + c);
}

TEST(PlainWrite, WritePlainWritesSmallMessagesAtOnceAndReportsAClosedPeer) {
    asio::io_context io(1);
    auto [server, client] = connected_pair(io);
    run(io, [&]() -> net::awaitable<void> {
        std::string m1 = "first", m2 = "second";
        std::array<asio::const_buffer, 2> bufs{asio::buffer(m1), asio::buffer(m2)};
        error_code ec;
        size_t n = co_await net::write_plain(server, bufs.data(), bufs.size(), ec);
        EXPECT_FALSE(ec);
        EXPECT_EQ(n, m1.size() + m2.size());
        char rb[32];
        size_t r = asio::read(client, asio::buffer(rb, n));
        EXPECT_EQ(std::string(rb, r), "firstsecond");
        // A peer that is gone: the write fails with an error (EPIPE/ECONNRESET), never SIGPIPE.
        client.close();
        std::string big(1 << 20, 'x');
        asio::const_buffer bb = asio::buffer(big);
        for (int i = 0; i < 8 && !ec; ++i) co_await net::write_plain(server, &bb, 1, ec);
        EXPECT_TRUE(ec);
    });
}

}  // namespace
}  // namespace sg::proxy
