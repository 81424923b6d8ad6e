#include "router/replica_safe.h"

#include <algorithm>
#include <array>
#include <string_view>

#include "router/sql_nodes.h"

namespace sg::router {
namespace {

// Built-ins that read nothing but their arguments (or the catalog / the clock; pg_sleep waits) and
// write nothing, kept sorted for binary search. Deliberately absent: sequence functions,
// set_config(), advisory locks, txid_current()/pg_current_xact_id() (they assign a
// transaction id), large-object writers, pg_notify(), and admin functions.
constexpr std::array<std::string_view, 131> kReadOnly = {
    "abs",
    "age",
    "array_agg",
    "array_length",
    "array_lower",
    "array_position",
    "array_to_string",
    "array_upper",
    "avg",
    "bit_and",
    "bit_or",
    "bit_xor",
    "bool_and",
    "bool_or",
    "btrim",
    "cardinality",
    "cbrt",
    "ceil",
    "ceiling",
    "char_length",
    "character_length",
    "chr",
    "clock_timestamp",
    "coalesce",
    "concat",
    "concat_ws",
    "count",
    "current_database",
    "current_date",
    "current_schema",
    "current_setting",
    "current_time",
    "current_timestamp",
    "current_user",
    "date_part",
    "date_trunc",
    "degrees",
    "div",
    "every",
    "exp",
    "extract",
    "floor",
    "format",
    "gen_random_uuid",
    "generate_series",
    "greatest",
    "hashtext",
    "initcap",
    "json_agg",
    "json_array_length",
    "json_build_array",
    "json_build_object",
    "json_extract_path",
    "json_extract_path_text",
    "json_object_agg",
    "jsonb_agg",
    "jsonb_array_length",
    "jsonb_build_array",
    "jsonb_build_object",
    "jsonb_extract_path",
    "jsonb_extract_path_text",
    "jsonb_object_agg",
    "jsonb_typeof",
    "justify_interval",
    "lag",
    "last_value",
    "lead",
    "least",
    "left",
    "length",
    "ln",
    "localtime",
    "localtimestamp",
    "log",
    "lower",
    "lpad",
    "ltrim",
    "make_date",
    "make_interval",
    "make_timestamp",
    "max",
    "md5",
    "min",
    "mod",
    "now",
    "nullif",
    "octet_length",
    "pg_is_in_recovery",
    "pg_last_wal_replay_lsn",
    "pg_last_xact_replay_timestamp",
    "pg_sleep",
    "pg_sleep_for",
    "position",
    "power",
    "random",
    "rank",
    "regexp_match",
    "regexp_matches",
    "regexp_replace",
    "repeat",
    "replace",
    "reverse",
    "right",
    "round",
    "row_number",
    "rpad",
    "rtrim",
    "session_user",
    "sign",
    "split_part",
    "sqrt",
    "starts_with",
    "statement_timestamp",
    "string_agg",
    "strpos",
    "substr",
    "substring",
    "sum",
    "timeofday",
    "to_char",
    "to_date",
    "to_json",
    "to_jsonb",
    "to_number",
    "to_timestamp",
    "transaction_timestamp",
    "trim",
    "trunc",
    "unnest",
    "upper",
    "version",
};

bool read_only_builtin(std::string_view name) {
    return std::binary_search(kReadOnly.begin(), kReadOnly.end(), name);
}

}  // namespace

std::string replica_blocker(const ProtobufCMessage& select) {
    std::string why;
    if (select.descriptor == &pg_query__select_stmt__descriptor &&
        reinterpret_cast<const PgQuery__SelectStmt&>(select).into_clause)
        return "SELECT INTO";
    walk(&select, [&](const ProtobufCMessage& m) {
        if (!why.empty()) return false;
        if (m.descriptor == &pg_query__locking_clause__descriptor) {
            why = "FOR UPDATE/SHARE";
        } else if (m.descriptor == &pg_query__insert_stmt__descriptor ||
                   m.descriptor == &pg_query__update_stmt__descriptor ||
                   m.descriptor == &pg_query__delete_stmt__descriptor ||
                   m.descriptor == &pg_query__merge_stmt__descriptor) {
            why = "a data-modifying WITH";
        } else if (m.descriptor == &pg_query__select_stmt__descriptor &&
                   reinterpret_cast<const PgQuery__SelectStmt&>(m).into_clause) {
            why = "SELECT INTO";
        } else if (m.descriptor == &pg_query__func_call__descriptor) {
            const auto& f = reinterpret_cast<const PgQuery__FuncCall&>(m);
            const bool catalog = f.n_funcname == 1 ||
                                 (f.n_funcname == 2 && string_value(f.funcname[0]) == "pg_catalog");
            std::string_view name = f.n_funcname ? string_value(f.funcname[f.n_funcname - 1]) : "";
            if (!catalog || !read_only_builtin(name))
                why = "function " + std::string(name) + "() (not known to be read-only)";
        }
        return why.empty();
    });
    return why;
}

}  // namespace sg::router
