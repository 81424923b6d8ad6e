// Why a SELECT's rows cannot simply be concatenated across shards (its "fan-out blocker"):
// an aggregate (found anywhere in the target list or ORDER BY, FILTER/OVER/WITHIN GROUP
// included), DISTINCT, ORDER BY, LIMIT, ... The merge planner (fanout.cpp) lifts some.
#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <deque>
#include <iterator>
#include <memory>
#include <string_view>
#include "router/fanout.h"
#include "router/parser.h"
#include "router/sql_nodes.h"

namespace sg::router::detail {

// Built-in aggregates; user-defined ones are not recognisable from the text alone.
bool is_known_aggregate(std::string_view f) {
    // clang-format off
    static constexpr std::string_view kAggregates[] = {
        "count", "sum", "avg", "min", "max", "array_agg", "string_agg", "bool_and", "bool_or",
        "every", "bit_and", "bit_or", "bit_xor", "json_agg", "jsonb_agg", "json_object_agg",
        "jsonb_object_agg", "xmlagg", "stddev", "stddev_pop", "stddev_samp", "variance",
        "var_pop", "var_samp", "corr", "covar_pop", "covar_samp", "percentile_cont",
        "percentile_disc", "mode", "rank", "dense_rank", "range_agg", "range_intersect_agg"};
    // clang-format on
    return std::find(std::begin(kAggregates), std::end(kAggregates), f) != std::end(kAggregates);
}

std::string find_aggregate(const ProtobufCMessage* m) {
    std::string found;
    walk(m, [&](const ProtobufCMessage& msg) {
        if (!found.empty() || msg.descriptor == &pg_query__sub_link__descriptor) return false;
        if (msg.descriptor != &pg_query__func_call__descriptor) return true;
        const auto& f = reinterpret_cast<const PgQuery__FuncCall&>(msg);
        std::string_view name = f.n_funcname ? string_value(f.funcname[f.n_funcname - 1]) : "";
        if (f.over) {
            found = "window function " + std::string(name) + "()";
        } else if (f.agg_star || f.agg_distinct || f.n_agg_order || f.agg_filter ||
                   f.agg_within_group || is_known_aggregate(name)) {
            found = "aggregate function " + std::string(name) + "()";
        }
        return found.empty();
    });
    return found;
}

std::string fanout_blocker(const PgQuery__SelectStmt& s) {
    for (size_t i = 0; i < s.n_target_list; ++i) {
        auto agg = find_aggregate(&s.target_list[i]->base);
        if (!agg.empty()) return agg;
    }
    if (s.n_group_clause) return "GROUP BY";
    if (s.having_clause) return "HAVING";
    if (s.n_distinct_clause) return "DISTINCT";
    if (s.n_window_clause) return "WINDOW";
    if (s.n_sort_clause) {
        for (size_t i = 0; i < s.n_sort_clause; ++i) {
            auto agg = find_aggregate(&s.sort_clause[i]->base);
            if (!agg.empty()) return agg;
        }
        return "ORDER BY";
    }
    if (s.limit_count) return "LIMIT";
    if (s.limit_offset) return "OFFSET";
    return "";
}

}  // namespace sg::router::detail
