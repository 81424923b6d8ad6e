// DDL on [[tables]] tables that would make later answers wrong, refused at the proxy:
// - a sequence-fed column (serial, identity, DEFAULT nextval(...)) on a sharded or reference
//   table: each shard gets its own sequence, so every shard hands out the same numbers;
// - a text shard key under a collation the router cannot show to be deterministic: under a
//   nondeterministic one ('Dave' = 'dave') equal keys have different bytes, hence buckets.
// And sequence functions in statements on such tables: sequences live on the default shard
// (CREATE/ALTER/DROP SEQUENCE go there), so no other shard could evaluate them.
#include <cctype>

#include "router/analyze_internal.h"
#include "router/sql_nodes.h"

namespace sg::router::detail {
namespace {

bool is_serial_type(const PgQuery__TypeName* tn) {
    if (!tn || tn->n_names != 1) return false;
    const std::string_view n = string_value(tn->names[0]);
    return n == "serial" || n == "bigserial" || n == "smallserial" || n == "serial2" ||
           n == "serial4" || n == "serial8";
}

// The sequence function a message calls (nextval, currval, setval, lastval), or "".
std::string sequence_call(const ProtobufCMessage* m) {
    std::string found;
    walk(m, [&](const ProtobufCMessage& msg) {
        if (!found.empty()) return false;
        if (msg.descriptor != &pg_query__func_call__descriptor) return true;
        const auto& f = reinterpret_cast<const PgQuery__FuncCall&>(msg);
        if (f.n_funcname == 0 || f.n_funcname > 2) return true;
        if (f.n_funcname == 2 && string_value(f.funcname[0]) != "pg_catalog") return true;
        const std::string_view name = string_value(f.funcname[f.n_funcname - 1]);
        if (name == "nextval" || name == "currval" || name == "setval" || name == "lastval")
            found = std::string(name);
        return found.empty();
    });
    return found;
}

// Collations every PostgreSQL build defines as deterministic: C, POSIX, the database default,
// ucs_basic, and the predefined ICU ones (und-x-icu, de-x-icu ...). A collation created with
// CREATE COLLATION may be nondeterministic, and the router cannot see which.
bool known_deterministic(const PgQuery__CollateClause& cc) {
    if (cc.n_collname == 0 || cc.n_collname > 2) return false;
    if (cc.n_collname == 2 && string_value(cc.collname[0]) != "pg_catalog") return false;
    const std::string_view n = string_value(cc.collname[cc.n_collname - 1]);
    return n == "C" || n == "POSIX" || n == "default" || n == "ucs_basic" ||
           (n.size() > 6 && n.substr(n.size() - 6) == "-x-icu");
}

struct Column {
    const TableConfig& table;
    std::string_view name;
    const PgQuery__TypeName* type = nullptr;
    const PgQuery__CollateClause* collation = nullptr;
    const PgQuery__Node* default_expr = nullptr;
    bool identity = false;
};

void check_column(const Column& c, Analysis& a) {
    const std::string where = "column \"" + std::string(c.name) + "\" of " +
                              to_string(c.table.kind) + " table \"" + c.table.name + "\"";
    const char* why =
        " would take its values from a sequence, and every shard has its own copy of it (the same "
        "values on every shard); generate keys in the application (e.g. uuid) instead";
    if (is_serial_type(c.type)) return refuse(a, "serial type of " + where + why);
    if (c.identity) return refuse(a, "identity " + where + why);
    if (c.default_expr && !sequence_call(&c.default_expr->base).empty())
        return refuse(a, "DEFAULT nextval() on " + where + why);
    if (c.table.kind == TableKind::Sharded && c.name == c.table.shard_key && c.collation &&
        !known_deterministic(*c.collation))
        refuse(a, "COLLATE on shard key " + where +
                      ": a nondeterministic collation makes equal keys hash to different shards, "
                      "and the router "
                      "cannot tell this one is deterministic; use the default collation, \"C\" or "
                      "a predefined "
                      "ICU collation");
}

void check_column_def(const TableConfig& t, const PgQuery__ColumnDef& d, Analysis& a) {
    Column c{t, d.colname ? d.colname : "", d.type_name, d.coll_clause, d.raw_default};
    c.identity = d.identity && *d.identity;
    for (size_t i = 0; i < d.n_constraints; ++i) {
        if (d.constraints[i]->node_case != PG_QUERY__NODE__NODE_CONSTRAINT) continue;
        const PgQuery__Constraint& k = *d.constraints[i]->constraint;
        if (k.contype == PG_QUERY__CONSTR_TYPE__CONSTR_IDENTITY) c.identity = true;
        if (k.contype == PG_QUERY__CONSTR_TYPE__CONSTR_DEFAULT && k.raw_expr)
            c.default_expr = k.raw_expr;
        check_unique_constraint(t, k, c.name, a);
    }
    check_column(c, a);
}

}  // namespace

void check_table_ddl(const PgQuery__Node& stmt, const Context& ctx, Analysis& a) {
    const PgQuery__RangeVar* rv = nullptr;
    if (stmt.node_case == PG_QUERY__NODE__NODE_CREATE_STMT) rv = stmt.create_stmt->relation;
    if (stmt.node_case == PG_QUERY__NODE__NODE_ALTER_TABLE_STMT)
        rv = stmt.alter_table_stmt->relation;
    if (stmt.node_case == PG_QUERY__NODE__NODE_INDEX_STMT) rv = stmt.index_stmt->relation;
    if (!rv) return;
    const TableConfig* t = make_rel(*rv, ctx.catalog).cfg;
    if (!t) return;
    if (stmt.node_case == PG_QUERY__NODE__NODE_INDEX_STMT)
        return check_unique_index(*stmt.index_stmt, *t, a);
    if (stmt.node_case == PG_QUERY__NODE__NODE_CREATE_STMT) {
        const PgQuery__CreateStmt& s = *stmt.create_stmt;
        for (size_t i = 0; i < s.n_table_elts; ++i) {
            if (s.table_elts[i]->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF)
                check_column_def(*t, *s.table_elts[i]->column_def, a);
            if (s.table_elts[i]->node_case == PG_QUERY__NODE__NODE_CONSTRAINT)
                check_unique_constraint(*t, *s.table_elts[i]->constraint, "", a);
        }
        return;
    }
    const PgQuery__AlterTableStmt& s = *stmt.alter_table_stmt;
    for (size_t i = 0; i < s.n_cmds; ++i) {
        if (s.cmds[i]->node_case != PG_QUERY__NODE__NODE_ALTER_TABLE_CMD) continue;
        const PgQuery__AlterTableCmd& cmd = *s.cmds[i]->alter_table_cmd;
        const PgQuery__Node* def = cmd.def;
        switch (cmd.subtype) {
            case PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn:
            case PG_QUERY__ALTER_TABLE_TYPE__AT_AlterColumnType:
                if (def && def->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF) {
                    PgQuery__ColumnDef named = *def->column_def;
                    if ((!named.colname || !*named.colname) && cmd.name) named.colname = cmd.name;
                    check_column_def(*t, named, a);
                }
                break;
            case PG_QUERY__ALTER_TABLE_TYPE__AT_ColumnDefault:
                check_column(Column{*t, cmd.name ? cmd.name : "", nullptr, nullptr, def}, a);
                break;
            case PG_QUERY__ALTER_TABLE_TYPE__AT_AddConstraint:
                if (def && def->node_case == PG_QUERY__NODE__NODE_CONSTRAINT)
                    check_unique_constraint(*t, *def->constraint, "", a);
                break;
            case PG_QUERY__ALTER_TABLE_TYPE__AT_AddIdentity:
                check_column(Column{*t, cmd.name ? cmd.name : "", nullptr, nullptr, nullptr, true},
                             a);
                break;
            default:
                break;
        }
    }
}

void check_sequence_use(const PgQuery__Node& stmt, Analysis& a) {
    if (a.placement != Placement::Sharded && a.placement != Placement::Reference) return;
    if (a.kind != StatementKind::Select && a.kind != StatementKind::Insert &&
        a.kind != StatementKind::Update && a.kind != StatementKind::Delete)
        return;
    const std::string f = sequence_call(&stmt.base);
    if (f.empty()) return;
    refuse(a, "sequence function " + f + "() in a statement on " +
                  std::string(a.placement == Placement::Sharded ? "sharded" : "reference") +
                  " table \"" + a.table +
                  "\": sequences live on the default shard only, so the shards cannot evaluate it");
}

}  // namespace sg::router::detail
