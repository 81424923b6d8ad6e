// The expression nodes the converter handles.
#include "router/raw_tree_converter.h"
#include "router/raw_tree_enums.h"

namespace sg::router::raw_tree {

PgQuery__ResTarget* Converter::res_target(const ResTarget& n) {
    auto* out = make<PgQuery__ResTarget>(PG_QUERY__RES_TARGET__INIT);
    out->name = string(n.name);
    list(n.indirection, &out->n_indirection, &out->indirection);
    out->val = node(n.val);
    out->location = n.location;
    return out;
}

PgQuery__MultiAssignRef* Converter::multi_assign_ref(const MultiAssignRef& n) {
    auto* out = make<PgQuery__MultiAssignRef>(PG_QUERY__MULTI_ASSIGN_REF__INIT);
    out->source = node(n.source);
    out->colno = n.colno;
    out->ncolumns = n.ncolumns;
    return out;
}

PgQuery__ColumnRef* Converter::column_ref(const ColumnRef& n) {
    auto* out = make<PgQuery__ColumnRef>(PG_QUERY__COLUMN_REF__INIT);
    list(n.fields, &out->n_fields, &out->fields);
    out->location = n.location;
    return out;
}

PgQuery__ParamRef* Converter::param_ref(const ParamRef& n) {
    auto* out = make<PgQuery__ParamRef>(PG_QUERY__PARAM_REF__INIT);
    out->number = n.number;
    out->location = n.location;
    return out;
}

// The constant's value is inline in A_Const (not a Node), and the protobuf has a oneof of
// the five value messages; a NULL constant sets none of them.
PgQuery__AConst* Converter::a_const(const A_Const& n) {
    auto* out = make<PgQuery__AConst>(PG_QUERY__A__CONST__INIT);
    out->isnull = n.isnull;
    out->location = n.location;
    if (n.isnull) return out;
    switch (nodeTag(&n.val)) {
        case T_Integer:
            out->val_case = PG_QUERY__A__CONST__VAL_IVAL;
            out->ival = make<PgQuery__Integer>(PG_QUERY__INTEGER__INIT);
            out->ival->ival = n.val.ival.ival;
            break;
        case T_Float:
            out->val_case = PG_QUERY__A__CONST__VAL_FVAL;
            out->fval = make<PgQuery__Float>(PG_QUERY__FLOAT__INIT);
            out->fval->fval = string(n.val.fval.fval);
            break;
        case T_Boolean:
            out->val_case = PG_QUERY__A__CONST__VAL_BOOLVAL;
            out->boolval = make<PgQuery__Boolean>(PG_QUERY__BOOLEAN__INIT);
            out->boolval->boolval = n.val.boolval.boolval;
            break;
        case T_String:
            out->val_case = PG_QUERY__A__CONST__VAL_SVAL;
            out->sval = make<PgQuery__String>(PG_QUERY__STRING__INIT);
            out->sval->sval = string(n.val.sval.sval);
            break;
        case T_BitString:
            out->val_case = PG_QUERY__A__CONST__VAL_BSVAL;
            out->bsval = make<PgQuery__BitString>(PG_QUERY__BIT_STRING__INIT);
            out->bsval->bsval = string(n.val.bsval.bsval);
            break;
        default:
            return give_up();
    }
    return out;
}

PgQuery__AExpr* Converter::a_expr(const A_Expr& n) {
    auto* out = make<PgQuery__AExpr>(PG_QUERY__A__EXPR__INIT);
    out->kind = pb_enum(n.kind);
    list(n.name, &out->n_name, &out->name);
    out->lexpr = node(n.lexpr);
    out->rexpr = node(n.rexpr);
    out->location = n.location;
    return out;
}

// The Expr nodes' xpr header carries nothing in a raw tree, and libpg_query leaves it out.
PgQuery__BoolExpr* Converter::bool_expr(const BoolExpr& n) {
    auto* out = make<PgQuery__BoolExpr>(PG_QUERY__BOOL_EXPR__INIT);
    out->boolop = pb_enum(n.boolop);
    list(n.args, &out->n_args, &out->args);
    out->location = n.location;
    return out;
}

PgQuery__NullTest* Converter::null_test(const NullTest& n) {
    auto* out = make<PgQuery__NullTest>(PG_QUERY__NULL_TEST__INIT);
    out->arg = node(n.arg);
    out->nulltesttype = pb_enum(n.nulltesttype);
    out->argisrow = n.argisrow;
    out->location = n.location;
    return out;
}

PgQuery__BooleanTest* Converter::boolean_test(const BooleanTest& n) {
    auto* out = make<PgQuery__BooleanTest>(PG_QUERY__BOOLEAN_TEST__INIT);
    out->arg = node(n.arg);
    out->booltesttype = pb_enum(n.booltesttype);
    out->location = n.location;
    return out;
}

PgQuery__FuncCall* Converter::func_call(const FuncCall& n) {
    auto* out = make<PgQuery__FuncCall>(PG_QUERY__FUNC_CALL__INIT);
    list(n.funcname, &out->n_funcname, &out->funcname);
    list(n.args, &out->n_args, &out->args);
    list(n.agg_order, &out->n_agg_order, &out->agg_order);
    out->agg_filter = node(n.agg_filter);
    out->over = window_def(n.over);
    out->agg_within_group = n.agg_within_group;
    out->agg_star = n.agg_star;
    out->agg_distinct = n.agg_distinct;
    out->func_variadic = n.func_variadic;
    out->funcformat = pb_enum(n.funcformat);
    out->location = n.location;
    return out;
}

PgQuery__TypeCast* Converter::type_cast(const TypeCast& n) {
    auto* out = make<PgQuery__TypeCast>(PG_QUERY__TYPE_CAST__INIT);
    out->arg = node(n.arg);
    out->type_name = type_name(n.typeName);
    out->location = n.location;
    return out;
}

PgQuery__TypeName* Converter::type_name(const TypeName* n) {
    if (n == nullptr) return nullptr;
    auto* out = make<PgQuery__TypeName>(PG_QUERY__TYPE_NAME__INIT);
    list(n->names, &out->n_names, &out->names);
    out->type_oid = n->typeOid;
    out->setof = n->setof;
    out->pct_type = n->pct_type;
    list(n->typmods, &out->n_typmods, &out->typmods);
    out->typemod = n->typemod;
    list(n->arrayBounds, &out->n_array_bounds, &out->array_bounds);
    out->location = n->location;
    return out;
}

PgQuery__CollateClause* Converter::collate_clause(const CollateClause& n) {
    auto* out = make<PgQuery__CollateClause>(PG_QUERY__COLLATE_CLAUSE__INIT);
    out->arg = node(n.arg);
    list(n.collname, &out->n_collname, &out->collname);
    out->location = n.location;
    return out;
}

PgQuery__AArrayExpr* Converter::a_array_expr(const A_ArrayExpr& n) {
    auto* out = make<PgQuery__AArrayExpr>(PG_QUERY__A__ARRAY_EXPR__INIT);
    list(n.elements, &out->n_elements, &out->elements);
    out->location = n.location;
    return out;
}

PgQuery__AIndirection* Converter::a_indirection(const A_Indirection& n) {
    auto* out = make<PgQuery__AIndirection>(PG_QUERY__A__INDIRECTION__INIT);
    out->arg = node(n.arg);
    list(n.indirection, &out->n_indirection, &out->indirection);
    return out;
}

PgQuery__AIndices* Converter::a_indices(const A_Indices& n) {
    auto* out = make<PgQuery__AIndices>(PG_QUERY__A__INDICES__INIT);
    out->is_slice = n.is_slice;
    out->lidx = node(n.lidx);
    out->uidx = node(n.uidx);
    return out;
}

PgQuery__SubLink* Converter::sub_link(const SubLink& n) {
    auto* out = make<PgQuery__SubLink>(PG_QUERY__SUB_LINK__INIT);
    out->sub_link_type = pb_enum(n.subLinkType);
    out->sub_link_id = n.subLinkId;
    out->testexpr = node(n.testexpr);
    list(n.operName, &out->n_oper_name, &out->oper_name);
    out->subselect = node(n.subselect);
    out->location = n.location;
    return out;
}

PgQuery__RowExpr* Converter::row_expr(const RowExpr& n) {
    auto* out = make<PgQuery__RowExpr>(PG_QUERY__ROW_EXPR__INIT);
    list(n.args, &out->n_args, &out->args);
    out->row_typeid = n.row_typeid;
    out->row_format = pb_enum(n.row_format);
    list(n.colnames, &out->n_colnames, &out->colnames);
    out->location = n.location;
    return out;
}

PgQuery__CoalesceExpr* Converter::coalesce_expr(const CoalesceExpr& n) {
    auto* out = make<PgQuery__CoalesceExpr>(PG_QUERY__COALESCE_EXPR__INIT);
    out->coalescetype = n.coalescetype;
    out->coalescecollid = n.coalescecollid;
    list(n.args, &out->n_args, &out->args);
    out->location = n.location;
    return out;
}

PgQuery__MinMaxExpr* Converter::min_max_expr(const MinMaxExpr& n) {
    auto* out = make<PgQuery__MinMaxExpr>(PG_QUERY__MIN_MAX_EXPR__INIT);
    out->minmaxtype = n.minmaxtype;
    out->minmaxcollid = n.minmaxcollid;
    out->inputcollid = n.inputcollid;
    out->op = pb_enum(n.op);
    list(n.args, &out->n_args, &out->args);
    out->location = n.location;
    return out;
}

PgQuery__CaseExpr* Converter::case_expr(const CaseExpr& n) {
    auto* out = make<PgQuery__CaseExpr>(PG_QUERY__CASE_EXPR__INIT);
    out->casetype = n.casetype;
    out->casecollid = n.casecollid;
    out->arg = node(n.arg);
    list(n.args, &out->n_args, &out->args);
    out->defresult = node(n.defresult);
    out->location = n.location;
    return out;
}

PgQuery__CaseWhen* Converter::case_when(const CaseWhen& n) {
    auto* out = make<PgQuery__CaseWhen>(PG_QUERY__CASE_WHEN__INIT);
    out->expr = node(n.expr);
    out->result = node(n.result);
    out->location = n.location;
    return out;
}

PgQuery__SQLValueFunction* Converter::sql_value_function(const SQLValueFunction& n) {
    auto* out = make<PgQuery__SQLValueFunction>(PG_QUERY__SQLVALUE_FUNCTION__INIT);
    out->op = pb_enum(n.op);
    out->type = n.type;
    out->typmod = n.typmod;
    out->location = n.location;
    return out;
}

PgQuery__SetToDefault* Converter::set_to_default(const SetToDefault& n) {
    auto* out = make<PgQuery__SetToDefault>(PG_QUERY__SET_TO_DEFAULT__INIT);
    out->type_id = n.typeId;
    out->type_mod = n.typeMod;
    out->collation = n.collation;
    out->location = n.location;
    return out;
}

}  // namespace sg::router::raw_tree
