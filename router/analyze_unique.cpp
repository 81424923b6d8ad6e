// PRIMARY KEY and UNIQUE constraints (and unique indexes) on a sharded table must include its
// shard key: each shard enforces a constraint over the rows it holds, so a unique column set
// without the key lets two shards each hold one row of a duplicate pair, where one PostgreSQL
// raises 23505. With the key in it, equal values of the set have one key, hence one bucket and
// one shard, and the shards' constraints together are the table's. Citus refuses the same DDL.
#include "router/analyze_internal.h"
#include "router/sql_nodes.h"

namespace sg::router::detail {
namespace {

bool names_key(PgQuery__Node* const* items, size_t n, const std::string& key) {
    for (size_t i = 0; i < n; ++i)
        if (string_value(items[i]) == key) return true;
    return false;
}

void refuse_constraint(const TableConfig& t, std::string_view what, const char* name, Analysis& a) {
    std::string named = name && *name ? " \"" + std::string(name) + "\"" : std::string();
    refuse(a, std::string(what) + named + " on sharded table \"" + t.name +
                  "\" does not include shard key \"" + t.shard_key +
                  "\": each shard would enforce it only over its own rows, so duplicates on "
                  "different shards "
                  "would be accepted; add \"" +
                  t.shard_key + "\" to it");
}

const char* kind_name(PgQuery__ConstrType t) {
    return t == PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY ? "PRIMARY KEY constraint"
                                                      : "UNIQUE constraint";
}

bool unique_kind(PgQuery__ConstrType t) {
    return t == PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY || t == PG_QUERY__CONSTR_TYPE__CONSTR_UNIQUE;
}

}  // namespace

void check_unique_constraint(const TableConfig& t, const PgQuery__Constraint& c,
                             std::string_view column, Analysis& a) {
    if (t.kind != TableKind::Sharded || !unique_kind(c.contype) || a.refusal) return;
    if (c.indexname && *c.indexname) return;  // USING INDEX: the index was checked when created
    // A column constraint covers its own column; a table constraint its key list.
    const bool covered =
        c.n_keys == 0 ? column == t.shard_key : names_key(c.keys, c.n_keys, t.shard_key);
    if (!covered) refuse_constraint(t, kind_name(c.contype), c.conname, a);
}

void check_unique_index(const PgQuery__IndexStmt& s, const TableConfig& t, Analysis& a) {
    if (t.kind != TableKind::Sharded || !s.unique || a.refusal) return;
    for (size_t i = 0; i < s.n_index_params; ++i) {
        const PgQuery__Node* p = s.index_params[i];
        if (p->node_case == PG_QUERY__NODE__NODE_INDEX_ELEM && p->index_elem->name &&
            p->index_elem->name == t.shard_key)
            return;
    }
    refuse_constraint(t, "unique index", s.idxname, a);
}

}  // namespace sg::router::detail
