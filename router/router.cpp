#include "router/router.h"

#include <algorithm>
#include <map>

#include "router/param_keys.h"
#include "router/pg_array.h"

namespace sg::router {
namespace {

Route error_route(Error e) {
    Route r;
    r.kind = Route::Kind::Error;
    r.error = std::move(e);
    return r;
}

// The reasons of a route (Route::why) are written only when the caller asked for them
// (`shardgate route`, the logs): `why` is called then, so the proxy's hot path builds no text.
template <class Why>
Route because(Route r, const RouterContext& ctx, Why&& why) {
    if (ctx.explain) r.why.push_back(why());
    return r;
}

Route single(uint16_t shard) {
    Route r;
    r.kind = Route::Kind::Single;
    r.shards = {shard};
    return r;
}

Route all_shards(const ShardMap& map) {
    Route r;
    r.kind = Route::Kind::All;
    for (uint16_t s = 0; s < map.shard_names().size(); ++s) r.shards.push_back(s);
    return r;
}

Route default_shard(const RouterContext& ctx) {
    Route r;
    r.kind = Route::Kind::Default;
    r.shards = {ctx.default_shard};
    return r;
}

// Every shard holds what the statement reads; a pinned session may use its own shard.
Route any_one_shard(const RouterContext& ctx) {
    Route r = default_shard(ctx);
    r.any_shard = true;
    return r;
}

Expected<uint16_t> named_shard(const ShardMap& map, const std::string& name, const char* origin) {
    int idx = map.shard_index(name);
    if (idx >= 0) return static_cast<uint16_t>(idx);
    std::string known;
    for (const auto& n : map.shard_names()) known += (known.empty() ? "" : ", ") + n;
    return Error{sqlstate::kInvalidParameterValue,
                 "unknown shard \"" + name + "\" in " + origin + "; known shards: " + known};
}

RoutedKey place_key(const Key& k, KeyType t, const ShardMap& map, bool explain = true) {
    uint32_t b = bucket_of_key(k, map.bucket_bits());
    return RoutedKey{explain ? display_key(t, k) : std::string(), b, map.shard_of_bucket(b)};
}

// The keys a KeyRef stands for once parameters are known (an array parameter: several), as
// the statement uses them (see param_keys.h). `unbounded`: a parameter's type makes the matching
// keys unknowable (every shard may hold rows); only comparisons can be.
Status resolve(const KeyRef& ref, const Params& params, KeyType t, std::vector<Key>& out,
               KeyUse use = KeyUse::Assign, bool* unbounded = nullptr) {
    if (ref.source == KeyRef::Source::Value) {
        out.push_back(ref.value);
        return Ok{};
    }
    if (ref.param < 1 || static_cast<size_t>(ref.param) > params.size()) {
        return Error{sqlstate::kProtocolViolation,
                     "statement uses parameter $" + std::to_string(ref.param) + " but only " +
                         std::to_string(params.size()) + " were bound"};
    }
    const Param& p = params[ref.param - 1];
    ParamKeys got;
    if (auto st = ref.cast ? cast_param_keys(p.null, p.format, p.bytes, p.type_oid, *ref.cast, t,
                                             use, got)
                           : param_keys(p.null, p.format, p.bytes, p.type_oid,
                                        ref.source == KeyRef::Source::ArrayParam, t, use, got);
        !st)
        return st;
    if (got.unbounded) {
        if (unbounded) *unbounded = true;
        return Ok{};
    }
    for (auto& k : got.keys) out.push_back(std::move(k));
    return Ok{};
}

Route with_shards(std::vector<uint16_t> shards, const ShardMap& map) {
    std::sort(shards.begin(), shards.end());
    shards.erase(std::unique(shards.begin(), shards.end()), shards.end());
    Route r;
    r.kind = shards.size() == 1                          ? Route::Kind::Single
             : shards.size() == map.shard_names().size() ? Route::Kind::All
                                                         : Route::Kind::Multi;
    r.shards = std::move(shards);
    return r;
}

// The shards that own buckets (kind All when that is every shard). A shard that owns none
// holds no row of any sharded table (a new shard's copies sit in staging until its switch),
// and may not even have the tables yet: fan-outs skip it.
Route serving_shards(const ShardMap& map, const RouterContext& ctx, const char* what) {
    Route r = with_shards(map.serving_shards(), map);
    const size_t n = r.shards.size();
    const bool every = r.kind == Route::Kind::All;
    return because(std::move(r), ctx, [&] {
        return every ? std::string(what) + ": every shard"
                     : std::string(what) + ": every shard that owns buckets (" + std::to_string(n) +
                           " of " + std::to_string(map.shard_names().size()) + ")";
    });
}

// A reference-table write goes to the shards that own buckets: a shard that owns none (just
// added, or drained) gets its copy from the rebalancer, which streams the changes made
// meanwhile until the switch that gives it its first buckets; that switch holds reference
// writes, so from then on the proxy's writes take over. Writing to it earlier would race
// the rebalancer's TRUNCATE-then-COPY.
Route reference_write(const ShardMap& map, const RouterContext& ctx) {
    return serving_shards(map, ctx, "write to reference table");
}

// Reference reads go to the default shard, whose copy the writes keep current as long as it
// owns buckets; a default shard that owns none (drained) may be stale: read a serving one.
Route reference_read(const ShardMap& map, const RouterContext& ctx) {
    Route r = any_one_shard(ctx);
    if (!map.owns_any(ctx.default_shard) && !map.serving_shards().empty()) {
        r.shards = {map.serving_shards().front()};
        r.any_shard =
            false;  // a shard without buckets (a session may be pinned to one) may be stale
        return because(std::move(r), ctx, [] {
            return "read of reference table: the default shard owns no buckets, so the first shard "
                   "that does";
        });
    }
    return because(std::move(r), ctx,
                   [] { return "read of reference table: any shard (the default one)"; });
}

Route route_insert_rows(const Analysis& a, const Params& params, const ShardMap& map,
                        const RouterContext& ctx) {
    std::map<uint16_t, std::vector<uint32_t>> by_shard;
    std::vector<uint16_t> shards;
    Route r;
    std::optional<uint32_t> bucket;  // common bucket when every row shares one
    bool one_bucket = true;
    for (uint32_t i = 0; i < a.rows.size(); ++i) {
        std::vector<Key> keys;
        if (auto st = resolve(a.rows[i].key, params, a.key_type, keys); !st) {
            return error_route(st.error());
        }
        RoutedKey rk = place_key(keys.front(), a.key_type, map, ctx.explain);
        one_bucket &= !bucket || *bucket == rk.bucket;
        bucket = rk.bucket;
        by_shard[rk.shard].push_back(i);
        shards.push_back(rk.shard);
        r.keys.push_back(std::move(rk));
    }
    if (a.key_assignment_unusable) {  // ON CONFLICT DO UPDATE SET key = <an expression>
        return error_route(Error{
            sqlstate::kFeatureNotSupported,
            "ON CONFLICT DO UPDATE sets shard key \"" + a.table_config->shard_key +
                "\" to an expression the router cannot place (only a constant, a "
                "parameter or excluded." +
                a.table_config->shard_key + "); moving rows between shards is not supported"});
    }
    if (a.key_assignment) {  // ON CONFLICT DO UPDATE SET key = ...
        std::vector<Key> target;
        if (auto st = resolve(*a.key_assignment, params, a.key_type, target); !st) {
            return error_route(st.error());
        }
        if (!one_bucket || bucket_of_key(target.front(), map.bucket_bits()) != *bucket) {
            return error_route(Error{sqlstate::kFeatureNotSupported,
                                     "ON CONFLICT DO UPDATE would change shard key \"" +
                                         a.table_config->shard_key +
                                         "\" to a value in another bucket; moving rows between "
                                         "shards is not supported"});
        }
    }
    // RETURNING rows come back in VALUES order: the proxy puts each shard's rows back in their
    // places, which needs every row to return one. ON CONFLICT DO NOTHING and DO UPDATE ...
    // WHERE may skip rows (a.on_conflict), and then which returned row is which cannot be told.
    if (a.returning && a.on_conflict && by_shard.size() > 1) {
        return error_route(
            Error{sqlstate::kFeatureNotSupported,
                  "INSERT ... ON CONFLICT DO NOTHING (or DO UPDATE ... WHERE) ... RETURNING into "
                  "sharded table \"" +
                      a.table + "\" with rows for " + std::to_string(by_shard.size()) +
                      " shards: the returned rows could not be put in VALUES order; insert the "
                      "rows of each shard key separately"});
    }
    Route placed = with_shards(std::move(shards), map);
    placed.keys = std::move(r.keys);
    for (auto& [shard, rows] : by_shard) placed.insert_rows.push_back({shard, std::move(rows)});
    const size_t parts = placed.insert_rows.size();
    return because(std::move(placed), ctx, [&] {
        return parts == 1 ? std::string("every VALUES row hashes to the same shard")
                          : "VALUES rows split over " + std::to_string(parts) + " shards";
    });
}

// UPDATE ... SET key = v: allowed only when v stays in the bucket the row is in.
std::optional<Error> check_key_assignment(const Analysis& a, const Route& r, const Params& params,
                                          const ShardMap& map) {
    const std::string& key = a.table_config->shard_key;
    auto refusal = [&](const std::string& detail) {
        return Error{sqlstate::kFeatureNotSupported,
                     "UPDATE of shard key \"" + key + "\" on sharded table \"" + a.table +
                         "\" is refused: " + detail +
                         "; moving rows between shards is not supported (delete and re-insert "
                         "the row instead)"};
    };
    if (a.key_assignment_unusable) return refusal("the new value is not a constant or parameter");
    if (r.keys.size() != 1) return refusal("the statement does not pin one shard-key value");
    std::vector<Key> target;
    if (auto st = resolve(*a.key_assignment, params, a.key_type, target); !st) return st.error();
    uint32_t b = bucket_of_key(target.front(), map.bucket_bits());
    if (b != r.keys.front().bucket) {
        return refusal("the new value is in bucket " + std::to_string(b) + ", the row in bucket " +
                       std::to_string(r.keys.front().bucket));
    }
    return std::nullopt;
}

bool reads_rows(const Analysis& a) {
    return a.kind == StatementKind::Select || a.kind == StatementKind::Utility ||
           (a.kind == StatementKind::Copy && !a.is_write);
}

// How a merged fan-out is answered, for `shardgate route` and the logs.
std::string describe_merge(const Analysis::MergePlan& m, const std::string& blocker) {
    std::string out = "uses " + blocker + ": ";
    if (!m.aggregates.empty())
        out += "each shard's partial aggregates are combined by the same aggregates";
    else if (m.distinct)
        out += "the shards' distinct rows are made distinct again";
    else
        out += "the shards' rows are merged";
    if (!m.having.empty()) out += ", HAVING applied to the combined groups";
    if (!m.order.empty()) out += ", in ORDER BY order";
    if (m.limit) out += ", LIMIT " + std::to_string(*m.limit);
    if (m.offset) out += ", OFFSET " + std::to_string(m.offset);
    out += " (computed on the default shard)";
    if (!m.shard_sql.empty()) out += "; each shard runs: " + m.shard_sql;
    return out;
}

// Subqueries restricted to shard-key values read only the rows one shard holds for them: the
// statement is right only on that shard, so every such subquery and the statement itself must
// come to one shard (the statement's own keys, when it has none, are the subqueries'). The
// subqueries' keys join the route's, so their buckets count as touched (rebalancing holds).
std::optional<Error> place_nested_keys(const Analysis& a, const Params& params, const ShardMap& map,
                                       const RouterContext& ctx, Route& r) {
    std::vector<RoutedKey> placed;
    for (const auto& refs : a.nested_keys) {
        std::vector<Key> keys;
        bool unbounded = false;
        for (const auto& ref : refs) {
            if (auto st = resolve(ref, params, a.key_type, keys, KeyUse::Compare, &unbounded); !st)
                return st.error();
        }
        if (unbounded)
            return Error{sqlstate::kFeatureNotSupported,
                         "a subquery or CTE of this statement compares the shard key with a "
                         "parameter whose declared "
                         "type leaves its shard unknown; bind it as the key's type"};
        for (const auto& k : keys) placed.push_back(place_key(k, a.key_type, map, ctx.explain));
    }
    if (placed.empty()) {  // empty key lists: those subqueries match nothing on any shard
        // Only they read sharded tables: any one shard answers (never all: the reference or
        // table-less rows around them would come once per shard).
        if (a.nested_only) {
            const bool default_serves =
                map.owns_any(ctx.default_shard) || map.serving_shards().empty();
            r = single(default_serves ? ctx.default_shard : map.serving_shards().front());
        }
        return std::nullopt;
    }
    if (a.nested_only) {
        r = single(placed.front().shard);
        if (ctx.explain) r.why.push_back("the subqueries' shard-key values decide the shard");
    }
    auto name = [&](uint16_t i) {
        const auto& names = map.shard_names();
        return i < names.size() ? names[i] : std::to_string(i);
    };
    for (const auto& k : placed) {
        if (r.kind == Route::Kind::Single && k.shard == r.shards.front()) continue;
        return Error{sqlstate::kFeatureNotSupported,
                     "a subquery or CTE of this statement reads sharded table rows on shard \"" +
                         name(k.shard) + "\" while the statement " +
                         (r.kind == Route::Kind::Single
                              ? "runs on shard \"" + name(r.shards.front()) + "\""
                              : "needs " + std::to_string(r.shards.size()) + " shards") +
                         "; a statement and its subqueries must stay on one shard in this version"};
    }
    for (auto& k : placed) r.keys.push_back(std::move(k));
    return std::nullopt;
}

Route route_sharded(const Analysis& a, const Params& params, const ShardMap& map,
                    const RouterContext& ctx, bool ignore_keys = false);

// A statement whose keys a parameter leaves unknown: it runs where it would without them.
Route route_unbounded(const Analysis& a, const Params& params, const ShardMap& map,
                      const RouterContext& ctx) {
    return route_sharded(a, params, map, ctx, true);
}

Route route_sharded(const Analysis& a, const Params& params, const ShardMap& map,
                    const RouterContext& ctx, bool ignore_keys) {
    const bool can_merge = ctx.merge_results;
    if (!a.rows.empty()) return route_insert_rows(a, params, map, ctx);
    if (a.kind == StatementKind::Copy && a.is_write) {
        return because(all_shards(map), ctx, [&] {
            return "COPY rows are split by shard key column " +
                   std::to_string(a.copy->key_column + 1);
        });
    }
    Route r;
    if (a.keys.empty() || ignore_keys) {
        r = serving_shards(map, ctx,
                           ignore_keys
                               ? "a parameter's declared type leaves the matching keys unknown"
                               : "no shard-key value");
    } else {
        std::vector<Key> keys;
        bool unbounded = false;
        for (const auto& ref : a.keys) {
            if (auto st = resolve(ref, params, a.key_type, keys, KeyUse::Compare, &unbounded); !st)
                return error_route(st.error());
        }
        if (unbounded) return route_unbounded(a, params, map, ctx);
        std::vector<uint16_t> shards;
        r.keys.reserve(keys.size());
        shards.reserve(keys.size());
        for (const auto& k : keys) {
            r.keys.push_back(place_key(k, a.key_type, map, ctx.explain));
            shards.push_back(r.keys.back().shard);
        }
        if (shards.empty())
            return because(single(0), ctx,
                           [] { return "the key list is empty: no shard holds a match"; });
        Route placed = with_shards(std::move(shards), map);
        placed.keys = std::move(r.keys);
        r = std::move(placed);
    }
    if (a.key_assignment || a.key_assignment_unusable) {
        if (auto e = check_key_assignment(a, r, params, map)) return error_route(*e);
    }
    if (!a.nested_keys.empty()) {
        if (auto e = place_nested_keys(a, params, map, ctx, r)) return error_route(*e);
    }
    if (a.colocated_select && r.kind != Route::Kind::Single && !a.fanout_blocker.empty()) {
        return error_route(
            Error{sqlstate::kFeatureNotSupported,
                  "INSERT ... SELECT into sharded table \"" + a.table + "\" needs " +
                      std::to_string(r.shards.size()) + " shards and uses " + a.fanout_blocker +
                      ", which each shard would apply to its own rows only; restrict the SELECT "
                      "to one shard by its shard key"});
    }
    if (r.kind != Route::Kind::Single && reads_rows(a) && !a.fanout_blocker.empty()) {
        if (can_merge && a.merge.has_value()) {
            if (ctx.explain) r.why.push_back(describe_merge(*a.merge, a.fanout_blocker));
            return r;
        }
        return error_route(Error{
            sqlstate::kFeatureNotSupported,
            "statement on sharded table \"" + a.table + "\" needs " +
                std::to_string(r.shards.size()) + " shards and uses " + a.fanout_blocker +
                ", which cannot be answered by concatenating the shards' rows; add a condition "
                "on shard key \"" +
                (a.table_config ? a.table_config->shard_key : "") +
                "\" or route it with /* shardgate.shard=NAME */"});
    }
    return r;
}

// Manual routing sends a statement where it is told, but never an INSERT of a row whose key
// belongs to another shard: that row would be stored where no read by its key finds it.
std::optional<Error> misplaced_insert(const Analysis& a, const Params& params, const ShardMap& map,
                                      uint16_t shard, const std::string& how) {
    if (a.kind != StatementKind::Insert || a.placement != Placement::Sharded) return std::nullopt;
    for (const auto& row : a.rows) {
        std::vector<Key> keys;
        if (!resolve(row.key, params, a.key_type, keys) || keys.empty())
            continue;  // reported when routed
        RoutedKey rk = place_key(keys.front(), a.key_type, map, false);
        if (rk.shard == shard) continue;
        auto name = [&](uint16_t i) {
            const auto& names = map.shard_names();
            return i < names.size() ? names[i] : std::to_string(i);
        };
        return Error{sqlstate::kFeatureNotSupported,
                     "INSERT of a row whose shard key " + display_key(a.key_type, keys.front()) +
                         " belongs on shard \"" + name(rk.shard) + "\" (bucket " +
                         std::to_string(rk.bucket) + "), but " + how + " sends it to shard \"" +
                         name(shard) + "\"; drop the manual routing for this INSERT"};
    }
    return std::nullopt;
}

Route route_hinted(const Analysis& a, const Params& params, const ShardMap& map,
                   const RouterContext& ctx) {
    if (a.hints.shard) {
        auto idx = named_shard(map, *a.hints.shard, "shardgate.shard hint");
        if (!idx) return error_route(idx.error());
        if (auto e = misplaced_insert(a, params, map, *idx, "the shardgate.shard hint"))
            return error_route(*e);
        return because(single(*idx), ctx,
                       [&] { return "/* shardgate.shard=" + *a.hints.shard + " */ hint"; });
    }
    if (!a.hint_key_type) {
        return error_route(Error{sqlstate::kInvalidParameterValue,
                                 "shardgate.key hint needs a statement on a sharded table (or "
                                 "tables sharded on one key type)"});
    }
    auto key = canonical_from_text(*a.hint_key_type, *a.hints.key);
    if (!key) return error_route(key.error());
    Route r;
    r.keys.push_back(place_key(*key, *a.hint_key_type, map, ctx.explain));
    r.kind = Route::Kind::Single;
    r.shards = {r.keys.front().shard};
    if (auto e = misplaced_insert(a, params, map, r.shards.front(), "the shardgate.key hint"))
        return error_route(*e);
    return because(std::move(r), ctx,
                   [&] { return "/* shardgate.key=" + *a.hints.key + " */ hint"; });
}

bool is_session_kind(StatementKind k) {
    switch (k) {
        case StatementKind::Empty:
        case StatementKind::Begin:
        case StatementKind::Commit:
        case StatementKind::Rollback:
        case StatementKind::Savepoint:
        case StatementKind::Set:
        case StatementKind::Show:
            return true;
        default:
            return false;
    }
}

Route route_one(const Analysis& a, const Params& params, const ShardMap& map,
                const RouterContext& ctx);

// Several statements in one Query message run on one connection, so they must agree.
Route route_multi(const Analysis& a, const Params& params, const ShardMap& map,
                  const RouterContext& ctx) {
    std::optional<Route> chosen;
    std::optional<Route> anywhere;  // the first statement any shard answers
    // The caller merges the reply of one statement, never of a statement inside a text.
    RouterContext part_ctx = ctx;
    part_ctx.merge_results = false;
    for (const Analysis& part : a.statements) {
        Route r = route_one(part, params, map, part_ctx);
        if (r.is_error()) return r;
        if (r.kind == Route::Kind::Session) continue;
        if (r.any_shard) {  // goes wherever the others go
            if (!anywhere) anywhere = std::move(r);
            continue;
        }
        if (r.kind == Route::Kind::Local) {
            return error_route(Error{sqlstate::kFeatureNotSupported,
                                     "SET/RESET/SHOW shardgate.shard must be sent on its own"});
        }
        if (!r.insert_rows.empty() && r.insert_rows.size() > 1) {
            return error_route(Error{sqlstate::kFeatureNotSupported,
                                     "a multi-row INSERT spanning shards must be sent on its own, "
                                     "not in a multi-statement query"});
        }
        if (chosen && chosen->shards != r.shards) {
            return error_route(Error{sqlstate::kFeatureNotSupported,
                                     "the statements of this multi-statement query need "
                                     "different shards; send them separately"});
        }
        if (!chosen) chosen = std::move(r);
    }
    if (!chosen) chosen = std::move(anywhere);
    if (!chosen) {
        Route r;
        r.kind = Route::Kind::Session;
        return r;
    }
    return because(std::move(*chosen), ctx,
                   [] { return "every statement of the query goes to the same shard(s)"; });
}

Route route_one(const Analysis& a, const Params& params, const ShardMap& map,
                const RouterContext& ctx) {
    if (a.kind == StatementKind::Multi) return route_multi(a, params, map, ctx);
    if (a.refusal) return error_route(*a.refusal);
    switch (a.kind) {
        case StatementKind::SetShard: {
            auto idx = named_shard(map, a.session_shard, "SET shardgate.shard");
            if (!idx) return error_route(idx.error());
            Route r;
            r.kind = Route::Kind::Local;
            r.shards = {*idx};
            return r;
        }
        case StatementKind::ResetShard:
        case StatementKind::ShowShard: {
            Route r;
            r.kind = Route::Kind::Local;
            return r;
        }
        default:
            break;
    }
    if (is_session_kind(a.kind)) {
        Route r;
        r.kind = Route::Kind::Session;
        return r;
    }
    // A fenced map (a shard carries a newer one, or there is none) must not decide where rows
    // live: statements that depend on bucket ownership are refused, naming the versions. A
    // shard named explicitly (hint, SET shardgate.shard) does not depend on the map.
    if (!map.fence().empty() && !a.hints.shard && !ctx.session_shard &&
        (a.hints.key || a.placement == Placement::Sharded || a.placement == Placement::Reference))
        return error_route(Error{sqlstate::kObjectNotInPrerequisiteState, map.fence()});
    if (a.hints.shard || a.hints.key) return route_hinted(a, params, map, ctx);
    if (ctx.session_shard) {
        auto idx = named_shard(map, *ctx.session_shard, "SET shardgate.shard");
        if (!idx) return error_route(idx.error());
        if (auto e = misplaced_insert(a, params, map, *idx, "SET shardgate.shard"))
            return error_route(*e);
        return because(single(*idx), ctx,
                       [&] { return "session setting shardgate.shard = " + *ctx.session_shard; });
    }
    if (a.kind == StatementKind::Unparseable) {
        if (a.names_distributed_table) {
            return error_route(Error{a.parse_error->sqlstate, a.parse_error->message});
        }
        return because(default_shard(ctx), ctx,
                       [] { return "unparseable, names no sharded or reference table"; });
    }
    switch (a.placement) {
        case Placement::None:
            return because(any_one_shard(ctx), ctx,
                           [] { return "no table: any shard (the default one)"; });
        case Placement::Unsharded:
            return because(default_shard(ctx), ctx, [&] {
                return "\"" + a.table + "\" is not in [[tables]]: default shard";
            });
        case Placement::Reference:
            if (a.is_write) return reference_write(map, ctx);
            return reference_read(map, ctx);
        case Placement::AllShards:
            return because(all_shards(map), ctx, [] { return "runs on every shard"; });
        case Placement::Sharded:
            return route_sharded(a, params, map, ctx);
    }
    return error_route(Error{sqlstate::kFeatureNotSupported, "statement cannot be routed"});
}

}  // namespace

const char* to_string(Route::Kind k) {
    switch (k) {
        case Route::Kind::Single:
            return "single";
        case Route::Kind::Multi:
            return "multi";
        case Route::Kind::All:
            return "all";
        case Route::Kind::Default:
            return "default";
        case Route::Kind::Local:
            return "local";
        case Route::Kind::Session:
            return "session";
        case Route::Kind::Error:
            return "error";
    }
    return "unknown";
}

Expected<Key> param_key(const Params& params, int n, KeyType t) {
    if (n < 1 || static_cast<size_t>(n) > params.size()) {
        return Error{sqlstate::kProtocolViolation,
                     "statement uses parameter $" + std::to_string(n) + " but only " +
                         std::to_string(params.size()) + " were bound"};
    }
    const Param& p = params[n - 1];
    ParamKeys got;
    if (auto st = param_keys(p.null, p.format, p.bytes, p.type_oid, false, t, KeyUse::Assign, got);
        !st)
        return st.error();
    return std::move(got.keys.front());
}

Route route(const Analysis& analysis, const Params& params, const ShardMap& map,
            const RouterContext& ctx) {
    return route_one(analysis, params, map, ctx);
}

}  // namespace sg::router
