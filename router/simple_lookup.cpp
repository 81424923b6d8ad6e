// Analysis::simple_lookup: the shape of a SELECT the proxy may run as a prepared statement on
// the shard (proxy/prepared_lookups.h).
#include <algorithm>
#include <numeric>
#include <set>
#include "router/analyze_internal.h"
#include "router/fanout.h"
#include "router/pg_array.h"
#include "router/replica_safe.h"
#include "router/sql_nodes.h"

namespace sg::router::detail {

// Analysis::simple_lookup: one table, no `*`, and every $n one side of a `column = $n`
// conjunct of the WHERE clause.
std::optional<Analysis::Lookup> simple_lookup(const PgQuery__SelectStmt& s) {
    if (set_operation_name(s) || s.with_clause || s.into_clause || s.n_values_lists ||
        s.n_from_clause != 1 || s.from_clause[0]->node_case != PG_QUERY__NODE__NODE_RANGE_VAR ||
        !s.where_clause || !s.n_target_list)
        return std::nullopt;
    bool star = false;
    for (size_t i = 0; i < s.n_target_list && !star; ++i) {
        walk(&s.target_list[i]->base, [&](const ProtobufCMessage& m) {
            if (m.descriptor == &pg_query__a__star__descriptor) star = true;
            return !star;
        });
    }
    if (star) return std::nullopt;
    std::vector<const PgQuery__Node*> conjuncts;
    flatten_and(s.where_clause, conjuncts);
    std::vector<std::string> columns;
    for (const PgQuery__Node* c : conjuncts) {
        if (c->node_case != PG_QUERY__NODE__NODE_A_EXPR) continue;
        const PgQuery__AExpr& e = *c->a_expr;
        if (e.kind != PG_QUERY__A__EXPR__KIND__AEXPR_OP || operator_name(e) != "=" || !e.lexpr ||
            !e.rexpr)
            continue;
        const PgQuery__Node* col = e.lexpr;
        const PgQuery__Node* par = e.rexpr;
        if (col->node_case == PG_QUERY__NODE__NODE_PARAM_REF) std::swap(col, par);
        if (par->node_case != PG_QUERY__NODE__NODE_PARAM_REF) continue;
        auto name = column_name(col);
        const int n = par->param_ref->number;
        if (!name || n < 1 || n > 65535) return std::nullopt;
        if (columns.size() < size_t(n)) columns.resize(size_t(n));
        if (!columns[size_t(n) - 1].empty()) return std::nullopt;  // one use per parameter
        columns[size_t(n) - 1] = name->column;
    }
    // Every parameter of the statement is one of those: none anywhere else.
    size_t params = 0;
    walk(&s.base, [&](const ProtobufCMessage& m) {
        if (m.descriptor == &pg_query__param_ref__descriptor) ++params;
        return true;
    });
    if (params == 0 || params != columns.size()) return std::nullopt;
    for (const auto& c : columns)
        if (c.empty()) return std::nullopt;
    const PgQuery__RangeVar& rv = *s.from_clause[0]->range_var;
    if (!rv.relname || (rv.catalogname && *rv.catalogname)) return std::nullopt;
    return Analysis::Lookup{rv.schemaname ? rv.schemaname : "", rv.relname, std::move(columns)};
}

}  // namespace sg::router::detail
