#include "proxy/cluster/etcd_bootstrap.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "proxy/cluster/etcd_client.h"
#include "proxy/cluster/map_store.h"
#include "rebalance/map_gate.h"

namespace sg::cluster {

namespace {

EtcdResult<uint64_t> adopt(const Config& cfg, const router::ShardMap& map, const std::string& key) {
    if (auto fits = check_map_against_config(map, cfg, "etcd key " + key); !fits)
        return fits.error();
    if (auto saved = router::save_shard_map(map, cfg.map_path()); !saved)
        return EtcdError{"cannot write the local copy of the etcd map: " + saved.error().message};
    return map.version();
}

}  // namespace

EtcdResult<uint64_t> sync_map_file_from_etcd(const Config& cfg) {
    EtcdClient etcd({cfg.cluster.etcd, std::chrono::milliseconds(cfg.cluster.etcd_timeout_ms)});
    const std::string key = cfg.cluster.map_key();
    auto stored = read_map(etcd, cfg.cluster);
    if (!stored)
        return EtcdError{fmt::format(
            "cannot read the shard map from etcd ({}); refusing to start without it: {}", key,
            stored.error().message)};
    if (*stored) {
        spdlog::info("shard map from etcd key {}: version {} (mod_revision {})", key,
                     (*stored)->map.version(), (*stored)->mod_revision);
        return adopt(cfg, (*stored)->map, key);
    }
    // No map in etcd yet: the first proxy of the cluster publishes what the gate allows.
    auto gated = rebalance::open_cluster_map(cfg, rebalance::GateMode::Bootstrap);
    if (!gated) return EtcdError{gated.error().message};
    if (!gated->map.fence().empty())
        return EtcdError{
            fmt::format("etcd key {} holds no map and this proxy has none it may publish ({}); "
                        "publish the cluster's map with `shardgate map publish -c {} --map FILE`",
                        key, gated->map.fence(), cfg.source)};
    auto pub = publish_map(etcd, cfg.cluster, gated->map, 0, 0);
    if (!pub)
        return EtcdError{fmt::format("cannot publish the shard map to etcd key {}: {}", key,
                                     pub.error().message)};
    if (pub->published) {
        spdlog::info("published shard map version {} to etcd key {} (it held none)",
                     gated->map.version(), key);
        return gated->map.version();
    }
    if (!pub->current)
        return EtcdError{fmt::format(
            "etcd key {} changed while publishing and vanished again; start again", key)};
    spdlog::info("another proxy published the shard map first: version {} from etcd key {}",
                 pub->current->map.version(), key);
    return adopt(cfg, pub->current->map, key);
}

}  // namespace sg::cluster
