#include "router/fanout.h"

#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <deque>
#include <iterator>
#include <memory>
#include <string_view>

#include "router/node_factory.h"
#include "router/parser.h"
#include "router/sql_nodes.h"

namespace sg::router::detail {
namespace {

// string_agg(x, 'sep'): the separator, a string constant, as an SQL literal; nullopt otherwise.
std::optional<std::string> string_agg_separator(const PgQuery__FuncCall& f) {
    if (f.n_args != 2 || f.args[1]->node_case != PG_QUERY__NODE__NODE_A_CONST) return std::nullopt;
    const PgQuery__AConst& c = *f.args[1]->a_const;
    if (c.isnull || c.val_case != PG_QUERY__A__CONST__VAL_SVAL) return std::nullopt;
    return sql_string_literal(c.sval->sval);
}

// How the shards' partial results of one aggregate call combine: count(*), count(x), sum(x),
// min(x), max(x), avg(x), bool_and/every/bool_or(x), bit_and/bit_or/bit_xor(x) (plain, built in,
// the argument free of aggregates); nullopt otherwise.
std::optional<Analysis::Merge> aggregate_kind(const PgQuery__FuncCall& f) {
    if (f.over || f.agg_distinct || f.n_agg_order || f.agg_filter || f.agg_within_group ||
        f.func_variadic || f.n_funcname == 0 || f.n_funcname > 2)
        return std::nullopt;
    if (f.n_funcname == 2 && string_value(f.funcname[0]) != "pg_catalog") return std::nullopt;
    std::string_view name = string_value(f.funcname[f.n_funcname - 1]);
    const bool star = f.agg_star && f.n_args == 0;
    if (name == "string_agg" && f.n_args == 2 && string_agg_separator(f)) {
        if (!find_aggregate(&f.args[0]->base).empty()) return std::nullopt;
        return Analysis::Merge::StringAgg;
    }
    if (!star && f.n_args != 1) return std::nullopt;
    // The argument is evaluated by each shard: it must not hold aggregates of its own.
    if (!star && !find_aggregate(&f.args[0]->base).empty()) return std::nullopt;
    if (name == "count") return Analysis::Merge::Count;
    if (star) return std::nullopt;
    if (name == "sum") return Analysis::Merge::Sum;
    if (name == "min") return Analysis::Merge::Min;
    if (name == "max") return Analysis::Merge::Max;
    if (name == "avg") return Analysis::Merge::Avg;
    if (name == "bool_and" || name == "every") return Analysis::Merge::BoolAnd;
    if (name == "bool_or") return Analysis::Merge::BoolOr;
    if (name == "bit_and") return Analysis::Merge::BitAnd;
    if (name == "bit_or") return Analysis::Merge::BitOr;
    if (name == "bit_xor") return Analysis::Merge::BitXor;
    return std::nullopt;
}

// count(DISTINCT x), plain (x free of aggregates).
bool is_count_distinct(const PgQuery__FuncCall& f) {
    if (!f.agg_distinct || f.over || f.agg_star || f.n_agg_order || f.agg_filter ||
        f.agg_within_group || f.func_variadic || f.n_args != 1 || f.n_funcname == 0 ||
        f.n_funcname > 2)
        return false;
    if (f.n_funcname == 2 && string_value(f.funcname[0]) != "pg_catalog") return false;
    return string_value(f.funcname[f.n_funcname - 1]) == "count" &&
           find_aggregate(&f.args[0]->base).empty();
}

// Per output column, how an aggregating SELECT's partial results combine: count/sum/min/max/avg
// and the plain GROUP BY columns (all of them selected); nullopt for anything else.
std::optional<std::vector<Analysis::Merge>> aggregate_columns(
    const PgQuery__SelectStmt& s, std::vector<std::string>& separators) {
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
        if (n->node_case != PG_QUERY__NODE__NODE_RES_TARGET || !n->res_target->val)
            return std::nullopt;
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
        if (*kind == Analysis::Merge::StringAgg) {
            separators.resize(out.size());
            separators.back() = *string_agg_separator(*n->res_target->val->func_call);
        }
    }
    if (std::find(group_selected.begin(), group_selected.end(), false) != group_selected.end())
        return std::nullopt;
    return out;
}

// An integer constant of LIMIT/OFFSET: its value, nullopt for NULL/ALL; or a parameter
// ($n, bound at each execution); unusable otherwise.
struct LimitValue {
    bool usable = false;
    std::optional<int64_t> value;
    uint32_t param = 0;
};
LimitValue limit_value(const PgQuery__Node* n) {
    if (!n) return {true, std::nullopt};
    if (n->node_case == PG_QUERY__NODE__NODE_PARAM_REF) {
        if (n->param_ref->number <= 0) return {};
        return {true, std::nullopt, uint32_t(n->param_ref->number)};
    }
    if (n->node_case != PG_QUERY__NODE__NODE_A_CONST) return {};
    const PgQuery__AConst& c = *n->a_const;
    if (c.isnull) return {true, std::nullopt};
    if (c.val_case != PG_QUERY__A__CONST__VAL_IVAL || c.ival->ival < 0) return {};
    return {true, int64_t(c.ival->ival)};
}

// The one column an expression reads, when it reads exactly one (possibly several times) and
// sets no collation of its own (no COLLATE, no subquery): the column whose collation
// PostgreSQL derives for a text expression over it. nullptr otherwise.
PgQuery__Node* sole_column(PgQuery__Node* expr) {
    // A bare column is its own: the shards' column already names its table and attribute.
    if (expr->node_case == PG_QUERY__NODE__NODE_COLUMN_REF) return nullptr;
    PgQuery__Node* found = nullptr;
    std::optional<ColumnName> name;
    bool ok = true;
    rewrite_nodes(&expr->base, [&](PgQuery__Node& n) {
        if (!ok) return false;
        if (n.node_case == PG_QUERY__NODE__NODE_SUB_LINK ||
            n.node_case == PG_QUERY__NODE__NODE_COLLATE_CLAUSE) {
            ok = false;  // a collation of its own, or one from elsewhere
            return false;
        }
        if (n.node_case != PG_QUERY__NODE__NODE_COLUMN_REF) return true;
        auto c = column_name(&n);
        if (!c) {
            ok = false;  // a star
        } else if (!name) {
            name = c;
            found = &n;
        } else if (name->column != c->column || name->relation != c->relation ||
                   name->schema != c->schema) {
            ok = false;  // two columns: their collations may differ
        }
        return false;
    });
    return ok ? found : nullptr;
}

// The statement's LIMIT and OFFSET into `plan` (constants or parameters); false when either is
// something else.
bool read_limits(const PgQuery__SelectStmt& s, Analysis::MergePlan& plan) {
    LimitValue limit = limit_value(s.limit_count);
    LimitValue offset = limit_value(s.limit_offset);
    if (!limit.usable || !offset.usable) return false;
    plan.limit = limit.value;
    plan.offset = offset.value.value_or(0);
    plan.limit_param = limit.param;
    plan.offset_param = offset.param;
    return true;
}

bool plain_distinct(const PgQuery__SelectStmt& s) {
    return s.n_distinct_clause == 1 && (!s.distinct_clause[0] || s.distinct_clause[0]->node_case ==
                                                                     PG_QUERY__NODE__NODE__NOT_SET);
}

// One ORDER BY item: its direction, its NULLS placement and its position when it is one
// (ORDER BY 2; `outputs` columns, any number with a `*`). nullopt for what the combining query
// cannot reproduce (USING an operator, a position out of range).
struct SortItem {
    Analysis::SortKey key;
    const PgQuery__SortBy* by = nullptr;
};
std::optional<SortItem> sort_item(const PgQuery__Node* n, size_t outputs, bool star) {
    if (n->node_case != PG_QUERY__NODE__NODE_SORT_BY) return std::nullopt;
    const PgQuery__SortBy& by = *n->sort_by;
    if (by.n_use_op || by.sortby_dir == PG_QUERY__SORT_BY_DIR__SORTBY_USING || !by.node)
        return std::nullopt;
    SortItem item;
    item.by = &by;
    item.key.descending = by.sortby_dir == PG_QUERY__SORT_BY_DIR__SORTBY_DESC;
    if (by.sortby_nulls == PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_FIRST) item.key.nulls_first = 1;
    if (by.sortby_nulls == PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_LAST) item.key.nulls_first = 0;
    if (by.node->node_case == PG_QUERY__NODE__NODE_A_CONST) {
        const PgQuery__AConst& c = *by.node->a_const;
        if (c.isnull || c.val_case != PG_QUERY__A__CONST__VAL_IVAL || c.ival->ival < 1)
            return std::nullopt;
        if (!star && size_t(c.ival->ival) > outputs) return std::nullopt;
        item.key.position = uint32_t(c.ival->ival);
    }
    return item;
}

// Plain rows with an OFFSET: no shard may skip rows on its own. The shard's statement drops
// the OFFSET and returns the first limit + offset rows instead (computed by the shard from the
// bound values for $n), or all of them without a LIMIT. False when the sum does not fit.
bool cover_offset(PgQuery__SelectStmt& shard, const Analysis::MergePlan& plan, NodeFactory& make) {
    shard.limit_offset = nullptr;
    if (plan.limit_param || plan.offset_param) {
        if (plan.limit || plan.limit_param) {
            auto operand = [&](uint32_t param, int64_t value) -> PgQuery__Node* {
                return param ? make.bigint_param(param) : make.integer(int32_t(value));
            };
            if (plan.limit.value_or(0) > INT32_MAX || plan.offset > INT32_MAX) return false;
            shard.limit_count = make.plus(operand(plan.limit_param, plan.limit.value_or(0)),
                                          operand(plan.offset_param, plan.offset));
            shard.limit_option = PG_QUERY__LIMIT_OPTION__LIMIT_OPTION_COUNT;
        } else {
            shard.limit_count = nullptr;
        }
    } else if (plan.limit) {
        int64_t covering = *plan.limit + plan.offset;
        if (covering > INT32_MAX) return false;
        shard.limit_count = make.integer(int32_t(covering));
        shard.limit_option = PG_QUERY__LIMIT_OPTION__LIMIT_OPTION_COUNT;
    } else {
        shard.limit_count = nullptr;
    }
    return true;
}

}  // namespace

std::optional<Analysis::MergePlan> set_operation_merge_plan(const PgQuery__SelectStmt& s) {
    if (s.op != PG_QUERY__SET_OPERATION__SETOP_UNION || s.n_locking_clause || s.into_clause ||
        s.limit_option == PG_QUERY__LIMIT_OPTION__LIMIT_OPTION_WITH_TIES)
        return std::nullopt;
    Analysis::MergePlan plan;
    plan.distinct = !s.all;
    // The output columns are named by the leftmost arm.
    const PgQuery__SelectStmt* first = &s;
    while (first->larg) first = first->larg;
    std::vector<std::string_view> names;
    bool star = false;
    for (size_t i = 0; i < first->n_target_list; ++i) {
        const PgQuery__Node* n = first->target_list[i];
        if (n->node_case != PG_QUERY__NODE__NODE_RES_TARGET) return std::nullopt;
        const PgQuery__ResTarget& t = *n->res_target;
        if (t.name && *t.name) {
            names.push_back(t.name);
        } else if (auto c = column_name(t.val)) {
            names.push_back(c->column);
        } else {
            if (t.val && t.val->node_case == PG_QUERY__NODE__NODE_COLUMN_REF) star = true;
            names.push_back("");
        }
    }
    // ORDER BY of a set operation names output columns or their positions (PostgreSQL allows
    // nothing else there).
    for (size_t i = 0; i < s.n_sort_clause; ++i) {
        auto item = sort_item(s.sort_clause[i], names.size(), star);
        if (!item) return std::nullopt;
        Analysis::SortKey key = std::move(item->key);
        const PgQuery__SortBy& by = *item->by;
        if (!key.position) {
            auto c = column_name(by.node);
            if (!c || !c->relation.empty()) return std::nullopt;
            if (!star && std::find(names.begin(), names.end(), c->column) == names.end())
                return std::nullopt;
            key.name = std::string(c->column);
        }
        plan.order.push_back(std::move(key));
    }
    if (!read_limits(s, plan)) return std::nullopt;
    if (s.limit_offset) {
        NodeFactory make;
        PgQuery__SelectStmt shard = s;
        if (!cover_offset(shard, plan, make)) return std::nullopt;
        auto sql = deparse_select(shard);
        if (!sql) return std::nullopt;
        plan.shard_sql = std::move(*sql);
    }
    return plan;
}

std::optional<Analysis::MergePlan> merge_plan(const PgQuery__SelectStmt& s) {
    if (s.n_target_list == 0 || s.n_window_clause || s.larg || s.rarg || s.n_locking_clause ||
        s.into_clause || s.n_values_lists)
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
        auto cols = aggregate_columns(s, plan.separators);
        if (!cols) return std::nullopt;
        plan.aggregates = std::move(*cols);
        if (!plan.separators.empty()) plan.separators.resize(plan.aggregates.size());
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
            if (c.n_fields && c.fields[c.n_fields - 1]->node_case == PG_QUERY__NODE__NODE_A_STAR)
                has_star = true;
        }
    }
    auto output_name = [&](const ColumnName& col) {
        if (!col.relation.empty()) {
            // `a.id` is the output column id only when exactly one output is named id and it
            // is a.id itself: `SELECT c.id ... ORDER BY a.id` sorts by a's column, not c's. An
            // unqualified `id` is a.id when a has one (else `a.id` fails; both: ambiguous).
            if (has_star) return false;
            int named = 0;
            bool same = false;
            for (size_t i = 0; i < s.n_target_list; ++i) {
                const PgQuery__ResTarget& t = *s.target_list[i]->res_target;
                if (t.name && *t.name) {
                    named += t.name == col.column;
                    continue;
                }
                auto c = t.val ? column_name(t.val) : std::nullopt;
                if (!c || c->column != col.column) continue;
                ++named;
                same = same || c->relation.empty() ||
                       (c->relation == col.relation &&
                        (col.schema.empty() || c->schema == col.schema));
            }
            return named == 1 && same;
        }
        // Without `*`, the name must visibly be an output column: an alias or a selected column.
        if (has_star) return true;
        for (auto al : aliases)
            if (al == col.column) return true;
        for (size_t i = 0; i < s.n_target_list; ++i) {
            const PgQuery__ResTarget& t = *s.target_list[i]->res_target;
            if ((!t.name || !*t.name) && t.val)
                if (auto c = column_name(t.val); c && c->column == col.column) return true;
        }
        return false;
    };
    // `SELECT id, id ... ORDER BY id`: a name several outputs carry is PostgreSQL's to resolve
    // only when they are one expression (else it fails: ambiguous). Same unaliased column
    // references: the first one's position (1-based), else 0.
    auto repeated_output = [&](std::string_view name) -> uint32_t {
        std::optional<ColumnName> first;
        uint32_t at = 0, count = 0;
        for (size_t i = 0; i < s.n_target_list; ++i) {
            const PgQuery__ResTarget& t = *s.target_list[i]->res_target;
            auto c = t.val ? column_name(t.val) : std::nullopt;
            const std::string_view out = t.name && *t.name ? std::string_view(t.name)
                                         : c               ? c->column
                                                           : "";
            if (out != name) continue;
            if (!c || (t.name && *t.name)) return 0;
            if (count++ == 0)
                first = c, at = uint32_t(i + 1);
            else if (c->column != first->column || c->relation != first->relation ||
                     c->schema != first->schema)
                return 0;
        }
        return count > 1 ? at : 0;
    };
    std::vector<PgQuery__Node*> hidden_exprs;
    for (size_t i = 0; i < s.n_sort_clause; ++i) {
        // A window function in ORDER BY would be computed over each shard's rows alone.
        if (find_aggregate(&s.sort_clause[i]->base).rfind("window", 0) == 0) return std::nullopt;
        auto item = sort_item(s.sort_clause[i], s.n_target_list, has_star);
        if (!item) return std::nullopt;
        Analysis::SortKey key = std::move(item->key);
        const PgQuery__SortBy& by = *item->by;
        if (!key.position) {
            auto col = column_name(by.node);
            const bool shadowed =
                col && std::find(aliases.begin(), aliases.end(), col->column) != aliases.end();
            if (col && col->relation.empty() && shadowed) {
                key.name =
                    std::string(col->column);  // an output alias: PostgreSQL looks there first
            } else if (col && !shadowed && !has_star && col->relation.empty() &&
                       repeated_output(col->column)) {
                key.position = repeated_output(col->column);  // one column selected more than once
            } else if (col && !shadowed && !has_star && output_name(*col)) {
                key.name = std::string(col->column);  // a selected column
            } else if (!aggregating && !plan.distinct) {
                // Evaluated per input row: plain rows carry it as an extra column (a qualified
                // name is the table's column even when an alias shadows it).
                key.hidden = ++plan.hidden;
                hidden_exprs.push_back(by.node);
                // An explicit collation says how the combining query must compare the values.
                if (by.node->node_case != PG_QUERY__NODE__NODE_COLLATE_CLAUSE) {
                    if (PgQuery__Node* only = sole_column(by.node)) {
                        key.collation_from = ++plan.hidden;
                        hidden_exprs.push_back(only);
                    }
                } else {
                    const PgQuery__CollateClause& cc = *by.node->collate_clause;
                    for (size_t k = 0; k < cc.n_collname; ++k) {
                        if (cc.collname[k]->node_case != PG_QUERY__NODE__NODE_STRING)
                            return std::nullopt;
                        std::string_view part = cc.collname[k]->string->sval;
                        key.collation += k ? ".\"" : "\"";
                        for (char ch : part)
                            key.collation += ch == '"' ? std::string("\"\"") : std::string(1, ch);
                        key.collation += '"';
                    }
                    if (key.collation.empty()) return std::nullopt;
                }
            } else if (col && !shadowed && output_name(*col)) {
                key.name =
                    std::string(col->column);  // found among the shards' columns, or refused then
            } else {
                return std::nullopt;  // DISTINCT and aggregates sort by output columns only
            }
        }
        plan.order.push_back(std::move(key));
    }

    // HAVING: applied by the combining query to the combined groups. Its aggregates and
    // GROUP BY columns become placeholders for the combined values: the client's own columns
    // when it selects the same expression, else extra aggregates the shards compute.
    NodeFactory make;
    std::shared_ptr<PgQuery__Node> having_copy;  // owns the calls in having_extras
    std::vector<PgQuery__FuncCall*> having_extras;
    if (s.having_clause) {
        having_copy = copy_node(*s.having_clause);
        if (!having_copy) return std::nullopt;
        std::vector<std::string> target_text;
        for (size_t i = 0; i < s.n_target_list; ++i) {
            auto t = deparse_expression(*s.target_list[i]->res_target->val);
            if (!t) return std::nullopt;
            target_text.push_back(std::move(*t));
        }
        const size_t avgs =
            std::count(plan.aggregates.begin(), plan.aggregates.end(), Analysis::Merge::Avg);
        auto placeholder = [&](PgQuery__Node& n, size_t column) {
            make.make_column_ref(
                n, std::string(Analysis::kHavingPlaceholder) + std::to_string(column));
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
                        (c->relation.empty() || t->relation.empty() ||
                         c->relation == t->relation)) {
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
            if (!kind || *kind == Analysis::Merge::Avg || *kind == Analysis::Merge::StringAgg) {
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

    if (!read_limits(s, plan)) return std::nullopt;

    // What the shards run: an aggregating SELECT's partial groups all (ordering and limits apply
    // to the combined groups only); plain rows keep ORDER BY and a LIMIT covering the OFFSET,
    // which each shard cannot apply on its own.
    PgQuery__SelectStmt shard = s;
    bool rewrite = false;
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
        if (!cover_offset(shard, plan, make)) return std::nullopt;
        rewrite = true;
    }
    // The target list: the client's columns (some replaced), then the extra columns. Plain rows:
    // the ORDER BY expressions that are not output columns. Aggregates: avg(x) becomes sum(x)
    // with count(x) at the end; count(DISTINCT x) becomes x, grouped by as well; then HAVING's
    // own aggregates.
    std::vector<PgQuery__Node*> targets(s.target_list, s.target_list + s.n_target_list);
    std::vector<PgQuery__Node*> groups(s.group_clause, s.group_clause + s.n_group_clause);
    bool targets_changed = false;
    for (size_t i = 0; i < hidden_exprs.size(); ++i)
        targets.push_back(make.target("shardgate_sort_" + std::to_string(i + 1), hidden_exprs[i]));
    std::vector<PgQuery__Node*> avg_counts;
    for (size_t i = 0; i < plan.aggregates.size(); ++i) {
        const PgQuery__ResTarget& t = *s.target_list[i]->res_target;
        auto name_or = [&](const char* fallback) {
            return t.name && *t.name ? std::string(t.name) : std::string(fallback);
        };
        if (plan.aggregates[i] == Analysis::Merge::Avg) {
            targets[i] = make.target(name_or("avg"), make.call_renamed(*t.val->func_call, "sum"));
            avg_counts.push_back(
                make.target("shardgate_avg_count_" + std::to_string(avg_counts.size() + 1),
                            make.call_renamed(*t.val->func_call, "count")));
            targets_changed = true;
        } else if (plan.aggregates[i] == Analysis::Merge::CountDistinct) {
            PgQuery__Node* arg = t.val->func_call->args[0];
            targets[i] = make.target(name_or("count"), arg);
            groups.push_back(arg);
            targets_changed = true;
        }
    }
    targets.insert(targets.end(), avg_counts.begin(), avg_counts.end());
    for (size_t k = 0; k < having_extras.size(); ++k)
        targets.push_back(
            make.target("shardgate_having_" + std::to_string(k + 1), make.call(having_extras[k])));
    plan.hidden += uint32_t(avg_counts.size() + having_extras.size());
    if (targets_changed || targets.size() != s.n_target_list) {
        shard.target_list = targets.data();
        shard.n_target_list = targets.size();
        rewrite = true;
    }
    if (groups.size() != s.n_group_clause) {
        shard.group_clause = groups.data();
        shard.n_group_clause = groups.size();
    }
    if (rewrite) {
        auto sql = deparse_select(shard);
        if (!sql) return std::nullopt;
        plan.shard_sql = std::move(*sql);
    }
    return plan;
}

}  // namespace sg::router::detail
