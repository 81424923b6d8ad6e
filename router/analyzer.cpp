#include "router/analyzer.h"

#include <cctype>

#include "router/analyze_internal.h"
#include "router/sql_nodes.h"

namespace sg::router {

const char* to_string(StatementKind k) {
    switch (k) {
        case StatementKind::Empty:
            return "empty";
        case StatementKind::Select:
            return "select";
        case StatementKind::Insert:
            return "insert";
        case StatementKind::Update:
            return "update";
        case StatementKind::Delete:
            return "delete";
        case StatementKind::Copy:
            return "copy";
        case StatementKind::Ddl:
            return "ddl";
        case StatementKind::Begin:
            return "begin";
        case StatementKind::Commit:
            return "commit";
        case StatementKind::Rollback:
            return "rollback";
        case StatementKind::Savepoint:
            return "savepoint";
        case StatementKind::Set:
            return "set";
        case StatementKind::Show:
            return "show";
        case StatementKind::SetShard:
            return "set shardgate.shard";
        case StatementKind::ResetShard:
            return "reset shardgate.shard";
        case StatementKind::ShowShard:
            return "show shardgate.shard";
        case StatementKind::Utility:
            return "utility";
        case StatementKind::Unparseable:
            return "unparseable";
        case StatementKind::Multi:
            return "multi-statement";
    }
    return "unknown";
}

const char* to_string(Placement p) {
    switch (p) {
        case Placement::None:
            return "none";
        case Placement::Unsharded:
            return "unsharded";
        case Placement::Reference:
            return "reference";
        case Placement::Sharded:
            return "sharded";
        case Placement::AllShards:
            return "all shards";
    }
    return "unknown";
}

namespace detail {
namespace {

constexpr std::string_view kShardSetting = "shardgate.shard";

void analyze_transaction(const PgQuery__TransactionStmt& t, Analysis& a) {
    switch (t.kind) {
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_BEGIN:
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_START:
            a.kind = StatementKind::Begin;
            break;
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT:
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_PREPARE:
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT_PREPARED:
            a.kind = StatementKind::Commit;
            break;
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK:
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK_PREPARED:
            a.kind = StatementKind::Rollback;
            break;
        default:
            a.kind = StatementKind::Savepoint;
            break;
    }
}

// SET/RESET of shardgate.* are the proxy's own session settings, never sent to a shard.
void analyze_set(const PgQuery__VariableSetStmt& s, Analysis& a) {
    a.kind = StatementKind::Set;
    std::string_view name = s.name ? s.name : "";
    if (name.rfind("shardgate.", 0) != 0) {
        // SET LOCAL, and SET TRANSACTION (isolation, read only): both last only for the
        // transaction.
        a.set_local = s.is_local || (s.kind == PG_QUERY__VARIABLE_SET_KIND__VAR_SET_MULTI &&
                                     name == "TRANSACTION");
        return;
    }
    if (name != kShardSetting) {
        refuse(a, "unrecognized configuration parameter \"" + std::string(name) + "\"",
               sqlstate::kUndefinedObject);
        return;
    }
    if (s.kind == PG_QUERY__VARIABLE_SET_KIND__VAR_SET_VALUE && s.n_args == 1 &&
        s.args[0]->node_case == PG_QUERY__NODE__NODE_A_CONST) {
        a.kind = StatementKind::SetShard;
        a.session_shard = const_text(*s.args[0]->a_const).value_or("");
        return;
    }
    if (s.kind == PG_QUERY__VARIABLE_SET_KIND__VAR_RESET ||
        s.kind == PG_QUERY__VARIABLE_SET_KIND__VAR_SET_DEFAULT) {
        a.kind = StatementKind::ResetShard;
        return;
    }
    refuse(a, "SET shardgate.shard takes one shard name", sqlstate::kInvalidParameterValue);
}

// EXPLAIN, DECLARE CURSOR and PREPARE carry a statement that decides where they run.
void analyze_wrapped(const PgQuery__Node& inner, const char* wrapper, const Context& ctx,
                     Analysis& a) {
    analyze_node(inner, ctx, a);
    a.kind = StatementKind::Utility;
    // The wrapper is named first: without the inner construct it would still be refused.
    a.fanout_blocker = a.fanout_blocker.empty() ? std::string(wrapper)
                                                : std::string(wrapper) + " of " + a.fanout_blocker;
    // The proxy combines a SELECT's rows, never a plan's text or a cursor's later FETCHes
    // (which would reach one shard): the statement's merge plan does not carry over.
    a.merge.reset();
    a.why.push_back(std::string(wrapper) + " runs where its statement runs");
}

}  // namespace

void analyze_node(const PgQuery__Node& stmt, const Context& ctx, Analysis& a) {
    switch (stmt.node_case) {
        case PG_QUERY__NODE__NODE_SELECT_STMT:
            return analyze_select(*stmt.select_stmt, ctx, a);
        case PG_QUERY__NODE__NODE_INSERT_STMT:
            return analyze_insert(*stmt.insert_stmt, ctx, a);
        case PG_QUERY__NODE__NODE_UPDATE_STMT:
            return analyze_update(*stmt.update_stmt, ctx, a);
        case PG_QUERY__NODE__NODE_DELETE_STMT:
            return analyze_delete(*stmt.delete_stmt, ctx, a);
        case PG_QUERY__NODE__NODE_COPY_STMT:
            return analyze_copy(*stmt.copy_stmt, ctx, a);
        case PG_QUERY__NODE__NODE_TRANSACTION_STMT:
            return analyze_transaction(*stmt.transaction_stmt, a);
        case PG_QUERY__NODE__NODE_VARIABLE_SET_STMT:
            return analyze_set(*stmt.variable_set_stmt, a);
        case PG_QUERY__NODE__NODE_DISCARD_STMT:
            a.kind = StatementKind::Set;
            return;
        case PG_QUERY__NODE__NODE_VARIABLE_SHOW_STMT: {
            std::string_view name =
                stmt.variable_show_stmt->name ? stmt.variable_show_stmt->name : "";
            a.kind = name == kShardSetting ? StatementKind::ShowShard : StatementKind::Show;
            return;
        }
        case PG_QUERY__NODE__NODE_EXPLAIN_STMT:
            if (stmt.explain_stmt->query) {
                return analyze_wrapped(*stmt.explain_stmt->query, "EXPLAIN", ctx, a);
            }
            break;
        case PG_QUERY__NODE__NODE_DECLARE_CURSOR_STMT:
            if (stmt.declare_cursor_stmt->query) {
                return analyze_wrapped(*stmt.declare_cursor_stmt->query, "DECLARE CURSOR", ctx, a);
            }
            break;
        case PG_QUERY__NODE__NODE_PREPARE_STMT:
            if (stmt.prepare_stmt->query) {
                analyze_node(*stmt.prepare_stmt->query, ctx, a);
                a.kind = StatementKind::Utility;
                if (a.placement != Placement::None && a.placement != Placement::Unsharded) {
                    refuse(a, "SQL PREPARE of a statement on sharded or reference table \"" +
                                  a.table + "\" is not supported; use the extended protocol");
                }
                return;
            }
            break;
        default:
            break;
    }
    analyze_utility(stmt, ctx, a);
}

}  // namespace detail

namespace {

// Unparseable text: the router may still pass it to the default shard when no table it
// names is sharded or reference (the shard then reports the error itself).
void analyze_unparseable(const std::string& sql, const TableCatalog& catalog, ParseError err,
                         Analysis& a) {
    a.kind = StatementKind::Unparseable;
    a.parse_error = std::move(err);
    std::optional<KeyType> key_type;
    bool mixed = false;
    for (const auto& ident : scan_identifiers(sql)) {
        const TableConfig* t = catalog.find_any_schema(ident);
        if (!t) continue;
        a.names_distributed_table = true;
        if (a.table.empty()) {
            a.table = t->name;
            a.table_config = *t;
        }
        if (t->kind != TableKind::Sharded) continue;
        mixed |= key_type && *key_type != t->key_type;
        key_type = t->key_type;
    }
    if (key_type && !mixed) a.hint_key_type = key_type;
}

}  // namespace

Analysis analyze(const std::string& sql, const TableCatalog& catalog) {
    Analysis a;
    a.hints = scan_hints(sql);
    a.stmt_end = static_cast<uint32_t>(sql.size());
    auto tree = parse_sql(sql);
    if (!tree) {
        analyze_unparseable(sql, catalog, tree.error(), a);
        return a;
    }
    const detail::Context ctx{sql, catalog};
    auto analyze_one = [&](const PgQuery__RawStmt& raw, Analysis& out) {
        // A statement after ';' starts at its first non-blank byte.
        auto begin = static_cast<size_t>(raw.stmt_location);
        while (begin < sql.size() && std::isspace(static_cast<unsigned char>(sql[begin]))) ++begin;
        out.stmt_begin = static_cast<uint32_t>(begin);
        out.stmt_end = raw.stmt_len == 0 ? static_cast<uint32_t>(sql.size())
                                         : static_cast<uint32_t>(raw.stmt_location + raw.stmt_len);
        if (raw.stmt) {
            detail::analyze_node(*raw.stmt, ctx, out);
            detail::check_sequence_use(*raw.stmt, out);
        }
        if (out.placement == Placement::Sharded) out.hint_key_type = out.key_type;
    };
    if (tree->size() == 1) {
        analyze_one(tree->stmt(0), a);
    } else if (tree->size() > 1) {
        a.kind = StatementKind::Multi;
        for (size_t i = 0; i < tree->size(); ++i) {
            Analysis part;
            analyze_one(tree->stmt(i), part);
            a.statements.push_back(std::move(part));
        }
    }
    if (a.hints.read_from && !parse_read_from(*a.hints.read_from))
        detail::refuse(a,
                       "hint shardgate.read_from='" + *a.hints.read_from +
                           "' is not one of: primary, replica, any",
                       sqlstate::kInvalidParameterValue);
    return a;
}

}  // namespace sg::router
