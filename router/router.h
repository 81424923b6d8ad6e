// The routing decision: a pure function of (analysis, parameters, shard map, session context).
// No I/O and no exceptions: a refusal is Route::Kind::Error carrying the SQLSTATE and message
// the client should see.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "router/analyzer.h"
#include "router/hash.h"
#include "router/result.h"
#include "router/shard_map.h"

namespace sg::router {

// One Bind parameter. `bytes` points into the Bind message, which outlives the routing call.
struct Param {
    bool null = false;
    ParamFormat format = ParamFormat::Text;
    std::string_view bytes;
    uint32_t type_oid = 0;  // the type the client declared in Parse; 0: left to the server
};
using Params = std::vector<Param>;  // Params[0] is $1

struct RouterContext {
    std::optional<std::string> session_shard;  // SET shardgate.shard = '...'
    uint16_t default_shard = 0;                // unsharded tables (Config::default_shard_index)
    // The caller combines the shards' rows of statements with an Analysis::merge plan.
    bool merge_results = false;
    // Fill in the explanations (Route::why, RoutedKey::text); the proxy's hot path does not.
    bool explain = true;
};

struct RoutedKey {
    std::string text;  // the key value, displayed for its type (when explaining)
    uint32_t bucket = 0;
    uint16_t shard = 0;
};

// Rows of a multi-row INSERT that go to one shard (indexes into Analysis::rows).
struct ShardRows {
    uint16_t shard = 0;
    std::vector<uint32_t> rows;
};

struct Route {
    enum class Kind : uint8_t {
        Single,   // exactly shards[0]
        Multi,    // the shards in `shards` (sorted, unique); INSERT rows split by insert_rows
        All,      // every shard of the map (in `shards`)
        Default,  // the default shard (in shards[0]): unsharded tables, no table at all
        Local,    // answered by the proxy itself (SET/RESET/SHOW shardgate.shard)
        Session,  // transaction control and session settings: the proxy applies them to the
                  // shard(s) the transaction or session is using
        Error,
    };
    Kind kind = Kind::Default;
    std::vector<uint16_t> shards;
    std::vector<ShardRows> insert_rows;  // INSERT ... VALUES, one entry per shard
    std::vector<RoutedKey> keys;
    // Any one shard answers correctly (reference-table reads, statements without tables): a
    // session already pinned to a shard, e.g. inside a transaction, may use that shard.
    bool any_shard = false;
    Error error;                   // Kind::Error
    std::vector<std::string> why;  // the router's reasons (the analysis has its own)

    bool is_error() const { return kind == Kind::Error; }
};
const char* to_string(Route::Kind k);

Route route(const Analysis& analysis, const Params& params, const ShardMap& map,
            const RouterContext& ctx);

// An INSERT ... VALUES holding only `rows` (indexes into analysis.rows, in the order wanted),
// keeping everything around the VALUES list (column list, ON CONFLICT, RETURNING). For the
// extended protocol, parameters are renumbered densely: new $k is old $param_map[k-1].
struct RenderedInsert {
    std::string sql;
    std::vector<int> param_map;
};
RenderedInsert render_insert_subset(const Analysis& analysis, std::string_view sql,
                                    const std::vector<uint32_t>& rows);

// The canonical key of parameter $n (1-based) for a key of type `t`.
Expected<Key> param_key(const Params& params, int n, KeyType t);

}  // namespace sg::router
