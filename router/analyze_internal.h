// Shared between the analyzer's translation units; not part of the router's public API.
#pragma once

#include <pg_query/pg_query.pb-c.h>

#include <string>
#include <vector>

#include "router/analyzer.h"

namespace sg::router::detail {

struct Context {
    const std::string& sql;
    const TableCatalog& catalog;
};

// A table reference: the RangeVar, its [[tables]] entry (null when unlisted) and the name a
// column qualifier uses for it (the alias when there is one).
struct Rel {
    const PgQuery__RangeVar* rv = nullptr;
    const TableConfig* cfg = nullptr;
    std::string ref_name;
    bool sharded() const { return cfg && cfg->kind == TableKind::Sharded; }
    bool reference() const { return cfg && cfg->kind == TableKind::Reference; }
};

Rel make_rel(const PgQuery__RangeVar& rv, const TableCatalog& catalog);
// Every table the message reads or writes, anywhere (subqueries, CTE bodies), minus
// references to the statement's own CTE names.
std::vector<Rel> all_relations(const ProtobufCMessage* m, const TableCatalog& catalog);

void analyze_select(const PgQuery__SelectStmt& s, const Context& ctx, Analysis& a);
// "UNION", "INTERSECT ALL", ... for a set operation, nullptr for a plain SELECT.
const char* set_operation_name(const PgQuery__SelectStmt& s);
// UNION/INTERSECT/EXCEPT (analyze_setop.cpp).
void analyze_set_operation(const PgQuery__SelectStmt& s, const Context& ctx, Analysis& a);
// One table, no `*`, and every $n one side of a `column = $n` at the top of WHERE
// (simple_lookup.cpp); nullopt otherwise.
std::optional<Analysis::Lookup> simple_lookup(const PgQuery__SelectStmt& s);
void analyze_update(const PgQuery__UpdateStmt& s, const Context& ctx, Analysis& a);
void analyze_delete(const PgQuery__DeleteStmt& s, const Context& ctx, Analysis& a);
void analyze_insert(const PgQuery__InsertStmt& s, const Context& ctx, Analysis& a);
void analyze_copy(const PgQuery__CopyStmt& s, const Context& ctx, Analysis& a);
// DDL and other utility statements: placement by the tables they name.
void analyze_utility(const PgQuery__Node& stmt, const Context& ctx, Analysis& a);
// Where a missing column list goes in an INSERT or COPY naming the table at `relation_at`: the
// offset of the first `keyword` token (or OVERRIDING, for INSERT) at parenthesis depth 0 after
// the table (after any alias). 0: not found.
uint32_t column_list_position(const Context& ctx, const Analysis& a, int32_t relation_at,
                              int keyword);
// Whether `expr` is the shard key column of a sharded table in the FROM clause of `s`.
bool selects_shard_key(const PgQuery__SelectStmt& s, const PgQuery__Node* expr, const Context& ctx);
// Dispatch on one statement node (used for EXPLAIN / DECLARE / PREPARE bodies too).
void analyze_node(const PgQuery__Node& stmt, const Context& ctx, Analysis& a);

// DDL on a [[tables]] table that later answers would get wrong (sequence-fed columns, a shard
// key collation that may be nondeterministic): refused (analyze_ddl.cpp).
void check_table_ddl(const PgQuery__Node& stmt, const Context& ctx, Analysis& a);
// PRIMARY KEY / UNIQUE constraints and unique indexes on a sharded table that leave out its
// shard key (unique per shard only): refused (analyze_unique.cpp). `column`: the column a
// column constraint is declared on ("" for a table constraint).
void check_unique_constraint(const TableConfig& t, const PgQuery__Constraint& c,
                             std::string_view column, Analysis& a);
void check_unique_index(const PgQuery__IndexStmt& s, const TableConfig& t, Analysis& a);
// nextval()/currval()/setval()/lastval() in a statement on sharded or reference tables: refused
// (sequences live on the default shard).
void check_sequence_use(const PgQuery__Node& stmt, Analysis& a);

inline void refuse(Analysis& a, std::string message,
                   const char* state = sqlstate::kFeatureNotSupported) {
    if (!a.refusal) a.refusal = Error{state, std::move(message)};
}

}  // namespace sg::router::detail
