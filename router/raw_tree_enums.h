// PostgreSQL's parse-node enums mapped to libpg_query's protobuf enums, for the raw tree
// converter (raw_tree_converter.h). Inline, as they were when one file held the converter: a
// mapping is a switch the compiler folds into its caller.
#pragma once

#include <pg_query/pg_query.pb-c.h>

#include "router/raw_tree_pg.h"

namespace sg::router::raw_tree {

// libpg_query writes PostgreSQL's enums as the protobuf value of the same name (protobuf's 0
// means undefined), so each mapping is a switch over the names, and -Wswitch reports a
// PostgreSQL value missing here. LimitOption is the exception (see pb_limit_option).
#define SG_ENUM(pb_prefix, name) \
    case name:                   \
        return pb_prefix##name;

inline PgQuery__AExprKind pb_enum(A_Expr_Kind v) {
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

inline PgQuery__BoolExprType pb_enum(BoolExprType v) {
    switch (v) {
        SG_ENUM(PG_QUERY__BOOL_EXPR_TYPE__, AND_EXPR)
        SG_ENUM(PG_QUERY__BOOL_EXPR_TYPE__, OR_EXPR)
        SG_ENUM(PG_QUERY__BOOL_EXPR_TYPE__, NOT_EXPR)
    }
    return {};
}

inline PgQuery__NullTestType pb_enum(NullTestType v) {
    switch (v) {
        SG_ENUM(PG_QUERY__NULL_TEST_TYPE__, IS_NULL)
        SG_ENUM(PG_QUERY__NULL_TEST_TYPE__, IS_NOT_NULL)
    }
    return {};
}

inline PgQuery__BoolTestType pb_enum(BoolTestType v) {
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

inline PgQuery__CoercionForm pb_enum(CoercionForm v) {
    switch (v) {
        SG_ENUM(PG_QUERY__COERCION_FORM__, COERCE_EXPLICIT_CALL)
        SG_ENUM(PG_QUERY__COERCION_FORM__, COERCE_EXPLICIT_CAST)
        SG_ENUM(PG_QUERY__COERCION_FORM__, COERCE_IMPLICIT_CAST)
        SG_ENUM(PG_QUERY__COERCION_FORM__, COERCE_SQL_SYNTAX)
    }
    return {};
}

inline PgQuery__JoinType pb_enum(JoinType v) {
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

inline PgQuery__SortByDir pb_enum(SortByDir v) {
    switch (v) {
        SG_ENUM(PG_QUERY__SORT_BY_DIR__, SORTBY_DEFAULT)
        SG_ENUM(PG_QUERY__SORT_BY_DIR__, SORTBY_ASC)
        SG_ENUM(PG_QUERY__SORT_BY_DIR__, SORTBY_DESC)
        SG_ENUM(PG_QUERY__SORT_BY_DIR__, SORTBY_USING)
    }
    return {};
}

inline PgQuery__SortByNulls pb_enum(SortByNulls v) {
    switch (v) {
        SG_ENUM(PG_QUERY__SORT_BY_NULLS__, SORTBY_NULLS_DEFAULT)
        SG_ENUM(PG_QUERY__SORT_BY_NULLS__, SORTBY_NULLS_FIRST)
        SG_ENUM(PG_QUERY__SORT_BY_NULLS__, SORTBY_NULLS_LAST)
    }
    return {};
}

inline PgQuery__SubLinkType pb_enum(SubLinkType v) {
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

inline PgQuery__MinMaxOp pb_enum(MinMaxOp v) {
    switch (v) {
        SG_ENUM(PG_QUERY__MIN_MAX_OP__, IS_GREATEST)
        SG_ENUM(PG_QUERY__MIN_MAX_OP__, IS_LEAST)
    }
    return {};
}

inline PgQuery__SQLValueFunctionOp pb_enum(SQLValueFunctionOp v) {
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

inline PgQuery__CTEMaterialize pb_enum(CTEMaterialize v) {
    switch (v) {
        SG_ENUM(PG_QUERY__CTEMATERIALIZE__, CTEMaterializeDefault)
        SG_ENUM(PG_QUERY__CTEMATERIALIZE__, CTEMaterializeAlways)
        SG_ENUM(PG_QUERY__CTEMATERIALIZE__, CTEMaterializeNever)
    }
    return {};
}

inline PgQuery__OnConflictAction pb_enum(OnConflictAction v) {
    switch (v) {
        SG_ENUM(PG_QUERY__ON_CONFLICT_ACTION__, ONCONFLICT_NONE)
        SG_ENUM(PG_QUERY__ON_CONFLICT_ACTION__, ONCONFLICT_NOTHING)
        SG_ENUM(PG_QUERY__ON_CONFLICT_ACTION__, ONCONFLICT_UPDATE)
    }
    return {};
}

inline PgQuery__LockClauseStrength pb_enum(LockClauseStrength v) {
    switch (v) {
        SG_ENUM(PG_QUERY__LOCK_CLAUSE_STRENGTH__, LCS_NONE)
        SG_ENUM(PG_QUERY__LOCK_CLAUSE_STRENGTH__, LCS_FORKEYSHARE)
        SG_ENUM(PG_QUERY__LOCK_CLAUSE_STRENGTH__, LCS_FORSHARE)
        SG_ENUM(PG_QUERY__LOCK_CLAUSE_STRENGTH__, LCS_FORNOKEYUPDATE)
        SG_ENUM(PG_QUERY__LOCK_CLAUSE_STRENGTH__, LCS_FORUPDATE)
    }
    return {};
}

inline PgQuery__LockWaitPolicy pb_enum(LockWaitPolicy v) {
    switch (v) {
        SG_ENUM(PG_QUERY__LOCK_WAIT_POLICY__, LockWaitBlock)
        SG_ENUM(PG_QUERY__LOCK_WAIT_POLICY__, LockWaitSkip)
        SG_ENUM(PG_QUERY__LOCK_WAIT_POLICY__, LockWaitError)
    }
    return {};
}

inline PgQuery__GroupingSetKind pb_enum(GroupingSetKind v) {
    switch (v) {
        SG_ENUM(PG_QUERY__GROUPING_SET_KIND__, GROUPING_SET_EMPTY)
        SG_ENUM(PG_QUERY__GROUPING_SET_KIND__, GROUPING_SET_SIMPLE)
        SG_ENUM(PG_QUERY__GROUPING_SET_KIND__, GROUPING_SET_ROLLUP)
        SG_ENUM(PG_QUERY__GROUPING_SET_KIND__, GROUPING_SET_CUBE)
        SG_ENUM(PG_QUERY__GROUPING_SET_KIND__, GROUPING_SET_SETS)
    }
    return {};
}

inline PgQuery__TransactionStmtKind pb_enum(TransactionStmtKind v) {
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

inline PgQuery__DefElemAction pb_enum(DefElemAction v) {
    switch (v) {
        SG_ENUM(PG_QUERY__DEF_ELEM_ACTION__, DEFELEM_UNSPEC)
        SG_ENUM(PG_QUERY__DEF_ELEM_ACTION__, DEFELEM_SET)
        SG_ENUM(PG_QUERY__DEF_ELEM_ACTION__, DEFELEM_ADD)
        SG_ENUM(PG_QUERY__DEF_ELEM_ACTION__, DEFELEM_DROP)
    }
    return {};
}

inline PgQuery__VariableSetKind pb_enum(VariableSetKind v) {
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
inline PgQuery__LimitOption pb_limit_option(LimitOption v) {
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

inline PgQuery__SetOperation pb_enum(SetOperation v) {
    switch (v) {
        SG_ENUM(PG_QUERY__SET_OPERATION__, SETOP_NONE)
        SG_ENUM(PG_QUERY__SET_OPERATION__, SETOP_UNION)
        SG_ENUM(PG_QUERY__SET_OPERATION__, SETOP_INTERSECT)
        SG_ENUM(PG_QUERY__SET_OPERATION__, SETOP_EXCEPT)
    }
    return {};
}

inline PgQuery__OverridingKind pb_enum(OverridingKind v) {
    switch (v) {
        SG_ENUM(PG_QUERY__OVERRIDING_KIND__, OVERRIDING_NOT_SET)
        SG_ENUM(PG_QUERY__OVERRIDING_KIND__, OVERRIDING_USER_VALUE)
        SG_ENUM(PG_QUERY__OVERRIDING_KIND__, OVERRIDING_SYSTEM_VALUE)
    }
    return {};
}

#undef SG_ENUM

}  // namespace sg::router::raw_tree
