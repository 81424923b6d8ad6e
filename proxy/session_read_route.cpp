// Read routing of a client session (issue 19): which pool the server of a statement comes
// from. The decision itself is proxy/read_route.h; here the session supplies its facts
// (transaction, last write) and the endpoints' figures (proxy/health), and carries it out.
//
// The plan is one-shot: plan_read() sets it right before the statement's attach, and the
// attach consumes it (attach_server resets it whatever happens), so a later statement that
// does not plan (a function call, COPY, a transaction's join) always gets the primary.
#include <vector>

#include "proxy/health/monitor.h"
#include "proxy/proxy.h"
#include "proxy/read_route.h"
#include "proxy/session.h"

namespace sg::proxy {

void Session::plan_read(const router::Analysis* a, int shard) {
    read_plan_ = -1;
    if (!a) return;
    const Config& cfg = proxy_.config();
    if (counts_as_write(*a)) {
        if (cfg.proxy.read_your_writes_ms > 0) last_write_at_ = net::Clock::now();
        return;
    }
    const health::ShardHealth* h = proxy_.health().shard(shard);
    if (!h || h->endpoints.size() < 2) return;  // no standbys: the common case stops here
    if (!read_may_use_standby(*a, in_transaction() || !pending_begin_.empty(), cfg.proxy.pool_mode)) return;
    if (server_ && server_->target().read_endpoint < 0) return;  // a primary connection is at hand
    const ReadFrom mode = effective_read_from(*a, user_, cfg.proxy);
    if (mode == ReadFrom::Primary) return;
    if (cfg.proxy.read_your_writes_ms > 0 && last_write_at_ != net::Clock::time_point{} &&
        net::Clock::now() - last_write_at_ < std::chrono::milliseconds(cfg.proxy.read_your_writes_ms))
        return;
    // Eligibility from the last role check's reading, judged now: a primary that just went down
    // makes a standby cut off from it usable at once, not at its next check.
    const bool primary_up = h->breaker.admits();
    std::vector<ReadOption> options;
    for (const auto& e : h->endpoints)
        if (e.index != h->primary &&
            health::read_eligible(e.answered, e.reading, primary_up, cfg.proxy.max_replica_lag_ms))
            options.push_back({e.index, proxy_.read_pool(shard, e.index, *user_).active_count()});
    read_plan_ = choose_read_endpoint(mode, h->admits(), proxy_.pool(shard, *user_).active_count(), options);
}

Pool& Session::pool_for(int shard, int plan) {
    if (plan >= 0) {
        const health::ShardHealth* h = proxy_.health().shard(shard);
        if (h && size_t(plan) < h->endpoints.size() && plan != h->primary)
            return proxy_.read_pool(shard, plan, *user_);
    }
    return proxy_.pool(shard, *user_);
}

bool Session::server_fits(int shard, int plan) const {
    const ServerTarget& t = server_->target();
    return t.shard == shard && (t.read_endpoint < 0 || t.read_endpoint == plan);
}

}  // namespace sg::proxy
