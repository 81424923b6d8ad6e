// The converter from PostgreSQL's raw parse nodes to libpg_query's protobuf-c structs, field
// for field as libpg_query's own output functions (pg_query_outfuncs_protobuf.c) write them,
// so packing the result gives the bytes pg_query_parse_protobuf() returns. Only the node types
// ordinary DML and transaction control produce are converted; anything else gives up, and the
// caller parses again through the protobuf path.
//
// Internal to the raw_tree*.cpp files (it brings in the server headers, raw_tree_pg.h):
//   raw_tree_walk.cpp         the shared helpers and the dispatch over a Node's tag
//   raw_tree_statements.cpp   statements (the tree's roots)
//   raw_tree_expressions.cpp  expressions
//   raw_tree_clauses.cpp      FROM items, joins and the other clauses
#pragma once

#include <pg_query/pg_query.pb-c.h>

#include <cstddef>
#include <new>

#include "router/parser.h"

#include "router/raw_tree_pg.h"

namespace sg::router::raw_tree {

// The node behind a Node pointer whose tag was checked.
template <class T>
const T& as(const void* n) {
    return *static_cast<const T*>(n);
}

// One conversion. Every message comes from the allocator; a node type this does not know
// clears ok_, after which the (partial) tree is garbage the caller drops.
class Converter {
public:
    explicit Converter(ProtobufCAllocator& allocator) : allocator_(allocator) {}

    PgQuery__ParseResult* parse_result(const List* stmts);
    bool ok() const { return ok_; }
    // Gave up because the tree is deeper than kMaxParseDepth (the protobuf path, whose packer
    // recurses too, must not be tried either).
    bool too_deep() const { return too_deep_; }

private:
    template <class T>
    T* make(const T& init) {
        return new (allocator_.alloc(allocator_.allocator_data, sizeof(T))) T(init);
    }

    // Not handled: the caller takes the protobuf path.
    std::nullptr_t give_up() {
        ok_ = false;
        return nullptr;
    }

    // Unpacking gives "" for a string the packer left out, and the packer leaves out null and
    // "" alike, so both become protobuf-c's shared empty string.
    char* string(const char* s);
    // A one-character string, "" for NUL (libpg_query writes char fields that way).
    char* character(char c);

    void list(const List* l, size_t* n, PgQuery__Node*** items);
    // A node field: null stays null.
    PgQuery__Node* node(const void* n);
    // A list element: null becomes a Node with nothing set, as packing an empty message gives.
    PgQuery__Node* element(const void* n);

    PgQuery__RawStmt* raw_stmt(const RawStmt& n);
    PgQuery__SelectStmt* select_stmt(const SelectStmt* n);
    PgQuery__InsertStmt* insert_stmt(const InsertStmt& n);
    PgQuery__UpdateStmt* update_stmt(const UpdateStmt& n);
    PgQuery__DeleteStmt* delete_stmt(const DeleteStmt& n);
    PgQuery__TransactionStmt* transaction_stmt(const TransactionStmt& n);
    PgQuery__VariableSetStmt* variable_set_stmt(const VariableSetStmt& n);
    PgQuery__VariableShowStmt* variable_show_stmt(const VariableShowStmt& n);

    PgQuery__ResTarget* res_target(const ResTarget& n);
    PgQuery__MultiAssignRef* multi_assign_ref(const MultiAssignRef& n);
    PgQuery__ColumnRef* column_ref(const ColumnRef& n);
    PgQuery__ParamRef* param_ref(const ParamRef& n);
    PgQuery__AConst* a_const(const A_Const& n);
    PgQuery__AExpr* a_expr(const A_Expr& n);
    PgQuery__BoolExpr* bool_expr(const BoolExpr& n);
    PgQuery__NullTest* null_test(const NullTest& n);
    PgQuery__BooleanTest* boolean_test(const BooleanTest& n);
    PgQuery__FuncCall* func_call(const FuncCall& n);
    PgQuery__TypeCast* type_cast(const TypeCast& n);
    PgQuery__TypeName* type_name(const TypeName* n);
    PgQuery__CollateClause* collate_clause(const CollateClause& n);
    PgQuery__AArrayExpr* a_array_expr(const A_ArrayExpr& n);
    PgQuery__AIndirection* a_indirection(const A_Indirection& n);
    PgQuery__AIndices* a_indices(const A_Indices& n);
    PgQuery__SubLink* sub_link(const SubLink& n);
    PgQuery__RowExpr* row_expr(const RowExpr& n);
    PgQuery__CoalesceExpr* coalesce_expr(const CoalesceExpr& n);
    PgQuery__MinMaxExpr* min_max_expr(const MinMaxExpr& n);
    PgQuery__CaseExpr* case_expr(const CaseExpr& n);
    PgQuery__CaseWhen* case_when(const CaseWhen& n);
    PgQuery__SQLValueFunction* sql_value_function(const SQLValueFunction& n);
    PgQuery__SetToDefault* set_to_default(const SetToDefault& n);

    PgQuery__RangeVar* range_var(const RangeVar* n);
    PgQuery__Alias* alias(const Alias* n);
    PgQuery__JoinExpr* join_expr(const JoinExpr& n);
    PgQuery__RangeSubselect* range_subselect(const RangeSubselect& n);
    PgQuery__RangeFunction* range_function(const RangeFunction& n);
    PgQuery__SortBy* sort_by(const SortBy& n);
    PgQuery__WindowDef* window_def(const WindowDef* n);
    PgQuery__GroupingSet* grouping_set(const GroupingSet& n);
    PgQuery__LockingClause* locking_clause(const LockingClause& n);
    PgQuery__WithClause* with_clause(const WithClause* n);
    PgQuery__CommonTableExpr* common_table_expr(const CommonTableExpr& n);
    PgQuery__OnConflictClause* on_conflict_clause(const OnConflictClause* n);
    PgQuery__InferClause* infer_clause(const InferClause* n);
    PgQuery__IndexElem* index_elem(const IndexElem& n);
    PgQuery__DefElem* def_elem(const DefElem& n);
    PgQuery__List* list_node(const List& n);

    // One level down the tree for the lifetime of this object; false (and the conversion
    // given up) past kMaxParseDepth.
    class Descent {
    public:
        explicit Descent(Converter& c) : c_(c) { ++c_.depth_; }
        ~Descent() { --c_.depth_; }
        Descent(const Descent&) = delete;
        Descent& operator=(const Descent&) = delete;
        bool ok() {
            if (c_.depth_ <= kMaxParseDepth) return true;
            c_.too_deep_ = true;
            c_.give_up();
            return false;
        }

    private:
        Converter& c_;
    };

    ProtobufCAllocator& allocator_;
    bool ok_ = true;
    bool too_deep_ = false;
    int depth_ = 0;
};

}  // namespace sg::router::raw_tree
