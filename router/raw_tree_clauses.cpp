// FROM items, joins and the other clauses the converter handles (sorting, windows, grouping,
// locking, WITH, ON CONFLICT, options).
#include "router/raw_tree_converter.h"
#include "router/raw_tree_enums.h"

namespace sg::router::raw_tree {

PgQuery__RangeVar* Converter::range_var(const RangeVar* n) {
    if (n == nullptr) return nullptr;
    auto* out = make<PgQuery__RangeVar>(PG_QUERY__RANGE_VAR__INIT);
    out->catalogname = string(n->catalogname);
    out->schemaname = string(n->schemaname);
    out->relname = string(n->relname);
    out->inh = n->inh;
    out->relpersistence = character(n->relpersistence);
    out->alias = alias(n->alias);
    out->location = n->location;
    return out;
}

PgQuery__Alias* Converter::alias(const Alias* n) {
    if (n == nullptr) return nullptr;
    auto* out = make<PgQuery__Alias>(PG_QUERY__ALIAS__INIT);
    out->aliasname = string(n->aliasname);
    list(n->colnames, &out->n_colnames, &out->colnames);
    return out;
}

PgQuery__JoinExpr* Converter::join_expr(const JoinExpr& n) {
    auto* out = make<PgQuery__JoinExpr>(PG_QUERY__JOIN_EXPR__INIT);
    out->jointype = pb_enum(n.jointype);
    out->is_natural = n.isNatural;
    out->larg = node(n.larg);
    out->rarg = node(n.rarg);
    list(n.usingClause, &out->n_using_clause, &out->using_clause);
    out->join_using_alias = alias(n.join_using_alias);
    out->quals = node(n.quals);
    out->alias = alias(n.alias);
    out->rtindex = n.rtindex;
    return out;
}

PgQuery__RangeSubselect* Converter::range_subselect(const RangeSubselect& n) {
    auto* out = make<PgQuery__RangeSubselect>(PG_QUERY__RANGE_SUBSELECT__INIT);
    out->lateral = n.lateral;
    out->subquery = node(n.subquery);
    out->alias = alias(n.alias);
    return out;
}

PgQuery__RangeFunction* Converter::range_function(const RangeFunction& n) {
    auto* out = make<PgQuery__RangeFunction>(PG_QUERY__RANGE_FUNCTION__INIT);
    out->lateral = n.lateral;
    out->ordinality = n.ordinality;
    out->is_rowsfrom = n.is_rowsfrom;
    list(n.functions, &out->n_functions, &out->functions);
    out->alias = alias(n.alias);
    list(n.coldeflist, &out->n_coldeflist, &out->coldeflist);
    return out;
}

PgQuery__SortBy* Converter::sort_by(const SortBy& n) {
    auto* out = make<PgQuery__SortBy>(PG_QUERY__SORT_BY__INIT);
    out->node = node(n.node);
    out->sortby_dir = pb_enum(n.sortby_dir);
    out->sortby_nulls = pb_enum(n.sortby_nulls);
    list(n.useOp, &out->n_use_op, &out->use_op);
    out->location = n.location;
    return out;
}

PgQuery__WindowDef* Converter::window_def(const WindowDef* n) {
    if (n == nullptr) return nullptr;
    auto* out = make<PgQuery__WindowDef>(PG_QUERY__WINDOW_DEF__INIT);
    out->name = string(n->name);
    out->refname = string(n->refname);
    list(n->partitionClause, &out->n_partition_clause, &out->partition_clause);
    list(n->orderClause, &out->n_order_clause, &out->order_clause);
    out->frame_options = n->frameOptions;
    out->start_offset = node(n->startOffset);
    out->end_offset = node(n->endOffset);
    out->location = n->location;
    return out;
}

PgQuery__GroupingSet* Converter::grouping_set(const GroupingSet& n) {
    auto* out = make<PgQuery__GroupingSet>(PG_QUERY__GROUPING_SET__INIT);
    out->kind = pb_enum(n.kind);
    list(n.content, &out->n_content, &out->content);
    out->location = n.location;
    return out;
}

PgQuery__LockingClause* Converter::locking_clause(const LockingClause& n) {
    auto* out = make<PgQuery__LockingClause>(PG_QUERY__LOCKING_CLAUSE__INIT);
    list(n.lockedRels, &out->n_locked_rels, &out->locked_rels);
    out->strength = pb_enum(n.strength);
    out->wait_policy = pb_enum(n.waitPolicy);
    return out;
}

PgQuery__WithClause* Converter::with_clause(const WithClause* n) {
    if (n == nullptr) return nullptr;
    auto* out = make<PgQuery__WithClause>(PG_QUERY__WITH_CLAUSE__INIT);
    list(n->ctes, &out->n_ctes, &out->ctes);
    out->recursive = n->recursive;
    out->location = n->location;
    return out;
}

// The column type/typmod/collation lists are filled by parse analysis, never in a raw tree;
// list() gives up on them (they are integer and OID lists) should they ever be set.
PgQuery__CommonTableExpr* Converter::common_table_expr(const CommonTableExpr& n) {
    if (n.search_clause != nullptr || n.cycle_clause != nullptr) return give_up();
    auto* out = make<PgQuery__CommonTableExpr>(PG_QUERY__COMMON_TABLE_EXPR__INIT);
    out->ctename = string(n.ctename);
    list(n.aliascolnames, &out->n_aliascolnames, &out->aliascolnames);
    out->ctematerialized = pb_enum(n.ctematerialized);
    out->ctequery = node(n.ctequery);
    out->location = n.location;
    out->cterecursive = n.cterecursive;
    out->cterefcount = n.cterefcount;
    list(n.ctecolnames, &out->n_ctecolnames, &out->ctecolnames);
    list(n.ctecoltypes, &out->n_ctecoltypes, &out->ctecoltypes);
    list(n.ctecoltypmods, &out->n_ctecoltypmods, &out->ctecoltypmods);
    list(n.ctecolcollations, &out->n_ctecolcollations, &out->ctecolcollations);
    return out;
}

PgQuery__OnConflictClause* Converter::on_conflict_clause(const OnConflictClause* n) {
    if (n == nullptr) return nullptr;
    auto* out = make<PgQuery__OnConflictClause>(PG_QUERY__ON_CONFLICT_CLAUSE__INIT);
    out->action = pb_enum(n->action);
    out->infer = infer_clause(n->infer);
    list(n->targetList, &out->n_target_list, &out->target_list);
    out->where_clause = node(n->whereClause);
    out->location = n->location;
    return out;
}

PgQuery__InferClause* Converter::infer_clause(const InferClause* n) {
    if (n == nullptr) return nullptr;
    auto* out = make<PgQuery__InferClause>(PG_QUERY__INFER_CLAUSE__INIT);
    list(n->indexElems, &out->n_index_elems, &out->index_elems);
    out->where_clause = node(n->whereClause);
    out->conname = string(n->conname);
    out->location = n->location;
    return out;
}

PgQuery__IndexElem* Converter::index_elem(const IndexElem& n) {
    auto* out = make<PgQuery__IndexElem>(PG_QUERY__INDEX_ELEM__INIT);
    out->name = string(n.name);
    out->expr = node(n.expr);
    out->indexcolname = string(n.indexcolname);
    list(n.collation, &out->n_collation, &out->collation);
    list(n.opclass, &out->n_opclass, &out->opclass);
    list(n.opclassopts, &out->n_opclassopts, &out->opclassopts);
    out->ordering = pb_enum(n.ordering);
    out->nulls_ordering = pb_enum(n.nulls_ordering);
    return out;
}

PgQuery__DefElem* Converter::def_elem(const DefElem& n) {
    auto* out = make<PgQuery__DefElem>(PG_QUERY__DEF_ELEM__INIT);
    out->defnamespace = string(n.defnamespace);
    out->defname = string(n.defname);
    out->arg = node(n.arg);
    out->defaction = pb_enum(n.defaction);
    out->location = n.location;
    return out;
}

PgQuery__List* Converter::list_node(const List& n) {
    auto* out = make<PgQuery__List>(PG_QUERY__LIST__INIT);
    list(&n, &out->n_items, &out->items);
    return out;
}

}  // namespace sg::router::raw_tree
