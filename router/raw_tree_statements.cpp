// The statements the converter handles: the roots of a raw tree.
#include "router/raw_tree_converter.h"
#include "router/raw_tree_enums.h"

namespace sg::router::raw_tree {

PgQuery__ParseResult* Converter::parse_result(const List* stmts) {
    auto* out = make<PgQuery__ParseResult>(PG_QUERY__PARSE_RESULT__INIT);
    out->version = kLibPgQueryVersion;
    if (stmts == NIL) return out;
    out->n_stmts = static_cast<size_t>(stmts->length);
    out->stmts = static_cast<PgQuery__RawStmt**>(
        allocator_.alloc(allocator_.allocator_data, sizeof(PgQuery__RawStmt*) * out->n_stmts));
    for (int i = 0; i < stmts->length; ++i) {
        const void* stmt = stmts->elements[i].ptr_value;
        if (stmt == nullptr || nodeTag(stmt) != T_RawStmt) return give_up();
        out->stmts[i] = raw_stmt(as<RawStmt>(stmt));
    }
    return out;
}

PgQuery__RawStmt* Converter::raw_stmt(const RawStmt& n) {
    auto* out = make<PgQuery__RawStmt>(PG_QUERY__RAW_STMT__INIT);
    out->stmt = node(n.stmt);
    out->stmt_location = n.stmt_location;
    out->stmt_len = n.stmt_len;
    return out;
}

// Also the set operation's arms (larg, rarg), which are SelectStmts without a Node wrapper.
PgQuery__SelectStmt* Converter::select_stmt(const SelectStmt* n) {
    if (n == nullptr || !ok_) return nullptr;
    if (n->intoClause != nullptr) return give_up();  // SELECT INTO creates a table
    Descent down(*this);
    if (!down.ok()) return nullptr;
    auto* out = make<PgQuery__SelectStmt>(PG_QUERY__SELECT_STMT__INIT);
    list(n->distinctClause, &out->n_distinct_clause, &out->distinct_clause);
    list(n->targetList, &out->n_target_list, &out->target_list);
    list(n->fromClause, &out->n_from_clause, &out->from_clause);
    out->where_clause = node(n->whereClause);
    list(n->groupClause, &out->n_group_clause, &out->group_clause);
    out->group_distinct = n->groupDistinct;
    out->having_clause = node(n->havingClause);
    list(n->windowClause, &out->n_window_clause, &out->window_clause);
    list(n->valuesLists, &out->n_values_lists, &out->values_lists);
    list(n->sortClause, &out->n_sort_clause, &out->sort_clause);
    out->limit_offset = node(n->limitOffset);
    out->limit_count = node(n->limitCount);
    out->limit_option = pb_limit_option(n->limitOption);
    list(n->lockingClause, &out->n_locking_clause, &out->locking_clause);
    out->with_clause = with_clause(n->withClause);
    out->op = pb_enum(n->op);
    out->all = n->all;
    out->larg = select_stmt(n->larg);
    out->rarg = select_stmt(n->rarg);
    return out;
}

PgQuery__InsertStmt* Converter::insert_stmt(const InsertStmt& n) {
    auto* out = make<PgQuery__InsertStmt>(PG_QUERY__INSERT_STMT__INIT);
    out->relation = range_var(n.relation);
    list(n.cols, &out->n_cols, &out->cols);
    out->select_stmt = node(n.selectStmt);
    out->on_conflict_clause = on_conflict_clause(n.onConflictClause);
    list(n.returningList, &out->n_returning_list, &out->returning_list);
    out->with_clause = with_clause(n.withClause);
    out->override = pb_enum(n.override);
    return out;
}

PgQuery__UpdateStmt* Converter::update_stmt(const UpdateStmt& n) {
    auto* out = make<PgQuery__UpdateStmt>(PG_QUERY__UPDATE_STMT__INIT);
    out->relation = range_var(n.relation);
    list(n.targetList, &out->n_target_list, &out->target_list);
    out->where_clause = node(n.whereClause);
    list(n.fromClause, &out->n_from_clause, &out->from_clause);
    list(n.returningList, &out->n_returning_list, &out->returning_list);
    out->with_clause = with_clause(n.withClause);
    return out;
}

PgQuery__DeleteStmt* Converter::delete_stmt(const DeleteStmt& n) {
    auto* out = make<PgQuery__DeleteStmt>(PG_QUERY__DELETE_STMT__INIT);
    out->relation = range_var(n.relation);
    list(n.usingClause, &out->n_using_clause, &out->using_clause);
    out->where_clause = node(n.whereClause);
    list(n.returningList, &out->n_returning_list, &out->returning_list);
    out->with_clause = with_clause(n.withClause);
    return out;
}

PgQuery__TransactionStmt* Converter::transaction_stmt(const TransactionStmt& n) {
    auto* out = make<PgQuery__TransactionStmt>(PG_QUERY__TRANSACTION_STMT__INIT);
    out->kind = pb_enum(n.kind);
    list(n.options, &out->n_options, &out->options);
    out->savepoint_name = string(n.savepoint_name);
    out->gid = string(n.gid);
    out->chain = n.chain;
    return out;
}

PgQuery__VariableSetStmt* Converter::variable_set_stmt(const VariableSetStmt& n) {
    auto* out = make<PgQuery__VariableSetStmt>(PG_QUERY__VARIABLE_SET_STMT__INIT);
    out->kind = pb_enum(n.kind);
    out->name = string(n.name);
    list(n.args, &out->n_args, &out->args);
    out->is_local = n.is_local;
    return out;
}

PgQuery__VariableShowStmt* Converter::variable_show_stmt(const VariableShowStmt& n) {
    auto* out = make<PgQuery__VariableShowStmt>(PG_QUERY__VARIABLE_SHOW_STMT__INIT);
    out->name = string(n.name);
    return out;
}

}  // namespace sg::router::raw_tree
