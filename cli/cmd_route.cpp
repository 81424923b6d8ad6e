// `shardgate route`: explain where a statement goes, without running it.
#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "rebalance/map_gate.h"
#include "router/explain.h"
#include "router/router.h"
#include "router/shard_map.h"
#include "router/statement_cache.h"

namespace sg::cli {

int run_route(const Config& cfg, const std::string& sql, const std::vector<std::string>& params,
              bool json) {
    // Explaining never writes. Without a map file the default layout is what a first start
    // would create, but only for a cluster whose shards carry no map; a map the shards have
    // moved past refuses sharded statements, as a proxy would (rebalance/map_gate.h).
    auto map = rebalance::open_cluster_map(cfg, rebalance::GateMode::ReadOnly);
    if (!map) {
        std::cerr << "shardgate route: " << map.error().message << "\n";
        return 2;
    }
    if (!map->map.fence().empty())
        std::cerr << "shardgate route: " << map->map.fence() << "\n";
    else if (!map->from_file)
        std::cerr << "shardgate route: no map file yet; explaining with the default layout a first "
                     "start creates\n";
    router::Analysis analysis = router::analyze(sql, router::TableCatalog(cfg.tables));
    router::Params ps;
    for (const auto& p : params) ps.push_back({false, router::ParamFormat::Text, p});
    router::RouterContext ctx;
    ctx.default_shard = static_cast<uint16_t>(cfg.default_shard_index());
    // As the proxy decides a simple query (the extended protocol does not combine aggregates).
    if (params.empty()) ctx.merge_results = true;
    router::Route route = router::route(analysis, ps, map->map, ctx);
    if (json)
        std::cout << router::explain_route_json(analysis, route, map->map).dump(2) << "\n";
    else
        std::cout << router::explain_route(analysis, route, map->map);
    return route.is_error() ? 1 : 0;
}

}  // namespace sg::cli
