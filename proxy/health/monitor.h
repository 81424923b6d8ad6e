// The health side of the proxy, one per Proxy: a ShardHealth per shard, a background check per
// shard (connect when needed + an empty query, every check_interval_ms, bounded by
// check_timeout_ms), and a sweep that enforces query_timeout_ms and server_lifetime_s.
//
// When a shard's breaker opens, every connection to it is failed at once (clients owed
// replies get 08006 naming the shard, the reason and since when; waiters for its pool are
// refused): a frozen shard holds nobody longer than the detection takes. Every state change
// is one log line naming the shard, the endpoint and the reason.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "proxy/health/shard_health.h"
#include "proxy/net.h"
#include "proxy/server_conn.h"

namespace sg::proxy {
class Proxy;
}

namespace sg::proxy::health {

class Monitor {
public:
    explicit Monitor(Proxy& proxy);
    ~Monitor();
    Monitor(const Monitor&) = delete;
    Monitor& operator=(const Monitor&) = delete;

    // Creates the shards' state from the config and starts the checks and the sweep.
    void start();
    // After RELOAD: shards appended, endpoints moved (breaker reset, pools retargeted),
    // thresholds changed.
    void reconfigure();

    ShardHealth* shard(int i) {
        return i >= 0 && size_t(i) < shards_.size() ? shards_[i].get() : nullptr;
    }
    const ShardHealth* shard(int i) const {
        return i >= 0 && size_t(i) < shards_.size() ? shards_[i].get() : nullptr;
    }
    const std::vector<std::unique_ptr<ShardHealth>>& shards() const { return shards_; }
    // Shards whose breaker is not closed.
    int degraded() const;

    // Applies a breaker change of `h`: logs it, and on opening fails the shard's connections.
    void report(ShardHealth& h, const std::optional<BreakerChange>& change);

private:
    awaitable<void> check_loop(ShardHealth* h, std::shared_ptr<bool> alive);
    awaitable<void> sweep_loop(std::shared_ptr<bool> alive);
    awaitable<std::string> check_once(ShardHealth& h);
    void sweep_queries();
    // A connection of the shard's primary pools got a ReadyForQuery at or after `t`.
    bool primary_answered_since(const ShardHealth& h, net::Clock::time_point t) const;
    void fail_shard(ShardHealth& h);
    ServerTarget check_target(const ShardHealth& h) const;
    void add_shard(int i);

    // role_watch.cpp: the roles and lag of a shard's endpoints, and failover.
    void sync_endpoints(ShardHealth& h);
    awaitable<void> role_loop(ShardHealth* h, int endpoint, std::shared_ptr<bool> alive);
    awaitable<std::string> role_check_once(ShardHealth& h, int endpoint, RoleReading& out);
    void note_role(ShardHealth& h, int endpoint, const std::string& err, const RoleReading& r);
    void apply_roles(ShardHealth& h);
    void fail_over(ShardHealth& h, int to);
    ServerTarget endpoint_target(const ShardHealth& h, const EndpointHealth& e) const;

    Proxy& proxy_;
    std::vector<std::unique_ptr<ShardHealth>> shards_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
    bool started_ = false;
    uint64_t next_check_id_ = 1;
};

}  // namespace sg::proxy::health
