#include "proxy/health/probe.h"

#include <fmt/format.h>

#include "proxy/shard_request.h"
#include "proxy/spawn.h"
#include "proxy/wire/frame_cursor.h"
#include "proxy/wire/messages/error_response.h"
#include "proxy/wire/messages/row_data.h"
#include "proxy/wire/messages/simple_query.h"
#include "proxy/wire/messages/startup.h"
#include "proxy/wire/writer.h"

namespace sg::proxy::health {

namespace asio = net::asio;

namespace {

// Receives the replies of the probe's empty query: only the ReadyForQuery (or the loss of the
// connection) matters; an ErrorResponse is remembered for the failure text.
class ProbeSink : public ServerSink {
public:
    explicit ProbeSink(asio::any_io_executor ex) : done(ex) {}

    awaitable<void> relay(ServerConn&, const std::vector<asio::const_buffer>& frames,
                          size_t) override {
        for (const auto& b : frames) {
            wire::FrameCursor cursor(
                std::string_view(static_cast<const char*>(b.data()), b.size()));
            while (auto f = cursor.next()) {
                if (f->type == wire::be::kDataRow && !got_row) {
                    wire::DataRow r;
                    if (wire::decode(wire::as_bytes(f->body), r).ok()) {
                        got_row = true;
                        for (const auto& v : r.columns)
                            row.push_back(
                                v ? std::optional<std::string>(std::string(wire::as_chars(*v)))
                                  : std::nullopt);
                    }
                }
                if (f->type == wire::be::kErrorResponse && error.empty()) {
                    wire::ErrorResponse e;
                    error = "the shard answered with an error";
                    if (wire::decode(wire::as_bytes(f->body), e).ok())
                        error = fmt::format("{} (SQLSTATE {})", e.message(), e.sqlstate());
                }
            }
        }
        co_return;
    }
    void on_ready(ServerConn&, char) override {
        ready = true;
        done.notify_all();
    }
    void on_lost(ServerConn&, const std::string& why) override {
        lost = why;
        done.notify_all();
    }

    net::Event done;
    bool ready = false;
    std::string error;
    std::string lost;
    bool got_row = false;
    ProbeRow row;
};

}  // namespace

awaitable<std::string> probe(ServerConn& s, std::chrono::milliseconds timeout) {
    auto awaited = co_await probe_query(s, "", timeout, nullptr);
    co_return awaited;
}

awaitable<std::string> probe_query(ServerConn& s, std::string_view sql,
                                   std::chrono::milliseconds timeout, ProbeRow* row) {
    if (!s.usable()) co_return "the connection is closed";
    auto keep = s.shared_from_this();  // the read loop may drop its reference on failure
    auto ex = co_await asio::this_coro::executor;
    // On the heap, not in this frame: the connection's reader holds a plain pointer to it.
    auto sink = std::make_shared<ProbeSink>(ex);
    s.attach(sink.get());
    std::string out;
    ShardRequest(out, s).query(sql);
    auto deadline = net::Clock::now() + timeout;
    size_t n = s.write_now(out);
    if (n < out.size() && s.usable()) co_await s.write(std::string_view(out).substr(n));
    // Single-threaded: the sink can only be notified while this coroutine is suspended, so the
    // flags are checked before every wait.
    while (!sink->ready && sink->lost.empty() && s.usable()) {
        auto now = net::Clock::now();
        if (now >= deadline) break;
        const bool woken = co_await sink->done.wait_for(deadline - now);  // (not inside ||: GCC 12)
        if (!woken) break;
    }
    if (s.sink() == sink.get()) s.detach();
    if (!sink->lost.empty()) co_return sink->lost;
    if (!sink->ready) co_return fmt::format("no answer within {} ms", timeout.count());
    if (!sink->error.empty()) co_return sink->error;
    if (row) *row = std::move(sink->row);
    co_return std::string();
}

void send_cancel_bounded(asio::any_io_executor ex, const ServerTarget& target, int32_t pid,
                         int32_t secret, std::chrono::milliseconds timeout) {
    struct State {
        explicit State(asio::any_io_executor ex) : sock(ex), timer(ex) {}
        net::tcp::socket sock;
        asio::steady_timer timer;
    };
    auto st = std::make_shared<State>(ex);
    st->timer.expires_after(timeout);
    // Closing the socket ends whatever step is pending.
    st->timer.async_wait([st](error_code ec) {
        if (!ec) {
            error_code ignore;
            st->sock.close(ignore);
        }
    });
    asio::co_spawn(
        ex,
        [st, host = target.host, port = target.port, pid, secret]() -> awaitable<void> {
            error_code ec;
            net::tcp::endpoint ep(asio::ip::make_address(host, ec), port);
            if (ec) {
                net::tcp::resolver res(st->sock.get_executor());
                auto results =
                    co_await res.async_resolve(host, std::to_string(port), net::ec_token(ec));
                if (ec || results.empty()) co_return;
                ep = *results.begin();
            }
            co_await st->sock.async_connect(ep, net::ec_token(ec));
            if (!ec) {
                std::string out;
                wire::MessageWriter w(out);
                wire::encode(wire::CancelRequest{pid, secret}, w);
                co_await asio::async_write(st->sock, asio::buffer(out), net::ec_token(ec));
            }
            if (!ec) {
                // The shard closes the connection after acting on the request.
                char sink[1];
                co_await st->sock.async_read_some(asio::buffer(sink), net::ec_token(ec));
            }
            st->timer.cancel();
            error_code ignore;
            st->sock.close(ignore);
        },
        LogUnhandled("cancel request"));
}

}  // namespace sg::proxy::health
