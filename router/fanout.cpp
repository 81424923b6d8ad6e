#include "router/fanout.h"

#include <algorithm>
#include <array>
#include <deque>
#include <climits>
#include <cstdint>
#include <iterator>
#include <memory>
#include <string_view>

#include "router/parser.h"
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

namespace {

// How the shards' partial results of one aggregate call combine: count(*), count(x), sum(x),
// min(x), max(x), avg(x) (plain, built in, the argument free of aggregates); nullopt otherwise.
std::optional<Analysis::Merge> aggregate_kind(const PgQuery__FuncCall& f) {
    if (f.over || f.agg_distinct || f.n_agg_order || f.agg_filter || f.agg_within_group || f.func_variadic ||
        f.n_funcname == 0 || f.n_funcname > 2)
        return std::nullopt;
    if (f.n_funcname == 2 && string_value(f.funcname[0]) != "pg_catalog") return std::nullopt;
    std::string_view name = string_value(f.funcname[f.n_funcname - 1]);
    const bool star = f.agg_star && f.n_args == 0;
    if (!star && f.n_args != 1) return std::nullopt;
    // The argument is evaluated by each shard: it must not hold aggregates of its own.
    if (!star && !find_aggregate(&f.args[0]->base).empty()) return std::nullopt;
    if (name == "count") return Analysis::Merge::Sum;
    if (star) return std::nullopt;
    if (name == "sum") return Analysis::Merge::Sum;
    if (name == "min") return Analysis::Merge::Min;
    if (name == "max") return Analysis::Merge::Max;
    if (name == "avg") return Analysis::Merge::Avg;
    return std::nullopt;
}

// count(DISTINCT x), plain (x free of aggregates).
bool is_count_distinct(const PgQuery__FuncCall& f) {
    if (!f.agg_distinct || f.over || f.agg_star || f.n_agg_order || f.agg_filter || f.agg_within_group ||
        f.func_variadic || f.n_args != 1 || f.n_funcname == 0 || f.n_funcname > 2)
        return false;
    if (f.n_funcname == 2 && string_value(f.funcname[0]) != "pg_catalog") return false;
    return string_value(f.funcname[f.n_funcname - 1]) == "count" && find_aggregate(&f.args[0]->base).empty();
}

// Per output column, how an aggregating SELECT's partial results combine: count/sum/min/max/avg
// and the plain GROUP BY columns (all of them selected); nullopt for anything else.
std::optional<std::vector<Analysis::Merge>> aggregate_columns(const PgQuery__SelectStmt& s) {
    auto same_column = [](const ColumnName& x, const ColumnName& y) {
        return x.column == y.column && x.relation == y.relation && x.schema == y.schema;
    };
    std::vector<ColumnName> groups;
    for (size_t i = 0; i < s.n_group_clause; ++i) {
        auto c = column_name(s.group_clause[i]);
        if (!c) return std::nullopt;
        groups.push_back(*c);
    }
    std::vector<bool> group_selected(groups.size(), false);
    std::vector<Analysis::Merge> out;
    for (size_t i = 0; i < s.n_target_list; ++i) {
        const PgQuery__Node* n = s.target_list[i];
        if (n->node_case != PG_QUERY__NODE__NODE_RES_TARGET || !n->res_target->val) return std::nullopt;
        if (auto c = column_name(n->res_target->val)) {
            bool found = false;
            for (size_t g = 0; g < groups.size(); ++g)
                if (same_column(groups[g], *c)) group_selected[g] = found = true;
            if (!found) return std::nullopt;
            out.push_back(Analysis::Merge::Group);
            continue;
        }
        if (n->res_target->val->node_case != PG_QUERY__NODE__NODE_FUNC_CALL) return std::nullopt;
        if (is_count_distinct(*n->res_target->val->func_call)) {
            out.push_back(Analysis::Merge::CountDistinct);
            continue;
        }
        auto kind = aggregate_kind(*n->res_target->val->func_call);
        if (!kind) return std::nullopt;
        out.push_back(*kind);
    }
    if (std::find(group_selected.begin(), group_selected.end(), false) != group_selected.end())
        return std::nullopt;
    return out;
}

// An integer constant of LIMIT/OFFSET: its value, nullopt for NULL/ALL, an error otherwise.
struct LimitValue {
    bool usable = false;
    std::optional<int64_t> value;
};
LimitValue limit_value(const PgQuery__Node* n) {
    if (!n) return {true, std::nullopt};
    if (n->node_case != PG_QUERY__NODE__NODE_A_CONST) return {};
    const PgQuery__AConst& c = *n->a_const;
    if (c.isnull) return {true, std::nullopt};
    if (c.val_case != PG_QUERY__A__CONST__VAL_IVAL || c.ival->ival < 0) return {};
    return {true, int64_t(c.ival->ival)};
}

bool plain_distinct(const PgQuery__SelectStmt& s) {
    return s.n_distinct_clause == 1 &&
           (!s.distinct_clause[0] || s.distinct_clause[0]->node_case == PG_QUERY__NODE__NODE__NOT_SET);
}

}  // namespace

std::optional<Analysis::MergePlan> merge_plan(const PgQuery__SelectStmt& s) {
    if (s.n_target_list == 0 || s.n_window_clause || s.larg || s.rarg ||
        s.n_locking_clause || s.into_clause || s.n_values_lists)
        return std::nullopt;
    if (s.n_distinct_clause && !plain_distinct(s)) return std::nullopt;  // DISTINCT ON
    if (s.limit_option == PG_QUERY__LIMIT_OPTION__LIMIT_OPTION_WITH_TIES) return std::nullopt;
    Analysis::MergePlan plan;
    bool aggregating = s.n_group_clause > 0;
    for (size_t i = 0; i < s.n_target_list; ++i) {
        std::string found = find_aggregate(&s.target_list[i]->base);
        if (found.rfind("window", 0) == 0) return std::nullopt;
        if (!found.empty()) aggregating = true;
    }
    if (aggregating) {
        if (s.n_distinct_clause) return std::nullopt;
        auto cols = aggregate_columns(s);
        if (!cols) return std::nullopt;
        plan.aggregates = std::move(*cols);
    } else {
        if (s.having_clause) return std::nullopt;
        plan.distinct = s.n_distinct_clause > 0;
    }

    // ORDER BY output columns: a position, or a name the combining query finds among the
    // shards' result columns. A qualified name is the table's column only when no output
    // column is aliased to that name.
    bool has_star = false;
    std::vector<std::string_view> aliases;
    for (size_t i = 0; i < s.n_target_list; ++i) {
        const PgQuery__Node* n = s.target_list[i];
        if (n->node_case != PG_QUERY__NODE__NODE_RES_TARGET) return std::nullopt;
        const PgQuery__ResTarget& t = *n->res_target;
        if (t.name && *t.name) aliases.push_back(t.name);
        if (t.val && t.val->node_case == PG_QUERY__NODE__NODE_COLUMN_REF) {
            const PgQuery__ColumnRef& c = *t.val->column_ref;
            if (c.n_fields && c.fields[c.n_fields - 1]->node_case == PG_QUERY__NODE__NODE_A_STAR) has_star = true;
        }
    }
    auto output_name = [&](std::string_view name) {
        // Without `*`, the name must visibly be an output column: an alias or a selected column.
        if (has_star) return true;
        for (auto al : aliases)
            if (al == name) return true;
        for (size_t i = 0; i < s.n_target_list; ++i) {
            const PgQuery__ResTarget& t = *s.target_list[i]->res_target;
            if ((!t.name || !*t.name) && t.val)
                if (auto c = column_name(t.val); c && c->column == name) return true;
        }
        return false;
    };
    std::vector<PgQuery__Node*> hidden_exprs;
    for (size_t i = 0; i < s.n_sort_clause; ++i) {
        const PgQuery__Node* n = s.sort_clause[i];
        if (n->node_case != PG_QUERY__NODE__NODE_SORT_BY) return std::nullopt;
        const PgQuery__SortBy& by = *n->sort_by;
        if (by.n_use_op || by.sortby_dir == PG_QUERY__SORT_BY_DIR__SORTBY_USING || !by.node) return std::nullopt;
        Analysis::SortKey key;
        key.descending = by.sortby_dir == PG_QUERY__SORT_BY_DIR__SORTBY_DESC;
        if (by.sortby_nulls == PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_FIRST) key.nulls_first = 1;
        if (by.sortby_nulls == PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_LAST) key.nulls_first = 0;
        if (by.node->node_case == PG_QUERY__NODE__NODE_A_CONST) {
            const PgQuery__AConst& c = *by.node->a_const;
            if (c.isnull || c.val_case != PG_QUERY__A__CONST__VAL_IVAL || c.ival->ival < 1) return std::nullopt;
            if (!has_star && size_t(c.ival->ival) > s.n_target_list) return std::nullopt;
            key.position = uint32_t(c.ival->ival);
        } else {
            auto col = column_name(by.node);
            const bool shadowed = col && std::find(aliases.begin(), aliases.end(), col->column) != aliases.end();
            if (col && col->relation.empty() && shadowed) {
                key.name = std::string(col->column);  // an output alias: PostgreSQL looks there first
            } else if (col && !shadowed && !has_star && output_name(col->column)) {
                key.name = std::string(col->column);  // a selected column
            } else if (!aggregating && !plan.distinct) {
                // Evaluated per input row: plain rows carry it as an extra column (a qualified
                // name is the table's column even when an alias shadows it).
                key.hidden = ++plan.hidden;
                hidden_exprs.push_back(by.node);
            } else if (col && !shadowed && output_name(col->column)) {
                key.name = std::string(col->column);  // found among the shards' columns, or refused then
            } else {
                return std::nullopt;  // DISTINCT and aggregates sort by output columns only
            }
        }
        plan.order.push_back(std::move(key));
    }

    // HAVING: applied by the combining query to the combined groups. Its aggregates and
    // GROUP BY columns become placeholders for the combined values: the client's own columns
    // when it selects the same expression, else extra aggregates the shards compute.
    std::shared_ptr<PgQuery__Node> having_copy;  // owns the calls in having_extras
    std::vector<PgQuery__FuncCall*> having_extras;
    std::deque<std::string> names;
    std::deque<PgQuery__String> strings;
    std::deque<PgQuery__Node> string_nodes, extra_call_nodes;
    std::deque<std::array<PgQuery__Node*, 1>> fields;
    std::deque<PgQuery__ColumnRef> refs;
    if (s.having_clause) {
        having_copy = copy_node(*s.having_clause);
        if (!having_copy) return std::nullopt;
        std::vector<std::string> target_text;
        for (size_t i = 0; i < s.n_target_list; ++i) {
            auto t = deparse_expression(*s.target_list[i]->res_target->val);
            if (!t) return std::nullopt;
            target_text.push_back(std::move(*t));
        }
        const size_t avgs = std::count(plan.aggregates.begin(), plan.aggregates.end(), Analysis::Merge::Avg);
        auto placeholder = [&](PgQuery__Node& n, size_t column) {
            names.push_back(std::string(Analysis::kHavingPlaceholder) + std::to_string(column));
            PgQuery__String& str = strings.emplace_back();
            str = PG_QUERY__STRING__INIT;
            str.sval = names.back().data();
            PgQuery__Node& sn = string_nodes.emplace_back();
            sn = PG_QUERY__NODE__INIT;
            sn.node_case = PG_QUERY__NODE__NODE_STRING;
            sn.string = &str;
            auto& f = fields.emplace_back();
            f[0] = &sn;
            PgQuery__ColumnRef& ref = refs.emplace_back();
            ref = PG_QUERY__COLUMN_REF__INIT;
            ref.n_fields = 1;
            ref.fields = f.data();
            n.node_case = PG_QUERY__NODE__NODE_COLUMN_REF;
            n.column_ref = &ref;
        };
        bool ok = true;
        rewrite_nodes(&having_copy->base, [&](PgQuery__Node& n) {
            if (!ok) return false;
            if (n.node_case == PG_QUERY__NODE__NODE_SUB_LINK) {
                ok = false;  // a subquery: evaluated where?
                return false;
            }
            if (n.node_case == PG_QUERY__NODE__NODE_COLUMN_REF) {
                auto c = column_name(&n);
                for (size_t i = 0; c && i < s.n_target_list; ++i) {
                    if (plan.aggregates[i] != Analysis::Merge::Group) continue;
                    auto t = column_name(s.target_list[i]->res_target->val);
                    if (t && t->column == c->column &&
                        (c->relation.empty() || t->relation.empty() || c->relation == t->relation)) {
                        placeholder(n, i);
                        return false;
                    }
                }
                ok = false;  // not a grouped column the client selects
                return false;
            }
            if (n.node_case != PG_QUERY__NODE__NODE_FUNC_CALL) return true;
            const PgQuery__FuncCall& f = *n.func_call;
            if (find_aggregate(&n.base).empty()) return true;  // a plain function around aggregates
            std::string_view fname = f.n_funcname ? string_value(f.funcname[f.n_funcname - 1]) : "";
            if (!f.over && !f.agg_star && !f.agg_distinct && !f.n_agg_order && !f.agg_filter &&
                !f.agg_within_group && !is_known_aggregate(fname))
                return true;  // the aggregate is inside its arguments
            auto text = deparse_expression(n);
            if (!text) {
                ok = false;
                return false;
            }
            for (size_t i = 0; i < s.n_target_list; ++i)
                if (plan.aggregates[i] != Analysis::Merge::Group && target_text[i] == *text) {
                    placeholder(n, i);
                    return false;
                }
            auto kind = aggregate_kind(f);
            if (!kind || *kind == Analysis::Merge::Avg) {
                ok = false;  // an average would need its own count: select it to use it here
                return false;
            }
            having_extras.push_back(n.func_call);
            plan.extra_aggregates.push_back(*kind);
            placeholder(n, s.n_target_list + avgs + having_extras.size() - 1);
            return false;
        });
        if (!ok) return std::nullopt;
        auto text = deparse_expression(*having_copy);
        if (!text) return std::nullopt;
        plan.having = std::move(*text);
    }

    LimitValue limit = limit_value(s.limit_count);
    LimitValue offset = limit_value(s.limit_offset);
    if (!limit.usable || !offset.usable) return std::nullopt;
    plan.limit = limit.value;
    plan.offset = offset.value.value_or(0);

    // What the shards run: an aggregating SELECT's partial groups all (ordering and limits apply
    // to the combined groups only); plain rows keep ORDER BY and a LIMIT covering the OFFSET,
    // which each shard cannot apply on its own.
    PgQuery__SelectStmt shard = s;
    bool rewrite = false;
    PgQuery__Integer count_int = PG_QUERY__INTEGER__INIT;
    PgQuery__AConst count_const = PG_QUERY__A__CONST__INIT;
    PgQuery__Node count_node = PG_QUERY__NODE__INIT;
    if (aggregating) {
        if (s.having_clause) {
            shard.having_clause = nullptr;
            rewrite = true;
        }
        if (s.n_sort_clause || s.limit_count || s.limit_offset) {
            shard.n_sort_clause = 0;
            shard.sort_clause = nullptr;
            shard.limit_count = shard.limit_offset = nullptr;
            shard.limit_option = PG_QUERY__LIMIT_OPTION__LIMIT_OPTION_DEFAULT;
            rewrite = true;
        }
    } else if (s.limit_offset) {
        shard.limit_offset = nullptr;
        if (plan.limit) {
            int64_t covering = *plan.limit + plan.offset;
            if (covering > INT32_MAX) return std::nullopt;
            count_int.ival = int32_t(covering);
            count_const.val_case = PG_QUERY__A__CONST__VAL_IVAL;
            count_const.ival = &count_int;
            count_node.node_case = PG_QUERY__NODE__NODE_A_CONST;
            count_node.a_const = &count_const;
            shard.limit_count = &count_node;
            shard.limit_option = PG_QUERY__LIMIT_OPTION__LIMIT_OPTION_COUNT;
        } else {
            shard.limit_count = nullptr;
        }
        rewrite = true;
    }
    // Hidden sort columns: the ORDER BY expressions again, selected after the client's columns.
    std::vector<PgQuery__Node*> targets;
    std::vector<PgQuery__Node> avg_wrappers;
    std::vector<PgQuery__ResTarget> extra(hidden_exprs.size());
    std::vector<PgQuery__Node> extra_nodes(hidden_exprs.size());
    std::vector<std::string> extra_names(hidden_exprs.size());
    if (!hidden_exprs.empty()) {
        targets.assign(s.target_list, s.target_list + s.n_target_list);
        for (size_t i = 0; i < hidden_exprs.size(); ++i) {
            extra[i] = PG_QUERY__RES_TARGET__INIT;
            extra_names[i] = "shardgate_sort_" + std::to_string(i + 1);
            extra[i].name = extra_names[i].data();
            extra[i].val = hidden_exprs[i];
            extra_nodes[i] = PG_QUERY__NODE__INIT;
            extra_nodes[i].node_case = PG_QUERY__NODE__NODE_RES_TARGET;
            extra_nodes[i].res_target = &extra[i];
            targets.push_back(&extra_nodes[i]);
        }
        shard.target_list = targets.data();
        shard.n_target_list = targets.size();
        rewrite = true;
    }
    // avg(x): sum(x) in its place, named as the client's column, and count(x) at the end.
    std::vector<PgQuery__FuncCall> avg_calls;
    std::vector<PgQuery__ResTarget> avg_targets;
    std::vector<PgQuery__Node> avg_nodes;
    std::vector<std::string> avg_names;
    size_t avgs = std::count(plan.aggregates.begin(), plan.aggregates.end(), Analysis::Merge::Avg);
    PgQuery__String sum_name = PG_QUERY__STRING__INIT, count_name = PG_QUERY__STRING__INIT;
    PgQuery__Node sum_name_node = PG_QUERY__NODE__INIT, count_name_node = PG_QUERY__NODE__INIT;
    PgQuery__Node* sum_funcname[1] = {&sum_name_node};
    PgQuery__Node* count_funcname[1] = {&count_name_node};
    if (avgs) {
        sum_name.sval = const_cast<char*>("sum");
        count_name.sval = const_cast<char*>("count");
        sum_name_node.node_case = count_name_node.node_case = PG_QUERY__NODE__NODE_STRING;
        sum_name_node.string = &sum_name;
        count_name_node.string = &count_name;
        avg_calls.resize(2 * avgs);
        avg_targets.resize(2 * avgs);
        avg_nodes.resize(2 * avgs);
        avg_names.resize(2 * avgs);
        targets.assign(s.target_list, s.target_list + s.n_target_list);
        size_t k = 0;
        for (size_t i = 0; i < s.n_target_list; ++i) {
            if (plan.aggregates[i] != Analysis::Merge::Avg) continue;
            const PgQuery__ResTarget& t = *s.target_list[i]->res_target;
            for (int part = 0; part < 2; ++part) {
                const size_t j = 2 * k + size_t(part);
                avg_calls[j] = *t.val->func_call;
                avg_calls[j].n_funcname = 1;
                avg_calls[j].funcname = part == 0 ? sum_funcname : count_funcname;
                avg_targets[j] = PG_QUERY__RES_TARGET__INIT;
                avg_names[j] = part == 0 ? (t.name && *t.name ? std::string(t.name) : std::string("avg"))
                                         : "shardgate_avg_count_" + std::to_string(k + 1);
                avg_targets[j].name = avg_names[j].data();
                avg_nodes[j] = PG_QUERY__NODE__INIT;
                avg_nodes[j].node_case = PG_QUERY__NODE__NODE_FUNC_CALL;
                avg_nodes[j].func_call = &avg_calls[j];
                // The ResTarget's value is a Node wrapping the call.
                avg_targets[j].val = &avg_nodes[j];
            }
            ++k;
        }
        // Targets are Nodes wrapping ResTargets.
        avg_wrappers.resize(2 * avgs);
        k = 0;
        for (size_t i = 0; i < s.n_target_list; ++i) {
            if (plan.aggregates[i] != Analysis::Merge::Avg) continue;
            for (int part = 0; part < 2; ++part) {
                const size_t j = 2 * k + size_t(part);
                avg_wrappers[j] = PG_QUERY__NODE__INIT;
                avg_wrappers[j].node_case = PG_QUERY__NODE__NODE_RES_TARGET;
                avg_wrappers[j].res_target = &avg_targets[j];
            }
            targets[i] = &avg_wrappers[2 * k];
            targets.push_back(&avg_wrappers[2 * k + 1]);
            ++k;
        }
        plan.hidden = uint32_t(avgs);
        shard.target_list = targets.data();
        shard.n_target_list = targets.size();
        rewrite = true;
    }
    // count(DISTINCT x): x in its place, and in the GROUP BY, so that each shard returns each
    // of its distinct values (per group); the combining query counts them.
    const size_t distincts =
        std::count(plan.aggregates.begin(), plan.aggregates.end(), Analysis::Merge::CountDistinct);
    std::vector<PgQuery__ResTarget> distinct_targets(distincts);
    std::vector<PgQuery__Node> distinct_wrappers(distincts);
    std::vector<std::string> distinct_names(distincts);
    std::vector<PgQuery__Node*> groups;
    if (distincts) {
        if (targets.empty()) targets.assign(s.target_list, s.target_list + s.n_target_list);
        groups.assign(s.group_clause, s.group_clause + s.n_group_clause);
        for (size_t i = 0, k = 0; i < s.n_target_list; ++i) {
            if (plan.aggregates[i] != Analysis::Merge::CountDistinct) continue;
            const PgQuery__ResTarget& t = *s.target_list[i]->res_target;
            PgQuery__Node* arg = t.val->func_call->args[0];
            distinct_targets[k] = PG_QUERY__RES_TARGET__INIT;
            distinct_names[k] = t.name && *t.name ? std::string(t.name) : std::string("count");
            distinct_targets[k].name = distinct_names[k].data();
            distinct_targets[k].val = arg;
            distinct_wrappers[k] = PG_QUERY__NODE__INIT;
            distinct_wrappers[k].node_case = PG_QUERY__NODE__NODE_RES_TARGET;
            distinct_wrappers[k].res_target = &distinct_targets[k];
            targets[i] = &distinct_wrappers[k];
            groups.push_back(arg);
            ++k;
        }
        shard.target_list = targets.data();
        shard.n_target_list = targets.size();
        shard.group_clause = groups.data();
        shard.n_group_clause = groups.size();
        rewrite = true;
    }
    // HAVING's own aggregates, after avg's counts.
    std::vector<PgQuery__ResTarget> having_targets(having_extras.size());
    std::vector<PgQuery__Node> having_wrappers(having_extras.size());
    std::vector<std::string> having_names(having_extras.size());
    if (!having_extras.empty()) {
        if (targets.empty()) targets.assign(s.target_list, s.target_list + s.n_target_list);
        for (size_t k = 0; k < having_extras.size(); ++k) {
            PgQuery__Node& call = extra_call_nodes.emplace_back();
            call = PG_QUERY__NODE__INIT;
            call.node_case = PG_QUERY__NODE__NODE_FUNC_CALL;
            call.func_call = having_extras[k];
            having_targets[k] = PG_QUERY__RES_TARGET__INIT;
            having_names[k] = "shardgate_having_" + std::to_string(k + 1);
            having_targets[k].name = having_names[k].data();
            having_targets[k].val = &call;
            having_wrappers[k] = PG_QUERY__NODE__INIT;
            having_wrappers[k].node_case = PG_QUERY__NODE__NODE_RES_TARGET;
            having_wrappers[k].res_target = &having_targets[k];
            targets.push_back(&having_wrappers[k]);
        }
        plan.hidden += uint32_t(having_extras.size());
        shard.target_list = targets.data();
        shard.n_target_list = targets.size();
        rewrite = true;
    }
    if (rewrite) {
        auto sql = deparse_select(shard);
        if (!sql) return std::nullopt;
        plan.shard_sql = std::move(*sql);
    }
    return plan;
}

}  // namespace sg::router::detail
