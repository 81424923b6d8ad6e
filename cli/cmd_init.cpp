// `shardgate init`: the only way to create a shard map for a cluster (besides the first start of
// a brand-new one). With no map file and no shard carrying a stamp it writes version 1 and
// stamps every shard; with a map file it stamps the shards that carry none (adopting the file).
// It refuses when a shard carries a map: creating version 1 again would route rows wrongly.
#include <fmt/format.h>

#include <iostream>

#include "cli/commands.h"
#include "rebalance/map_gate.h"

namespace sg::cli {

int run_init(const Config& cfg) {
    auto g = rebalance::open_cluster_map(cfg, rebalance::GateMode::Init);
    if (!g) {
        std::cerr << "shardgate init: " << g.error().message << "\n";
        return 1;
    }
    if (g->created)
        std::cout << fmt::format(
            "created {}: map version 1 (hash {}), {} buckets over {} shard(s); "
            "every shard stamped\n",
            cfg.map_path(), router::content_hash(g->map), g->map.bucket_count(), cfg.shards.size());
    else
        std::cout << fmt::format(
            "{} exists: map version {} (hash {}) agrees with the shards; shards "
            "without a stamp were stamped with it\n",
            cfg.map_path(), g->map.version(), router::content_hash(g->map));
    return 0;
}

}  // namespace sg::cli
