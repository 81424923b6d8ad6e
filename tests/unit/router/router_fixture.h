// The catalog and 4-shard map the router tests share. Placement of the keys used (computed
// with python3-xxhash, bucket_bits 12, map[b] = b mod 4):
//   bigint 1 -> s2, 2 -> s3, 3 -> s1, 4 -> s0, 5 -> s0, 42 -> s0 (bucket 1992), -1 -> s3
//   text 'alice' -> s0, 'bob' -> s1
#pragma once

#include <string>
#include <vector>

#include "router/analyzer.h"
#include "router/router.h"
#include "router/shard_map.h"

namespace sg::router::testing {

inline TableCatalog test_catalog() {
    auto sharded = [](const char* name, const char* key, KeyType t) {
        return TableConfig{name, TableKind::Sharded, key, t};
    };
    return TableCatalog({
        sharded("pgbench_accounts", "aid", KeyType::BigInt),
        sharded("users", "id", KeyType::BigInt),
        sharded("public.orders", "user_id", KeyType::BigInt),
        sharded("docs", "name", KeyType::Text),
        sharded("sessions", "sid", KeyType::Uuid),
        sharded("tiny", "k", KeyType::SmallInt),
        TableConfig{"countries", TableKind::Reference, "", KeyType::BigInt},
    });
}

inline ShardMap test_map() {
    return ShardMap::make_default(12, {"s0", "s1", "s2", "s3"});
}

inline Param text_param(std::string_view v) {
    return Param{false, ParamFormat::Text, v};
}
inline Param binary_param(std::string_view v) {
    return Param{false, ParamFormat::Binary, v};
}
inline Param null_param() {
    return Param{true, ParamFormat::Text, {}};
}

inline Route route_sql(const std::string& sql, const Params& params = {},
                       RouterContext ctx = RouterContext{}) {
    static const TableCatalog catalog = test_catalog();
    static const ShardMap map = test_map();
    return route(analyze(sql, catalog), params, map, ctx);
}

}  // namespace sg::router::testing
