// The converter's shared helpers (strings, lists) and its dispatch: a Node's tag picks the
// conversion, and a tag not listed gives up.
#include <cstring>

#include "router/raw_tree_converter.h"

namespace sg::router::raw_tree {

char* Converter::string(const char* s) {
    if (s == nullptr || *s == '\0') return const_cast<char*>(protobuf_c_empty_string);
    size_t n = std::strlen(s) + 1;
    auto* copy = static_cast<char*>(allocator_.alloc(allocator_.allocator_data, n));
    std::memcpy(copy, s, n);
    return copy;
}

char* Converter::character(char c) {
    if (c == '\0') return const_cast<char*>(protobuf_c_empty_string);
    auto* s = static_cast<char*>(allocator_.alloc(allocator_.allocator_data, 2));
    s[0] = c;
    s[1] = '\0';
    return s;
}

void Converter::list(const List* l, size_t* n, PgQuery__Node*** items) {
    if (l == NIL) return;  // *n stays 0 and *items null, as unpacking leaves them
    if (l->type != T_List) {
        give_up();  // an integer or OID list: never in a raw tree of the statements handled
        return;
    }
    *n = static_cast<size_t>(l->length);
    *items = static_cast<PgQuery__Node**>(
        allocator_.alloc(allocator_.allocator_data, sizeof(PgQuery__Node*) * *n));
    for (int i = 0; i < l->length; ++i) (*items)[i] = element(l->elements[i].ptr_value);
}

PgQuery__Node* Converter::element(const void* n) {
    if (n == nullptr) return make<PgQuery__Node>(PG_QUERY__NODE__INIT);
    return node(n);
}

PgQuery__Node* Converter::node(const void* n) {
    if (n == nullptr || !ok_) return nullptr;
    Descent down(*this);
    if (!down.ok()) return nullptr;
    PgQuery__Node* out = make<PgQuery__Node>(PG_QUERY__NODE__INIT);
    switch (nodeTag(n)) {
        case T_SelectStmt:
            out->node_case = PG_QUERY__NODE__NODE_SELECT_STMT;
            out->select_stmt = select_stmt(&as<SelectStmt>(n));
            break;
        case T_InsertStmt:
            out->node_case = PG_QUERY__NODE__NODE_INSERT_STMT;
            out->insert_stmt = insert_stmt(as<InsertStmt>(n));
            break;
        case T_UpdateStmt:
            out->node_case = PG_QUERY__NODE__NODE_UPDATE_STMT;
            out->update_stmt = update_stmt(as<UpdateStmt>(n));
            break;
        case T_DeleteStmt:
            out->node_case = PG_QUERY__NODE__NODE_DELETE_STMT;
            out->delete_stmt = delete_stmt(as<DeleteStmt>(n));
            break;
        case T_TransactionStmt:
            out->node_case = PG_QUERY__NODE__NODE_TRANSACTION_STMT;
            out->transaction_stmt = transaction_stmt(as<TransactionStmt>(n));
            break;
        case T_VariableSetStmt:
            out->node_case = PG_QUERY__NODE__NODE_VARIABLE_SET_STMT;
            out->variable_set_stmt = variable_set_stmt(as<VariableSetStmt>(n));
            break;
        case T_VariableShowStmt:
            out->node_case = PG_QUERY__NODE__NODE_VARIABLE_SHOW_STMT;
            out->variable_show_stmt = variable_show_stmt(as<VariableShowStmt>(n));
            break;
        case T_ResTarget:
            out->node_case = PG_QUERY__NODE__NODE_RES_TARGET;
            out->res_target = res_target(as<ResTarget>(n));
            break;
        case T_MultiAssignRef:
            out->node_case = PG_QUERY__NODE__NODE_MULTI_ASSIGN_REF;
            out->multi_assign_ref = multi_assign_ref(as<MultiAssignRef>(n));
            break;
        case T_ColumnRef:
            out->node_case = PG_QUERY__NODE__NODE_COLUMN_REF;
            out->column_ref = column_ref(as<ColumnRef>(n));
            break;
        case T_A_Star:
            out->node_case = PG_QUERY__NODE__NODE_A_STAR;
            out->a_star = make<PgQuery__AStar>(PG_QUERY__A__STAR__INIT);
            break;
        case T_ParamRef:
            out->node_case = PG_QUERY__NODE__NODE_PARAM_REF;
            out->param_ref = param_ref(as<ParamRef>(n));
            break;
        case T_A_Const:
            out->node_case = PG_QUERY__NODE__NODE_A_CONST;
            out->a_const = a_const(as<A_Const>(n));
            break;
        case T_A_Expr:
            out->node_case = PG_QUERY__NODE__NODE_A_EXPR;
            out->a_expr = a_expr(as<A_Expr>(n));
            break;
        case T_BoolExpr:
            out->node_case = PG_QUERY__NODE__NODE_BOOL_EXPR;
            out->bool_expr = bool_expr(as<BoolExpr>(n));
            break;
        case T_NullTest:
            out->node_case = PG_QUERY__NODE__NODE_NULL_TEST;
            out->null_test = null_test(as<NullTest>(n));
            break;
        case T_BooleanTest:
            out->node_case = PG_QUERY__NODE__NODE_BOOLEAN_TEST;
            out->boolean_test = boolean_test(as<BooleanTest>(n));
            break;
        case T_FuncCall:
            out->node_case = PG_QUERY__NODE__NODE_FUNC_CALL;
            out->func_call = func_call(as<FuncCall>(n));
            break;
        case T_TypeCast:
            out->node_case = PG_QUERY__NODE__NODE_TYPE_CAST;
            out->type_cast = type_cast(as<TypeCast>(n));
            break;
        case T_TypeName:
            out->node_case = PG_QUERY__NODE__NODE_TYPE_NAME;
            out->type_name = type_name(&as<TypeName>(n));
            break;
        case T_CollateClause:
            out->node_case = PG_QUERY__NODE__NODE_COLLATE_CLAUSE;
            out->collate_clause = collate_clause(as<CollateClause>(n));
            break;
        case T_A_ArrayExpr:
            out->node_case = PG_QUERY__NODE__NODE_A_ARRAY_EXPR;
            out->a_array_expr = a_array_expr(as<A_ArrayExpr>(n));
            break;
        case T_A_Indirection:
            out->node_case = PG_QUERY__NODE__NODE_A_INDIRECTION;
            out->a_indirection = a_indirection(as<A_Indirection>(n));
            break;
        case T_A_Indices:
            out->node_case = PG_QUERY__NODE__NODE_A_INDICES;
            out->a_indices = a_indices(as<A_Indices>(n));
            break;
        case T_SubLink:
            out->node_case = PG_QUERY__NODE__NODE_SUB_LINK;
            out->sub_link = sub_link(as<SubLink>(n));
            break;
        case T_RowExpr:
            out->node_case = PG_QUERY__NODE__NODE_ROW_EXPR;
            out->row_expr = row_expr(as<RowExpr>(n));
            break;
        case T_CoalesceExpr:
            out->node_case = PG_QUERY__NODE__NODE_COALESCE_EXPR;
            out->coalesce_expr = coalesce_expr(as<CoalesceExpr>(n));
            break;
        case T_MinMaxExpr:
            out->node_case = PG_QUERY__NODE__NODE_MIN_MAX_EXPR;
            out->min_max_expr = min_max_expr(as<MinMaxExpr>(n));
            break;
        case T_CaseExpr:
            out->node_case = PG_QUERY__NODE__NODE_CASE_EXPR;
            out->case_expr = case_expr(as<CaseExpr>(n));
            break;
        case T_CaseWhen:
            out->node_case = PG_QUERY__NODE__NODE_CASE_WHEN;
            out->case_when = case_when(as<CaseWhen>(n));
            break;
        case T_SQLValueFunction:
            out->node_case = PG_QUERY__NODE__NODE_SQLVALUE_FUNCTION;
            out->sqlvalue_function = sql_value_function(as<SQLValueFunction>(n));
            break;
        case T_SetToDefault:
            out->node_case = PG_QUERY__NODE__NODE_SET_TO_DEFAULT;
            out->set_to_default = set_to_default(as<SetToDefault>(n));
            break;
        case T_RangeVar:
            out->node_case = PG_QUERY__NODE__NODE_RANGE_VAR;
            out->range_var = range_var(&as<RangeVar>(n));
            break;
        case T_Alias:
            out->node_case = PG_QUERY__NODE__NODE_ALIAS;
            out->alias = alias(&as<Alias>(n));
            break;
        case T_JoinExpr:
            out->node_case = PG_QUERY__NODE__NODE_JOIN_EXPR;
            out->join_expr = join_expr(as<JoinExpr>(n));
            break;
        case T_RangeSubselect:
            out->node_case = PG_QUERY__NODE__NODE_RANGE_SUBSELECT;
            out->range_subselect = range_subselect(as<RangeSubselect>(n));
            break;
        case T_RangeFunction:
            out->node_case = PG_QUERY__NODE__NODE_RANGE_FUNCTION;
            out->range_function = range_function(as<RangeFunction>(n));
            break;
        case T_SortBy:
            out->node_case = PG_QUERY__NODE__NODE_SORT_BY;
            out->sort_by = sort_by(as<SortBy>(n));
            break;
        case T_WindowDef:
            out->node_case = PG_QUERY__NODE__NODE_WINDOW_DEF;
            out->window_def = window_def(&as<WindowDef>(n));
            break;
        case T_GroupingSet:
            out->node_case = PG_QUERY__NODE__NODE_GROUPING_SET;
            out->grouping_set = grouping_set(as<GroupingSet>(n));
            break;
        case T_LockingClause:
            out->node_case = PG_QUERY__NODE__NODE_LOCKING_CLAUSE;
            out->locking_clause = locking_clause(as<LockingClause>(n));
            break;
        case T_WithClause:
            out->node_case = PG_QUERY__NODE__NODE_WITH_CLAUSE;
            out->with_clause = with_clause(&as<WithClause>(n));
            break;
        case T_CommonTableExpr:
            out->node_case = PG_QUERY__NODE__NODE_COMMON_TABLE_EXPR;
            out->common_table_expr = common_table_expr(as<CommonTableExpr>(n));
            break;
        case T_OnConflictClause:
            out->node_case = PG_QUERY__NODE__NODE_ON_CONFLICT_CLAUSE;
            out->on_conflict_clause = on_conflict_clause(&as<OnConflictClause>(n));
            break;
        case T_InferClause:
            out->node_case = PG_QUERY__NODE__NODE_INFER_CLAUSE;
            out->infer_clause = infer_clause(&as<InferClause>(n));
            break;
        case T_IndexElem:
            out->node_case = PG_QUERY__NODE__NODE_INDEX_ELEM;
            out->index_elem = index_elem(as<IndexElem>(n));
            break;
        case T_DefElem:
            out->node_case = PG_QUERY__NODE__NODE_DEF_ELEM;
            out->def_elem = def_elem(as<DefElem>(n));
            break;
        case T_List:
            out->node_case = PG_QUERY__NODE__NODE_LIST;
            out->list = list_node(as<List>(n));
            break;
        case T_Integer:
            out->node_case = PG_QUERY__NODE__NODE_INTEGER;
            out->integer = make<PgQuery__Integer>(PG_QUERY__INTEGER__INIT);
            out->integer->ival = as<Integer>(n).ival;
            break;
        case T_Float:
            out->node_case = PG_QUERY__NODE__NODE_FLOAT;
            out->float_ = make<PgQuery__Float>(PG_QUERY__FLOAT__INIT);
            out->float_->fval = string(as<Float>(n).fval);
            break;
        case T_Boolean:
            out->node_case = PG_QUERY__NODE__NODE_BOOLEAN;
            out->boolean = make<PgQuery__Boolean>(PG_QUERY__BOOLEAN__INIT);
            out->boolean->boolval = as<Boolean>(n).boolval;
            break;
        case T_String:
            out->node_case = PG_QUERY__NODE__NODE_STRING;
            out->string = make<PgQuery__String>(PG_QUERY__STRING__INIT);
            out->string->sval = string(as<String>(n).sval);
            break;
        case T_BitString:
            out->node_case = PG_QUERY__NODE__NODE_BIT_STRING;
            out->bit_string = make<PgQuery__BitString>(PG_QUERY__BIT_STRING__INIT);
            out->bit_string->bsval = string(as<BitString>(n).bsval);
            break;
        default:
            return give_up();
    }
    return out;
}

}  // namespace sg::router::raw_tree
