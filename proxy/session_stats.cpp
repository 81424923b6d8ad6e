// Session hooks into the statistics that are not about a reply from a shard: refused
// statements and the per-shard lifetime counters. (The reply-driven hooks, stats_sent,
// stats_complete and stats_merged, live in session.cpp next to the reply handling.)
#include <chrono>

#include "common/sqlstate.h"
#include "proxy/proxy.h"
#include "proxy/session.h"
#include "proxy/stats/query_event.h"

namespace sg::proxy {

namespace {
int64_t steady_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}
}  // namespace

void Session::stats_refused(std::string_view text, std::string_view message) {
    if (!proxy_.stats().enabled()) return;
    if (text.empty()) text = !query_text_.empty() ? query_text_ : std::string_view(batch_text_);
    // A refusal before the statement's text is known (a batch refused at its first message)
    // still counts, under a name that says so.
    if (text.empty()) text = "(statement not identified)";
    // A large text refused before its statistics' shape was computed off the loop: recorded
    // under its first bytes, not fingerprinted on the event loop (session_large_query.cpp).
    if (is_large(text) && !large_stats_shape_for(text)) text = text.substr(0, 4096);
    const int64_t end = steady_ns();
    stats::QueryEvent e;
    e.text = text;
    e.shape = large_stats_shape_for(text);
    e.user = user_name_;
    e.database = database_;
    e.client_id = client_id_;
    e.in_transaction = in_transaction();
    e.latency_ns = req_start_ns_ ? end - req_start_ns_ : 0;
    e.pool_wait_ns = pool_wait_ns_;
    e.held_ns = held_ns_;
    e.shards = 0;  // answered by the proxy itself
    e.bytes_in = req_bytes_in_;
    e.sqlstate = sqlstate::kFeatureNotSupported;
    e.param_hash = stats::text_hash(text);
    e.end_ns = end;
    proxy_.stats().record_refusal(e, message);
    req_start_ns_ = 0;
    req_bytes_in_ = 0;
    pool_wait_ns_ = 0;
    held_ns_ = 0;
}

void Session::count_shard_legs(std::span<const stats::ShardLeg> legs) {
    const size_t shards = proxy_.config().shards.size();
    for (const auto& l : legs)
        if (l.shard >= 0 && size_t(l.shard) < shards)
            stats::add_leg(proxy_.shard_totals(l.shard), l);
}

}  // namespace sg::proxy
