// `shardgate route`: explain where a statement goes, without running it.
#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "router/explain.h"
#include "router/router.h"
#include "router/shard_map.h"
#include "router/statement_cache.h"

namespace sg::cli {

int run_route(const Config& cfg, const std::string& sql, const std::vector<std::string>& params, bool json) {
    // Explaining never writes: without a map file, the default layout is what a proxy would create.
    std::vector<std::string> names;
    for (const auto& s : cfg.shards) names.push_back(s.name);
    auto map = std::filesystem::exists(cfg.map_path())
                   ? router::load_or_create(cfg.map_path(), cfg)
                   : router::Expected<router::ShardMap>(router::ShardMap::make_default(cfg.sharding.bucket_bits, names));
    if (!map) {
        std::cerr << "shardgate route: " << map.error().message << "\n";
        return 2;
    }
    router::Analysis analysis = router::analyze(sql, router::TableCatalog(cfg.tables));
    router::Params ps;
    for (const auto& p : params) ps.push_back({false, router::ParamFormat::Text, p});
    router::RouterContext ctx;
    ctx.default_shard = static_cast<uint16_t>(cfg.default_shard_index());
    // As the proxy decides a simple query (the extended protocol does not combine aggregates).
    if (params.empty()) ctx.merge_results = true;
    router::Route route = router::route(analysis, ps, *map, ctx);
    if (json) std::cout << router::explain_route_json(analysis, route, *map).dump(2) << "\n";
    else std::cout << router::explain_route(analysis, route, *map);
    return route.is_error() ? 1 : 0;
}

}  // namespace sg::cli
