// The map part of `shardgate check`: the map file against the stamp on every shard.
#include <fmt/format.h>

#include <iostream>

#include "cli/commands.h"
#include "rebalance/map_gate.h"

namespace sg::cli {

bool check_map(const Config& cfg, nlohmann::json* json_out) {
    auto g = rebalance::open_cluster_map(cfg, rebalance::GateMode::ReadOnly);
    if (!g) {
        if (json_out)
            (*json_out) = {{"file", cfg.map_path()}, {"ok", false}, {"error", g.error().message}};
        else
            std::cout << "\nshard map: " << g.error().message << "\n";
        return false;
    }
    const std::string hash = router::content_hash(g->map);
    const bool ok = g->map.fence().empty();  // a new cluster without a map yet is fine
    auto state = [&](const router::ShardStampReading& r) -> std::string {
        if (!r.reachable) return "unreachable";
        if (!r.stamp) return "no stamp";
        if (!g->from_file) return "carries a map, no file";
        if (r.stamp->version > g->map.version()) return "NEWER than the file";
        if (r.stamp->version == g->map.version())
            return r.stamp->hash == hash ? "agrees" : "OTHER MAP, same version";
        return "older (not moved since)";
    };
    if (json_out) {
        nlohmann::json shards = nlohmann::json::array();
        for (const auto& r : g->readings)
            shards.push_back(
                {{"shard", r.shard},
                 {"stamp_version", r.stamp ? nlohmann::json(r.stamp->version) : nlohmann::json()},
                 {"stamp_hash", r.stamp ? nlohmann::json(r.stamp->hash) : nlohmann::json()},
                 {"state", state(r)}});
        (*json_out) = {
            {"file", cfg.map_path()},
            {"exists", g->from_file},
            {"version", g->from_file ? nlohmann::json(g->map.version()) : nlohmann::json()},
            {"hash", g->from_file ? nlohmann::json(hash) : nlohmann::json()},
            {"ok", ok},
            {"problem", g->map.fence()},
            {"shards", shards}};
        return ok;
    }
    if (g->from_file)
        std::cout << fmt::format("\nshard map {}: version {} (hash {})\n", cfg.map_path(),
                                 g->map.version(), hash);
    else
        std::cout << fmt::format("\nshard map {}: does not exist\n", cfg.map_path());
    std::cout << fmt::format("{:<12} | {:>13} | {:<16} | {}\n", "shard", "stamp version",
                             "stamp hash", "state");
    std::cout << std::string(70, '-') << "\n";
    for (const auto& r : g->readings)
        std::cout << fmt::format("{:<12} | {:>13} | {:<16} | {}\n", r.shard,
                                 r.stamp ? std::to_string(r.stamp->version) : "-",
                                 r.stamp ? r.stamp->hash : "-", state(r));
    if (!g->map.fence().empty())
        std::cout << "\nthe map does NOT agree with the shards: " << g->map.fence() << "\n";
    else if (!g->from_file)
        std::cout << "\nno map yet: no shard carries one; `shardgate init` (or the first `serve`) "
                     "creates version 1\n";
    else
        std::cout << "\nthe map agrees with the shards\n";
    return ok;
}

}  // namespace sg::cli
