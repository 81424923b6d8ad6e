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

void Proxy::on_stamp_readings(std::vector<router::ShardStampReading> readings,
                              net::Clock::time_point began) {
    stamp_readings_ = std::move(readings);
    refresh_fence(true);
    settle_lapsed_pause(began);
}

bool Proxy::on_bucket_pause_lapsed() {
    in_doubt_owners_.clear();
    for (uint32_t b : pauses_->held_buckets())
        if (b < map_->bucket_count())
            in_doubt_owners_.emplace_back(b, map_->shard_names()[map_->shard_of_bucket(b)]);
    if (stamp_watcher_) stamp_watcher_->poll_now();
    settle_lapsed_pause(std::nullopt);
    return true;
}

// Invariant: the old owner never serves a bucket whose switch was decided, and the new owner
// serves it only once the switch is committed. A lapsed pause means the rebalancer that paused
// vanished or stalled past its lease, possibly with its switch prepared (rows and stamp in
// doubt on both shards) or decided (the map assigns the buckets to the target; the commits are
// still to come: a resumed run makes them). So the buckets are released only
//  - with the map confirmed current: the file re-read (the rebalancer writes it before it
//    commits), or with etcd the map re-read after this proxy acknowledged the lapse there
//    (which blocks any later decision), and then
//  - when the map still gives them their owners of the lapse (never decided: the old owner
//    serves, a prepared switch is rolled back by the next run), or when no shard holds a
//    prepared switch (decided and committed: the new owner serves).
void Proxy::settle_lapsed_pause(std::optional<net::Clock::time_point> began) {
    const auto since = pauses_->in_doubt_since();
    if (!since) return;
    std::string why = etcd_agent_ ? etcd_fence() : reload_map();
    bool moved = false;
    for (const auto& [b, owner] : in_doubt_owners_)
        if (b >= map_->bucket_count() || map_->shard_names()[map_->shard_of_bucket(b)] != owner)
            moved = true;
    // Committed can only be told by a reading begun after the lapse.
    if (why.empty() && moved && (!began || *began < *since)) return;
    if (why.empty() && moved)
        for (const auto& r : stamp_readings_) {
            if (!r.reachable)
                why = "shard " + r.shard + " is unreachable: " + r.error;
            else if (r.switch_prepared)
                why = "shard " + r.shard + " holds a prepared switch, decided by map version " +
                      std::to_string(map_->version()) + " but not yet committed";
            if (!why.empty()) break;
        }
    if (!why.empty()) {
        spdlog::debug("lapsed pause still in doubt: {}", why);
        return;  // the watcher reads again within stamp_poll_ms
    }
    const std::string pause = pauses_->describe(PauseKind::Buckets);
    pauses_->release_in_doubt();
    in_doubt_owners_.clear();
    spdlog::warn("{}: settled ({}); the buckets are released and routed by map version {}", pause,
                 moved ? "the switch was committed" : "no switch was decided", map_->version());
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
