// What `shardgate route -c FILE "SQL" [--param V ...]` prints: the statement kind, table,
// key values, buckets, shards and the reasons, as text for people or JSON for tools.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "router/analyzer.h"
#include "router/router.h"
#include "router/shard_map.h"

namespace sg::router {

std::string explain_route(const Analysis& analysis, const Route& route, const ShardMap& map);
nlohmann::json explain_route_json(const Analysis& analysis, const Route& route,
                                  const ShardMap& map);

}  // namespace sg::router
