// Large simple queries (issue 21): a Query message of at least [proxy] offload_parse_bytes is
// read into a buffer of its own and everything the proxy computes from its text (scans,
// literal extraction, libpg_query's parse, the statistics' fingerprint, the per-shard texts
// of a split INSERT, the INSERT given its column list) runs on the analysis workers
// (proxy/analysis_workers.h), while the event loop keeps serving the other clients.
//
// Ownership: the message is a shared_ptr<const std::string>; every job holds its own reference
// (or an owned copy) of what it reads, so a session that ends while its job runs frees nothing
// the job still reads. Results come back to the loop as values: the statement cache, the
// statistics and the shard map are only touched there. Small statements never come here: they
// keep the inline path and its latency.
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "common/sqlstate.h"
#include "proxy/analysis_workers.h"
#include "proxy/proxy.h"
#include "proxy/session.h"
#include "proxy/txn/policy.h"
#include "proxy/wire/frame.h"

namespace sg::proxy {

namespace asio = net::asio;

namespace {

// Read granularity and fairness of a large message: read in pieces of this size, and let the
// loop run other clients' handlers after each few megabytes, even when the client keeps the
// socket full.
constexpr size_t kLargeReadChunk = 256 * 1024;
constexpr size_t kLargeReadYield = 2 * 1024 * 1024;

int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               net::Clock::now().time_since_epoch())
        .count();
}

}  // namespace

bool Session::large_query_ahead(size_t frame_size) const {
    const int64_t limit = proxy_.config().proxy.offload_parse_bytes;
    return limit > 0 && !admin_ && frame_size >= static_cast<size_t>(limit) &&
           clen_ - cstart_ >= wire::kFrameHeaderSize && cbuf_[cstart_] == 'Q';
}

awaitable<bool> Session::serve_large_query(size_t frame_size) {
    // The message (at cstart_, whole or in part) goes into a buffer reserved once at its declared
    // size (parse_frame has held it to max_message_bytes): the read buffer is not doubled and
    // copied up to the message's size, and the message is not copied again to outlive the read
    // buffer.
    auto frame = std::make_shared<std::string>();
    frame->reserve(frame_size);
    const size_t buffered =
        std::min(clen_ - cstart_, frame_size);  // the message's bytes read so far
    frame->append(cbuf_.data() + cstart_, buffered);
    cstart_ += buffered;
    size_t since_yield = 0;
    while (frame->size() < frame_size) {
        if (cbuf_.size() < kLargeReadChunk) cbuf_.resize(kLargeReadChunk);  // (empty: nothing kept)
        if (!co_await read_more()) co_return false;
        const size_t take = std::min(clen_ - cstart_, frame_size - frame->size());
        frame->append(cbuf_.data() + cstart_, take);
        cstart_ += take;  // bytes past the message (a pipelined next one) stay in cbuf_
        since_yield += take;
        if (since_yield >= kLargeReadYield) {
            since_yield = 0;
            co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
        }
    }
    req_bytes_in_ = frame_size;
    req_start_ns_ = now_ns();
    if (client_.has_batch()) co_await flush_batch(false);
    const std::string_view body = std::string_view(*frame).substr(wire::kFrameHeaderSize);
    if (body.empty() || body.back() != '\0') {
        co_await fatal(sqlstate::kProtocolViolation,
                       "invalid Query message: missing string terminator");
        co_return false;
    }
    large_frame_ = frame;
    co_await handle_query(*frame, body.substr(0, body.size() - 1));
    // The large state ends with the statement. (Not a local RAII guard: GCC 12 corrupted a
    // guard object holding a reference in this coroutine's frame. An exception ends the session.)
    large_frame_.reset();
    large_facts_.reset();
    large_stats_ = {};
    shape_params_.clear();  // (views into shape_)
    shape_ = {};            // its values hold the text's literals: not kept while idle
    co_return true;
}

bool Session::is_large(std::string_view sql) const {
    if (!large_frame_) return false;
    const char* begin = large_frame_->data();
    return sql.data() >= begin && sql.data() + sql.size() <= begin + large_frame_->size();
}

bool Session::client_gone() {
    if (stream_.is_tls()) return false;  // a readable TLS socket says nothing about a close
    char byte;
    const ssize_t n = ::recv(stream_.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)))
        return false;
    spdlog::info(
        "client {}: left while its statement of {} bytes was being analysed: not running it", peer_,
        large_frame_ ? large_frame_->size() : 0);
    return true;
}

awaitable<bool> Session::study_large(std::string_view sql) {
    large_facts_.reset();
    large_stats_ = {};
    auto job = [owner = large_frame_, sql, catalog = proxy_.statements().catalog()] {
        (void)owner;  // keeps the text `sql` views alive while the job reads it
        return study_large_text(sql, catalog);
    };
    LargeTextFacts facts = co_await proxy_.analysis_workers().run(std::move(job));
    if (client_gone()) co_return false;
    large_facts_ = std::move(facts);
    co_return true;
}

awaitable<std::shared_ptr<const router::Analysis>> Session::analyse_large(std::string_view sql) {
    auto job = [owner = large_frame_, sql, catalog = proxy_.statements().catalog()] {
        (void)owner;
        return analyze_large_text(sql, catalog);
    };
    auto result =
        co_await proxy_.analysis_workers().run(std::move(job));  // (not co_return co_await: GCC 12)
    co_return result;
}

awaitable<std::pair<std::vector<ShardQuery>, bool>> Session::large_fanout_off_loop(
    std::shared_ptr<const router::Analysis> a, std::string_view sql, const router::Route& r,
    const std::vector<int>& read_legs) {
    // The analysis is immutable and shared, the route, legs and configuration are copies: the
    // job reads nothing the loop changes.
    auto job = [owner = large_frame_, a = std::move(a), sql, r, read_legs, cfg = proxy_.config()] {
        (void)owner;
        return std::pair{shard_queries(*a, sql, r, read_legs),
                         txn::atomic_statement(cfg, a->is_write, sql)};
    };
    auto result =
        co_await proxy_.analysis_workers().run(std::move(job));  // (not co_return co_await: GCC 12)
    co_return result;
}

awaitable<void> Session::prepare_large_stats(std::string_view text) {
    const int64_t limit = proxy_.config().proxy.offload_parse_bytes;
    if (!proxy_.stats().enabled() || limit <= 0 || text.size() < static_cast<size_t>(limit))
        co_return;
    if (large_stats_shape_for(text)) co_return;
    // The job is a named local, never a temporary in the co_await expression: GCC 12 destroys
    // such temporaries twice in coroutines.
    std::shared_ptr<const stats::Shape> shape;
    if (is_large(text)) {
        auto job = [owner = large_frame_, text] {
            (void)owner;
            return large_stats_shape(text);
        };
        shape = co_await proxy_.analysis_workers().run(std::move(job));
    } else {  // e.g. the literal-free shape of a large text: a session buffer, copied for the job
        auto job = [copy = std::string(text)] { return large_stats_shape(copy); };
        shape = co_await proxy_.analysis_workers().run(std::move(job));
    }
    large_stats_ = {text.data(), text.size(), std::move(shape)};
}

const std::shared_ptr<const stats::Shape>* Session::large_stats_shape_for(
    std::string_view text) const {
    if (!large_stats_.shape || large_stats_.data != text.data() || large_stats_.size != text.size())
        return nullptr;
    return &large_stats_.shape;
}

awaitable<void> Session::run_large_with_columns(std::string_view sql, uint32_t at,
                                                std::string list) {
    auto job = [owner = large_frame_, sql, at, list = std::move(list)] {
        (void)owner;
        return query_with_inserted_text(sql, at, list);
    };
    auto frame =
        std::make_shared<const std::string>(co_await proxy_.analysis_workers().run(std::move(job)));
    if (client_gone()) co_return;
    // The rewritten message is the large text now (the caller's frame lives until it returns).
    large_frame_ = frame;
    large_facts_.reset();
    large_stats_ = {};
    const std::string_view body = std::string_view(*frame).substr(wire::kFrameHeaderSize);
    --proxy_.counters().queries;  // one client statement, counted again by handle_query
    co_await handle_query(*frame, body.substr(0, body.size() - 1));
}

}  // namespace sg::proxy
