// Read routing of a client session (issue 19): which pool the server of a statement comes
// from. The decision itself is proxy/read_route.h; here the session supplies its facts
// (transaction, last write) and the endpoints' figures (proxy/health), and carries it out.
//
// The plan is one-shot: plan_read() sets it right before the statement's attach, and the
// attach consumes it (attach_server resets it whatever happens), so a later statement that
// does not plan (a function call, COPY, a transaction's join) always gets the primary.
#include <boost/container/small_vector.hpp>
#include <vector>

#include "proxy/health/monitor.h"
#include "proxy/proxy.h"
#include "proxy/read_route.h"
#include "proxy/session.h"

namespace sg::proxy {

void Session::plan_read(const router::Analysis* a, int shard) {
    read_plan_ = -1;
    retry_read_.reset();
    if (!a) return;
    if (counts_as_write(*a)) {
        note_client_write();
        return;
    }
    if (server_ && server_->target().read_endpoint < 0) return;  // a primary connection is at hand
    read_plan_ = read_endpoint_for(*a, shard);
    // Retryable on another endpoint: what may use a standby at all (the same conditions), with
    // read_from = replica|any. Nothing has reached the client before the attach.
    const Config& cfg = proxy_.config();
    const health::ShardHealth* h = proxy_.health().shard(shard);
    if (h && h->endpoints.size() >= 2 &&
        read_may_use_standby(*a, in_transaction() || begin_.held(), cfg.proxy.pool_mode)) {
        const ReadFrom mode = effective_read_from(*a, user_, cfg.proxy);
        if (mode != ReadFrom::Primary) retry_read_ = mode;
    }
}

void Session::note_client_write() {
    if (proxy_.config().proxy.read_your_writes_ms > 0) last_write_at_ = net::Clock::now();
}

std::vector<int> Session::plan_fanout_reads(const router::Analysis& a,
                                            const std::vector<uint16_t>& shards) {
    read_plan_ = -1;
    retry_read_.reset();
    std::vector<int> plan(shards.size(), -1);
    if (counts_as_write(a)) {
        note_client_write();
        return plan;
    }
    // Each leg by the single-shard rules, judged for every shard at the same moment: the
    // read-your-writes window and the transaction state are the client's, so either no leg or
    // every eligible one reads a standby, and each standby chosen is within the lag bound now.
    for (size_t i = 0; i < shards.size(); ++i) plan[i] = read_endpoint_for(a, shards[i]);
    return plan;
}

int Session::read_endpoint_for(const router::Analysis& a, int shard) {
    const Config& cfg = proxy_.config();
    const health::ShardHealth* h = proxy_.health().shard(shard);
    if (!h || h->endpoints.size() < 2) return -1;  // no standbys: the common case stops here
    if (!read_may_use_standby(a, in_transaction() || begin_.held(), cfg.proxy.pool_mode)) return -1;
    const ReadFrom mode = effective_read_from(a, user_, cfg.proxy);
    if (mode == ReadFrom::Primary) return -1;
    return pick_read_endpoint(mode, shard, -2, false);
}

int Session::pick_read_endpoint(ReadFrom mode, int shard, int exclude, bool primary_failed) {
    const Config& cfg = proxy_.config();
    const health::ShardHealth* h = proxy_.health().shard(shard);
    if (!h) return -1;
    if (cfg.proxy.read_your_writes_ms > 0 && last_write_at_ != net::Clock::time_point{} &&
        net::Clock::now() - last_write_at_ <
            std::chrono::milliseconds(cfg.proxy.read_your_writes_ms))
        return -1;
    // Eligibility from the last role check's reading, judged now: a primary that just went down
    // makes a standby cut off from it usable at once, not at its next check.
    const bool primary_up = h->breaker.admits() && !primary_failed;
    boost::container::small_vector<ReadOption, 4> options;
    for (const auto& e : h->endpoints)
        if (e.index != h->primary && e.index != exclude &&
            health::read_eligible(e.answered, e.reading, primary_up, cfg.proxy.max_replica_lag_ms))
            options.push_back({e.index, proxy_.read_pool(shard, e.index, *user_).active_count()});
    return choose_read_endpoint(mode, h->admits() && exclude != -1 && !primary_failed,
                                proxy_.pool(shard, *user_).active_count(),
                                std::span<const ReadOption>(options.data(), options.size()));
}

Pool* Session::read_retry_pool(int shard, int failed_endpoint, const Pool* failed) {
    const std::optional<ReadFrom> mode = std::exchange(retry_read_, std::nullopt);
    if (!mode) return nullptr;
    const health::ShardHealth* h = proxy_.health().shard(shard);
    if (!h) return nullptr;
    // Once only, and never back to the endpoint that failed. The primary failing counts as "down"
    // for the standbys' eligibility: one whose receiver lost it is as fresh as anything reachable.
    const bool primary_failed = failed_endpoint < 0;
    const int to = pick_read_endpoint(*mode, shard, failed_endpoint, primary_failed);
    if (to == failed_endpoint) return nullptr;
    if (to < 0) return h->admits() ? &proxy_.pool(shard, *user_) : nullptr;
    Pool& p = proxy_.read_or_primary_pool(shard, to, *user_);
    return &p == failed ? nullptr : &p;
}

Pool& Session::pool_for(int shard, int plan) {
    return plan >= 0 ? proxy_.read_or_primary_pool(shard, plan, *user_)
                     : proxy_.pool(shard, *user_);
}

bool Session::server_fits(int shard, int plan) const {
    const ServerTarget& t = server_->target();
    return t.shard == shard && (t.read_endpoint < 0 || t.read_endpoint == plan);
}

}  // namespace sg::proxy
