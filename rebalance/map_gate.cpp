#include "rebalance/map_gate.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <filesystem>

#include "common/sqlstate.h"
#include "rebalance/stamps.h"

namespace sg::rebalance {
namespace {

std::string unreachable_list(const std::vector<router::ShardStampReading>& readings) {
    std::string s;
    for (const auto& r : readings)
        if (!r.reachable) s += (s.empty() ? "" : "; ") + r.error;
    return s;
}

}  // namespace

Expected<GatedMap> open_cluster_map(const Config& cfg, GateMode mode) {
    const std::string path = cfg.map_path();
    GatedMap g;
    StampReader reader(cfg, std::max(1, cfg.proxy.connect_timeout_ms / 1000));
    g.readings = reader.read_all();
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) {
        auto loaded = router::load_configured_map(path, cfg);
        if (!loaded) return loaded.error();
        g.map = std::move(*loaded);
        g.from_file = true;
        g.verdict = router::judge_map(&g.map, g.readings, path);
        if (!g.verdict.fence.empty()) {
            if (mode == GateMode::Init)
                return Error{sqlstate::kObjectNotInPrerequisiteState, g.verdict.fence};
            g.map.set_fence(g.verdict.fence);
            return g;
        }
        if (mode != GateMode::ReadOnly && g.verdict.any_unstamped) {
            // Shards that never saw a stamped map (a cluster from before stamps, a new shard)
            // adopt this one: nothing newer can have touched them.
            if (auto st = stamp_shards(cfg, router::stamp_of(g.map), true); !st) {
                if (mode == GateMode::Init) return st.error();
                spdlog::warn("could not stamp every shard with map version {}: {}", g.map.version(),
                             st.error().message);
            }
        }
        return g;
    }

    auto fallback = router::default_map(cfg);
    if (!fallback) return fallback.error();
    g.map = std::move(*fallback);
    g.verdict = router::judge_map(nullptr, g.readings, path);
    std::string refusal = g.verdict.fence;
    if (refusal.empty() && g.verdict.any_unreachable)
        refusal = fmt::format(
            "no shard map: {} does not exist and not every shard could be asked whether the "
            "cluster has a map ({}); no map is created while a shard might carry one. Start the "
            "shard, then restart, or copy the cluster's map file to {}",
            path, unreachable_list(g.readings), path);
    if (!refusal.empty()) {
        if (mode == GateMode::Init) return Error{sqlstate::kObjectNotInPrerequisiteState, refusal};
        g.map.set_fence(refusal);
        return g;
    }
    if (mode == GateMode::ReadOnly) return g;  // what a first start would create, not written
    // A brand-new cluster: every shard answered and none carries a map.
    if (auto st = router::save_shard_map(g.map, path); !st) return st.error();
    if (auto st = stamp_shards(cfg, router::stamp_of(g.map), false); !st) {
        // The map stands (it is the default any first start creates), but without stamps a
        // proxy started without the file cannot be fenced: say so loudly, and how to fix it.
        if (mode == GateMode::Init) return st.error();
        spdlog::error(
            "created {} but could not stamp every shard ({}); stale or missing map "
            "files cannot be detected until `shardgate init -c {}` succeeds (its shard "
            "login needs CREATE on the database)",
            path, st.error().message, cfg.source);
    }
    g.from_file = true;
    g.created = true;
    spdlog::info("created shard map {} version 1 ({} buckets over {} shard(s)) for a new cluster",
                 path, g.map.bucket_count(), cfg.shards.size());
    return g;
}

}  // namespace sg::rebalance
