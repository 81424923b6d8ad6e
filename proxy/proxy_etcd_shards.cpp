// The shard list through etcd (issue 22, proxy/cluster/shard_list.h): this proxy routes to the
// shards etcd lists, whatever its config file says about their endpoints, and learns a shard
// its config lacks from etcd, before any map that names it (the watch hands the list on first).
//
// Why follow rather than refuse: with [cluster] etcd the cluster has one truth, which the
// rebalancer and `map publish` keep; a proxy refusing because its file is older than etcd would
// stop serving exactly when a shard is added, while following costs nothing (its credentials
// still come from its own config). Every difference is logged once per proxy life, so an
// operator sees a config that drifted.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "proxy/cluster/shard_list.h"
#include "proxy/health/monitor.h"
#include "proxy/proxy.h"

namespace sg::proxy {

namespace {

// The entry of `shards` a learned shard takes its login from (credentials are never in etcd).
const ShardConfig* login_source(const Config& cfg, const std::vector<ShardConfig>& shards) {
    const int def = cfg.default_shard_index();
    if (def >= 0 && static_cast<size_t>(def) < shards.size()) return &shards[def];
    return shards.empty() ? nullptr : &shards.front();
}

}  // namespace

std::string Proxy::follow_etcd_shards_at_start() {
    if (!cfg_.cluster.uses_etcd()) return {};
    const size_t before = cfg_.shards.size();
    auto r = cluster::follow_etcd_shards(cfg_);
    if (!r) return r.error().message;
    for (size_t i = before; i < cfg_.shards.size(); ++i)
        shard_totals_.push_back(stats::ShardTotals{cfg_.shards[i].name});
    // Logged by follow_etcd_shards(): not again at a RELOAD of the same file.
    etcd_shard_notes_.insert(r->begin(), r->end());
    return {};
}

std::vector<ShardConfig> Proxy::shards_following_etcd(const std::vector<ShardConfig>& configured) {
    if (!etcd_shards_) return configured;
    auto m = cluster::merge_shard_list(configured, *etcd_shards_, login_source(cfg_, configured));
    for (const auto& d : m.differences)
        if (etcd_shard_notes_.insert(d).second)
            spdlog::warn("etcd {}: {}", cfg_.cluster.shards_key(), d);
    return std::move(m.shards);
}

void Proxy::on_etcd_shards(std::vector<ShardConfig> list) {
    etcd_shards_ = std::move(list);
    auto next =
        cluster::merge_shard_list(cfg_.shards, *etcd_shards_, login_source(cfg_, cfg_.shards));
    if (!next.changed) return;
    for (const auto& d : next.differences) {
        // Once per difference: a learned shard's line is keyed by its endpoints, so a later move
        // of it is logged again.
        if (etcd_shard_notes_.insert(d).second)
            spdlog::warn("etcd {}: {}", cfg_.cluster.shards_key(), d);
    }
    for (size_t i = cfg_.shards.size(); i < next.shards.size(); ++i) {
        spdlog::info(
            "etcd: shard \"{}\" ({}:{}) added from etcd's shard list; it serves the buckets a map "
            "gives it",
            next.shards[i].name, next.shards[i].host, next.shards[i].port);
        shard_totals_.push_back(stats::ShardTotals{next.shards[i].name});
    }
    // As RELOAD applies [[shards]]: appended shards get health checks, moved ones are
    // retargeted (their pools too), the stamp watcher and 2PC recovery follow.
    cfg_.shards = std::move(next.shards);
    health_->reconfigure();
    primary_moved();
    // A map naming the new shard may have been written to the map file already and refused
    // for want of it (read by the lease thread's confirmation before the watch delivered this
    // list): load it now.
    if (!next.added.empty()) {
        std::string err = reload_map();
        if (!err.empty()) spdlog::debug("etcd: map not reloaded after the shard list: {}", err);
        report_to_etcd();
    }
}

}  // namespace sg::proxy
