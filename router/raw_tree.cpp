// Converts PostgreSQL's raw parse nodes into libpg_query's protobuf-c structs, field for field
// as libpg_query's own output functions (pg_query_outfuncs_protobuf.c) write them, so packing
// the result gives the bytes pg_query_parse_protobuf() returns. Only the node types ordinary
// DML and transaction control produce are converted; anything else gives up, and the caller
// parses again through the protobuf path.
//
// This is the only file that sees PostgreSQL's server headers: they define macros (printf,
// Max, foreach, ...) that must not reach the rest of the code, so they come last.
#include "router/raw_tree.h"
#include "common/sqlstate.h"

#include <pg_query.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>

namespace {
// ParseResult.version is the release of libpg_query's own copy of PostgreSQL; the server
// headers below define PG_VERSION_NUM again as the installed minor release.
constexpr int32_t kLibPgQueryVersion = PG_VERSION_NUM;
}  // namespace
#undef PG_MAJORVERSION
#undef PG_VERSION
#undef PG_VERSION_NUM

// postgres.h must come first (it sets up what the others rely on).
// clang-format off
extern "C" {
#include <postgres.h>

#include <nodes/lockoptions.h>
#include <nodes/parsenodes.h>
#include <nodes/pg_list.h>
#include <nodes/primnodes.h>
#include <nodes/value.h>
#include <pg_query/pg_query_internal.h>
}
// clang-format on

namespace sg::router {
namespace {

// libpg_query writes PostgreSQL's enums as the protobuf value of the same name (protobuf's 0
// means undefined), so each mapping is a switch over the names, and -Wswitch reports a
// PostgreSQL value missing here. LimitOption is the exception (see pb_limit_option).
#define SG_ENUM(pb_prefix, name) \
    case name:                   \
        return pb_prefix##name;

PgQuery__AExprKind pb_enum(A_Expr_Kind v) {
    switch (v) {
        SG_ENUM(PG_QUERY__A__EXPR__KIND__, AEXPR_OP)
        SG_ENUM(PG_QUERY__A__EXPR__KIND__, AEXPR_OP_ANY)
        SG_ENUM(PG_QUERY__A__EXPR__KIND__, AEXPR_OP_ALL)
        SG_ENUM(PG_QUERY__A__EXPR__KIND__, AEXPR_DISTINCT)
        SG_ENUM(PG_QUERY__A__EXPR__KIND__, AEXPR_NOT_DISTINCT)
        SG_ENUM(PG_QUERY__A__EXPR__KIND__, AEXPR_NULLIF)
        SG_ENUM(PG_QUERY__A__EXPR__KIND__, AEXPR_IN)
        SG_ENUM(PG_QUERY__A__EXPR__KIND__, AEXPR_LIKE)
        SG_ENUM(PG_QUERY__A__EXPR__KIND__, AEXPR_ILIKE)
        SG_ENUM(PG_QUERY__A__EXPR__KIND__, AEXPR_SIMILAR)
        SG_ENUM(PG_QUERY__A__EXPR__KIND__, AEXPR_BETWEEN)
        SG_ENUM(PG_QUERY__A__EXPR__KIND__, AEXPR_NOT_BETWEEN)
        SG_ENUM(PG_QUERY__A__EXPR__KIND__, AEXPR_BETWEEN_SYM)
        SG_ENUM(PG_QUERY__A__EXPR__KIND__, AEXPR_NOT_BETWEEN_SYM)
    }
    return {};
}

PgQuery__BoolExprType pb_enum(BoolExprType v) {
    switch (v) {
        SG_ENUM(PG_QUERY__BOOL_EXPR_TYPE__, AND_EXPR)
        SG_ENUM(PG_QUERY__BOOL_EXPR_TYPE__, OR_EXPR)
        SG_ENUM(PG_QUERY__BOOL_EXPR_TYPE__, NOT_EXPR)
    }
    return {};
}

PgQuery__NullTestType pb_enum(NullTestType v) {
    switch (v) {
        SG_ENUM(PG_QUERY__NULL_TEST_TYPE__, IS_NULL)
        SG_ENUM(PG_QUERY__NULL_TEST_TYPE__, IS_NOT_NULL)
    }
    return {};
}

PgQuery__BoolTestType pb_enum(BoolTestType v) {
    switch (v) {
        SG_ENUM(PG_QUERY__BOOL_TEST_TYPE__, IS_TRUE)
        SG_ENUM(PG_QUERY__BOOL_TEST_TYPE__, IS_NOT_TRUE)
        SG_ENUM(PG_QUERY__BOOL_TEST_TYPE__, IS_FALSE)
        SG_ENUM(PG_QUERY__BOOL_TEST_TYPE__, IS_NOT_FALSE)
        SG_ENUM(PG_QUERY__BOOL_TEST_TYPE__, IS_UNKNOWN)
        SG_ENUM(PG_QUERY__BOOL_TEST_TYPE__, IS_NOT_UNKNOWN)
    }
    return {};
}

PgQuery__CoercionForm pb_enum(CoercionForm v) {
    switch (v) {
        SG_ENUM(PG_QUERY__COERCION_FORM__, COERCE_EXPLICIT_CALL)
        SG_ENUM(PG_QUERY__COERCION_FORM__, COERCE_EXPLICIT_CAST)
        SG_ENUM(PG_QUERY__COERCION_FORM__, COERCE_IMPLICIT_CAST)
        SG_ENUM(PG_QUERY__COERCION_FORM__, COERCE_SQL_SYNTAX)
    }
    return {};
}

PgQuery__JoinType pb_enum(JoinType v) {
    switch (v) {
        SG_ENUM(PG_QUERY__JOIN_TYPE__, JOIN_INNER)
        SG_ENUM(PG_QUERY__JOIN_TYPE__, JOIN_LEFT)
        SG_ENUM(PG_QUERY__JOIN_TYPE__, JOIN_FULL)
        SG_ENUM(PG_QUERY__JOIN_TYPE__, JOIN_RIGHT)
        SG_ENUM(PG_QUERY__JOIN_TYPE__, JOIN_SEMI)
        SG_ENUM(PG_QUERY__JOIN_TYPE__, JOIN_ANTI)
        SG_ENUM(PG_QUERY__JOIN_TYPE__, JOIN_UNIQUE_OUTER)
        SG_ENUM(PG_QUERY__JOIN_TYPE__, JOIN_UNIQUE_INNER)
    }
    return {};
}

PgQuery__SortByDir pb_enum(SortByDir v) {
    switch (v) {
        SG_ENUM(PG_QUERY__SORT_BY_DIR__, SORTBY_DEFAULT)
        SG_ENUM(PG_QUERY__SORT_BY_DIR__, SORTBY_ASC)
        SG_ENUM(PG_QUERY__SORT_BY_DIR__, SORTBY_DESC)
        SG_ENUM(PG_QUERY__SORT_BY_DIR__, SORTBY_USING)
    }
    return {};
}

PgQuery__SortByNulls pb_enum(SortByNulls v) {
    switch (v) {
        SG_ENUM(PG_QUERY__SORT_BY_NULLS__, SORTBY_NULLS_DEFAULT)
        SG_ENUM(PG_QUERY__SORT_BY_NULLS__, SORTBY_NULLS_FIRST)
        SG_ENUM(PG_QUERY__SORT_BY_NULLS__, SORTBY_NULLS_LAST)
    }
    return {};
}

PgQuery__SubLinkType pb_enum(SubLinkType v) {
    switch (v) {
        SG_ENUM(PG_QUERY__SUB_LINK_TYPE__, EXISTS_SUBLINK)
        SG_ENUM(PG_QUERY__SUB_LINK_TYPE__, ALL_SUBLINK)
        SG_ENUM(PG_QUERY__SUB_LINK_TYPE__, ANY_SUBLINK)
        SG_ENUM(PG_QUERY__SUB_LINK_TYPE__, ROWCOMPARE_SUBLINK)
        SG_ENUM(PG_QUERY__SUB_LINK_TYPE__, EXPR_SUBLINK)
        SG_ENUM(PG_QUERY__SUB_LINK_TYPE__, MULTIEXPR_SUBLINK)
        SG_ENUM(PG_QUERY__SUB_LINK_TYPE__, ARRAY_SUBLINK)
        SG_ENUM(PG_QUERY__SUB_LINK_TYPE__, CTE_SUBLINK)
    }
    return {};
}

PgQuery__MinMaxOp pb_enum(MinMaxOp v) {
    switch (v) {
        SG_ENUM(PG_QUERY__MIN_MAX_OP__, IS_GREATEST)
        SG_ENUM(PG_QUERY__MIN_MAX_OP__, IS_LEAST)
    }
    return {};
}

PgQuery__SQLValueFunctionOp pb_enum(SQLValueFunctionOp v) {
    switch (v) {
        SG_ENUM(PG_QUERY__SQLVALUE_FUNCTION_OP__, SVFOP_CURRENT_DATE)
        SG_ENUM(PG_QUERY__SQLVALUE_FUNCTION_OP__, SVFOP_CURRENT_TIME)
        SG_ENUM(PG_QUERY__SQLVALUE_FUNCTION_OP__, SVFOP_CURRENT_TIME_N)
        SG_ENUM(PG_QUERY__SQLVALUE_FUNCTION_OP__, SVFOP_CURRENT_TIMESTAMP)
        SG_ENUM(PG_QUERY__SQLVALUE_FUNCTION_OP__, SVFOP_CURRENT_TIMESTAMP_N)
        SG_ENUM(PG_QUERY__SQLVALUE_FUNCTION_OP__, SVFOP_LOCALTIME)
        SG_ENUM(PG_QUERY__SQLVALUE_FUNCTION_OP__, SVFOP_LOCALTIME_N)
        SG_ENUM(PG_QUERY__SQLVALUE_FUNCTION_OP__, SVFOP_LOCALTIMESTAMP)
        SG_ENUM(PG_QUERY__SQLVALUE_FUNCTION_OP__, SVFOP_LOCALTIMESTAMP_N)
        SG_ENUM(PG_QUERY__SQLVALUE_FUNCTION_OP__, SVFOP_CURRENT_ROLE)
        SG_ENUM(PG_QUERY__SQLVALUE_FUNCTION_OP__, SVFOP_CURRENT_USER)
        SG_ENUM(PG_QUERY__SQLVALUE_FUNCTION_OP__, SVFOP_USER)
        SG_ENUM(PG_QUERY__SQLVALUE_FUNCTION_OP__, SVFOP_SESSION_USER)
        SG_ENUM(PG_QUERY__SQLVALUE_FUNCTION_OP__, SVFOP_CURRENT_CATALOG)
        SG_ENUM(PG_QUERY__SQLVALUE_FUNCTION_OP__, SVFOP_CURRENT_SCHEMA)
    }
    return {};
}

PgQuery__CTEMaterialize pb_enum(CTEMaterialize v) {
    switch (v) {
        SG_ENUM(PG_QUERY__CTEMATERIALIZE__, CTEMaterializeDefault)
        SG_ENUM(PG_QUERY__CTEMATERIALIZE__, CTEMaterializeAlways)
        SG_ENUM(PG_QUERY__CTEMATERIALIZE__, CTEMaterializeNever)
    }
    return {};
}

PgQuery__OnConflictAction pb_enum(OnConflictAction v) {
    switch (v) {
        SG_ENUM(PG_QUERY__ON_CONFLICT_ACTION__, ONCONFLICT_NONE)
        SG_ENUM(PG_QUERY__ON_CONFLICT_ACTION__, ONCONFLICT_NOTHING)
        SG_ENUM(PG_QUERY__ON_CONFLICT_ACTION__, ONCONFLICT_UPDATE)
    }
    return {};
}

PgQuery__LockClauseStrength pb_enum(LockClauseStrength v) {
    switch (v) {
        SG_ENUM(PG_QUERY__LOCK_CLAUSE_STRENGTH__, LCS_NONE)
        SG_ENUM(PG_QUERY__LOCK_CLAUSE_STRENGTH__, LCS_FORKEYSHARE)
        SG_ENUM(PG_QUERY__LOCK_CLAUSE_STRENGTH__, LCS_FORSHARE)
        SG_ENUM(PG_QUERY__LOCK_CLAUSE_STRENGTH__, LCS_FORNOKEYUPDATE)
        SG_ENUM(PG_QUERY__LOCK_CLAUSE_STRENGTH__, LCS_FORUPDATE)
    }
    return {};
}

PgQuery__LockWaitPolicy pb_enum(LockWaitPolicy v) {
    switch (v) {
        SG_ENUM(PG_QUERY__LOCK_WAIT_POLICY__, LockWaitBlock)
        SG_ENUM(PG_QUERY__LOCK_WAIT_POLICY__, LockWaitSkip)
        SG_ENUM(PG_QUERY__LOCK_WAIT_POLICY__, LockWaitError)
    }
    return {};
}

PgQuery__GroupingSetKind pb_enum(GroupingSetKind v) {
    switch (v) {
        SG_ENUM(PG_QUERY__GROUPING_SET_KIND__, GROUPING_SET_EMPTY)
        SG_ENUM(PG_QUERY__GROUPING_SET_KIND__, GROUPING_SET_SIMPLE)
        SG_ENUM(PG_QUERY__GROUPING_SET_KIND__, GROUPING_SET_ROLLUP)
        SG_ENUM(PG_QUERY__GROUPING_SET_KIND__, GROUPING_SET_CUBE)
        SG_ENUM(PG_QUERY__GROUPING_SET_KIND__, GROUPING_SET_SETS)
    }
    return {};
}

PgQuery__TransactionStmtKind pb_enum(TransactionStmtKind v) {
    switch (v) {
        SG_ENUM(PG_QUERY__TRANSACTION_STMT_KIND__, TRANS_STMT_BEGIN)
        SG_ENUM(PG_QUERY__TRANSACTION_STMT_KIND__, TRANS_STMT_START)
        SG_ENUM(PG_QUERY__TRANSACTION_STMT_KIND__, TRANS_STMT_COMMIT)
        SG_ENUM(PG_QUERY__TRANSACTION_STMT_KIND__, TRANS_STMT_ROLLBACK)
        SG_ENUM(PG_QUERY__TRANSACTION_STMT_KIND__, TRANS_STMT_SAVEPOINT)
        SG_ENUM(PG_QUERY__TRANSACTION_STMT_KIND__, TRANS_STMT_RELEASE)
        SG_ENUM(PG_QUERY__TRANSACTION_STMT_KIND__, TRANS_STMT_ROLLBACK_TO)
        SG_ENUM(PG_QUERY__TRANSACTION_STMT_KIND__, TRANS_STMT_PREPARE)
        SG_ENUM(PG_QUERY__TRANSACTION_STMT_KIND__, TRANS_STMT_COMMIT_PREPARED)
        SG_ENUM(PG_QUERY__TRANSACTION_STMT_KIND__, TRANS_STMT_ROLLBACK_PREPARED)
    }
    return {};
}

PgQuery__DefElemAction pb_enum(DefElemAction v) {
    switch (v) {
        SG_ENUM(PG_QUERY__DEF_ELEM_ACTION__, DEFELEM_UNSPEC)
        SG_ENUM(PG_QUERY__DEF_ELEM_ACTION__, DEFELEM_SET)
        SG_ENUM(PG_QUERY__DEF_ELEM_ACTION__, DEFELEM_ADD)
        SG_ENUM(PG_QUERY__DEF_ELEM_ACTION__, DEFELEM_DROP)
    }
    return {};
}

PgQuery__VariableSetKind pb_enum(VariableSetKind v) {
    switch (v) {
        SG_ENUM(PG_QUERY__VARIABLE_SET_KIND__, VAR_SET_VALUE)
        SG_ENUM(PG_QUERY__VARIABLE_SET_KIND__, VAR_SET_DEFAULT)
        SG_ENUM(PG_QUERY__VARIABLE_SET_KIND__, VAR_SET_CURRENT)
        SG_ENUM(PG_QUERY__VARIABLE_SET_KIND__, VAR_SET_MULTI)
        SG_ENUM(PG_QUERY__VARIABLE_SET_KIND__, VAR_RESET)
        SG_ENUM(PG_QUERY__VARIABLE_SET_KIND__, VAR_RESET_ALL)
    }
    return {};
}

// libpg_query patches PostgreSQL to list LIMIT_OPTION_DEFAULT first (so that a SELECT without
// a limit, zero-initialised, reads as "no limit"); its raw trees hold that order's values,
// not the server headers' (COUNT, WITH_TIES, DEFAULT), so this maps the numbers.
PgQuery__LimitOption pb_limit_option(LimitOption v) {
    switch (static_cast<int>(v)) {
        case 0:
            return PG_QUERY__LIMIT_OPTION__LIMIT_OPTION_DEFAULT;
        case 1:
            return PG_QUERY__LIMIT_OPTION__LIMIT_OPTION_COUNT;
        case 2:
            return PG_QUERY__LIMIT_OPTION__LIMIT_OPTION_WITH_TIES;
    }
    return {};
}

PgQuery__SetOperation pb_enum(SetOperation v) {
    switch (v) {
        SG_ENUM(PG_QUERY__SET_OPERATION__, SETOP_NONE)
        SG_ENUM(PG_QUERY__SET_OPERATION__, SETOP_UNION)
        SG_ENUM(PG_QUERY__SET_OPERATION__, SETOP_INTERSECT)
        SG_ENUM(PG_QUERY__SET_OPERATION__, SETOP_EXCEPT)
    }
    return {};
}

PgQuery__OverridingKind pb_enum(OverridingKind v) {
    switch (v) {
        SG_ENUM(PG_QUERY__OVERRIDING_KIND__, OVERRIDING_NOT_SET)
        SG_ENUM(PG_QUERY__OVERRIDING_KIND__, OVERRIDING_USER_VALUE)
        SG_ENUM(PG_QUERY__OVERRIDING_KIND__, OVERRIDING_SYSTEM_VALUE)
    }
    return {};
}

#undef SG_ENUM

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

// One raw parse inside libpg_query's memory context, which holds the tree; leaving the context
// frees it, and the error and captured stderr (malloc'd, outside the context) go with it,
// as pg_query_free_protobuf_parse_result() frees them.
class RawParse {
public:
    explicit RawParse(const char* sql)
        : context_(pg_query_enter_memory_context()), result_(pg_query_raw_parse(sql)) {}
    ~RawParse() {
        pg_query_exit_memory_context(context_);
        if (result_.error) pg_query_free_error(result_.error);
        std::free(result_.stderr_buffer);
    }
    RawParse(const RawParse&) = delete;
    RawParse& operator=(const RawParse&) = delete;

    const PgQueryError* error() const { return result_.error; }
    const List* tree() const { return result_.tree; }

private:
    MemoryContext context_;
    PgQueryInternalParsetreeAndError result_;
};

}  // namespace

Expected<PgQuery__ParseResult*, ParseError> parse_raw_tree(const char* sql,
                                                           ProtobufCAllocator& allocator) {
    RawParse raw(sql);
    if (const PgQueryError* e = raw.error()) {
        return ParseError{e->message ? e->message : "syntax error", e->cursorpos};
    }
    Converter converter(allocator);
    PgQuery__ParseResult* tree = converter.parse_result(raw.tree());
    if (converter.too_deep()) {
        return ParseError{"statement is nested more than " + std::to_string(kMaxParseDepth) +
                              " levels deep, more than shardgate analyses",
                          0, sqlstate::kStatementTooComplex};
    }
    return converter.ok() ? tree : nullptr;
}

}  // namespace sg::router
