#include "router/fanout.h"

#include <algorithm>
#include <iterator>
#include <string_view>

#include "router/sql_nodes.h"

namespace sg::router::detail {
namespace {

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

// The first aggregate or window function in `m`, not looking into subqueries.
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

}  // namespace

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

std::vector<Analysis::Merge> mergeable_aggregates(const PgQuery__SelectStmt& s) {
    if (s.n_target_list == 0 || s.having_clause || s.n_distinct_clause ||
        s.n_window_clause || s.n_sort_clause || s.limit_count || s.limit_offset || s.larg ||
        s.rarg || s.n_locking_clause || s.into_clause || s.n_values_lists)
        return {};
    // GROUP BY plain columns only, each of them also selected (the combining query groups the
    // shards' rows by them again).
    auto same_column = [](const ColumnName& x, const ColumnName& y) {
        return x.column == y.column && x.relation == y.relation && x.schema == y.schema;
    };
    std::vector<ColumnName> groups;
    for (size_t i = 0; i < s.n_group_clause; ++i) {
        auto c = column_name(s.group_clause[i]);
        if (!c) return {};
        groups.push_back(*c);
    }
    std::vector<bool> group_selected(groups.size(), false);
    std::vector<Analysis::Merge> out;
    for (size_t i = 0; i < s.n_target_list; ++i) {
        const PgQuery__Node* n = s.target_list[i];
        if (n->node_case != PG_QUERY__NODE__NODE_RES_TARGET || !n->res_target->val) return {};
        if (auto c = column_name(n->res_target->val)) {
            bool found = false;
            for (size_t g = 0; g < groups.size(); ++g)
                if (same_column(groups[g], *c)) group_selected[g] = found = true;
            if (!found) return {};
            out.push_back(Analysis::Merge::Group);
            continue;
        }
        if (n->res_target->val->node_case != PG_QUERY__NODE__NODE_FUNC_CALL) return {};
        const PgQuery__FuncCall& f = *n->res_target->val->func_call;
        if (f.over || f.agg_distinct || f.n_agg_order || f.agg_filter || f.agg_within_group ||
            f.func_variadic || f.n_funcname == 0 || f.n_funcname > 2)
            return {};
        if (f.n_funcname == 2 && string_value(f.funcname[0]) != "pg_catalog") return {};
        std::string_view name = string_value(f.funcname[f.n_funcname - 1]);
        const bool star = f.agg_star && f.n_args == 0;
        if (!star && f.n_args != 1) return {};
        // The argument is evaluated by each shard: it must not hold aggregates of its own.
        if (!star && !find_aggregate(&f.args[0]->base).empty()) return {};
        if (name == "count" || name == "sum") out.push_back(Analysis::Merge::Sum);
        else if (name == "min" && !star) out.push_back(Analysis::Merge::Min);
        else if (name == "max" && !star) out.push_back(Analysis::Merge::Max);
        else return {};
        if (name == "sum" && star) return {};
    }
    if (std::find(group_selected.begin(), group_selected.end(), false) != group_selected.end())
        return {};
    return out;
}

}  // namespace sg::router::detail
