// The proxy's shard map: re-reading the map file (RELOAD MAP, the rebalancer's switch, a shard
// carrying a newer stamp) and the fence that refuses sharded statements while the map in use
// cannot be trusted.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "proxy/proxy.h"
#include "proxy/stamp_watcher.h"
#include "router/map_stamp.h"
#include "router/shard_map.h"

namespace sg::proxy {

std::string Proxy::reload_map() {
    auto map = router::load_configured_map(cfg_.map_path(), cfg_);
    if (!map) return map.error().message;
    if (map_from_file_) {
        if (map->version() < map_->version())
            return fmt::format("{}: version {} is older than the version {} in use",
                               cfg_.map_path(), map->version(), map_->version());
        if (map->bucket_bits() != map_->bucket_bits() && map->version() == map_->version())
            return fmt::format("{}: bucket_bits changed without a new version", cfg_.map_path());
    }
    if (map->version() != map_->version() || !map_from_file_)
        spdlog::info("shard map {}: version {} -> {}", cfg_.map_path(), map_->version(),
                     map->version());
    *map_ = std::move(map.value());
    ++map_generation_;
    map_from_file_ = true;
    refresh_fence(false);
    // Confirm the new map against the shards at once rather than at the next interval.
    if (stamp_watcher_) stamp_watcher_->poll_now();
    return {};
}

void Proxy::on_stamp_readings(std::vector<router::ShardStampReading> readings) {
    stamp_readings_ = std::move(readings);
    refresh_fence(true);
}

void Proxy::refresh_fence(bool try_file) {
    if (!map_) return;
    const std::string before = map_->fence();
    auto verdict =
        router::judge_map(map_from_file_ ? map_.get() : nullptr, stamp_readings_, cfg_.map_path());
    // A newer stamp usually means the rebalancer switched buckets and has written the file
    // already (it writes the file before it commits): load it rather than refuse.
    if (!verdict.fence.empty() && try_file && verdict.newest &&
        (!map_from_file_ || verdict.newest->version > map_->version())) {
        auto file = router::load_configured_map(cfg_.map_path(), cfg_);
        if (file && (!map_from_file_ || file->version() > map_->version())) {
            auto v2 = router::judge_map(&*file, stamp_readings_, cfg_.map_path());
            if (v2.fence.empty()) {
                spdlog::info("shard map {}: version {} -> {} (a shard carries version {})",
                             cfg_.map_path(), map_->version(), file->version(),
                             verdict.newest->version);
                *map_ = std::move(*file);
                ++map_generation_;
                map_from_file_ = true;
                verdict = std::move(v2);
            }
        }
    }
    std::string fence = verdict.fence;
    // A placeholder (no map file at start) never routes, whatever the shards say.
    if (!map_from_file_ && fence.empty())
        fence = before.empty() ? "no shard map file " + cfg_.map_path() : before;
    // Cut off from etcd past its lease, this proxy may have missed a newer map (proxy_etcd.cpp).
    if (fence.empty()) fence = etcd_fence();
    if (fence != before) {
        if (fence.empty())
            spdlog::info(
                "shard map version {} agrees with the shards again: routing sharded statements",
                map_->version());
        else
            spdlog::error("sharded statements are refused: {}", fence);
    }
    map_->set_fence(std::move(fence));
}

}  // namespace sg::proxy
