// The tables a statement names: one range variable as a Rel (its catalog entry), and every
// table anywhere in a statement (subqueries, CTE bodies) minus the statement's own CTE names.
#include <algorithm>
#include <numeric>
#include <set>
#include "router/analyze_internal.h"
#include "router/fanout.h"
#include "router/pg_array.h"
#include "router/replica_safe.h"
#include "router/sql_nodes.h"

namespace sg::router::detail {

Rel make_rel(const PgQuery__RangeVar& rv, const TableCatalog& catalog) {
    Rel r;
    r.rv = &rv;
    r.cfg = catalog.find(rv.schemaname ? rv.schemaname : "", rv.relname ? rv.relname : "");
    r.ref_name =
        rv.alias && rv.alias->aliasname ? rv.alias->aliasname : (rv.relname ? rv.relname : "");
    return r;
}

std::vector<Rel> all_relations(const ProtobufCMessage* m, const TableCatalog& catalog) {
    std::set<std::string_view> ctes;
    std::vector<const PgQuery__RangeVar*> vars;
    walk(m, [&](const ProtobufCMessage& msg) {
        if (msg.descriptor == &pg_query__common_table_expr__descriptor) {
            const auto& cte = reinterpret_cast<const PgQuery__CommonTableExpr&>(msg);
            if (cte.ctename) ctes.insert(cte.ctename);
        } else if (msg.descriptor == &pg_query__range_var__descriptor) {
            vars.push_back(reinterpret_cast<const PgQuery__RangeVar*>(&msg));
        }
        return true;
    });
    std::vector<Rel> out;
    for (const auto* rv : vars) {
        bool is_cte =
            (!rv->schemaname || !*rv->schemaname) && rv->relname && ctes.count(rv->relname) > 0;
        if (!is_cte) out.push_back(make_rel(*rv, catalog));
    }
    return out;
}

}  // namespace sg::router::detail
