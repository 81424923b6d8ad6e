// Statement -> Analysis: everything about a statement that routing needs and that does not
// depend on parameter values or on the shard map, so one analysis serves every execution of
// a prepared statement and every repeat of a simple-protocol text (see statement_cache.h).
// It does depend on the [[tables]] catalog: drop cached analyses when the configuration
// reloads.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "router/catalog.h"
#include "router/hash.h"
#include "router/hints.h"
#include "router/parser.h"
#include "router/result.h"

namespace sg::router {

enum class StatementKind : uint8_t {
    Empty,  // only whitespace/comments
    Select,
    Insert,
    Update,
    Delete,
    Copy,
    Ddl,        // CREATE/ALTER/DROP/TRUNCATE/COMMENT/GRANT ...
    Begin,      // BEGIN / START TRANSACTION
    Commit,     // COMMIT / END / PREPARE TRANSACTION / COMMIT PREPARED
    Rollback,   // ROLLBACK / ABORT / ROLLBACK PREPARED
    Savepoint,  // SAVEPOINT / RELEASE / ROLLBACK TO
    Set,        // a PostgreSQL setting (SET / RESET / DISCARD)
    Show,
    SetShard,    // proxy-local: SET shardgate.shard = 's2'
    ResetShard,  // proxy-local: RESET shardgate.shard / SET shardgate.shard TO DEFAULT
    ShowShard,   // proxy-local: SHOW shardgate.shard
    Utility,     // VACUUM, ANALYZE, LOCK, DO, CALL, LISTEN, EXPLAIN ...
    Unparseable,
    Multi,  // several statements in one simple Query message
};
const char* to_string(StatementKind k);

// Where the statement's tables live.
enum class Placement : uint8_t {
    None,       // no table at all (SELECT 1, BEGIN): the default shard serves it
    Unsharded,  // tables not in [[tables]] (perhaps with reference tables): the default shard
    Reference,  // only reference tables: a read goes to one shard, a write to all
    Sharded,    // sharded tables: the shards owning `keys`, every shard when there are none
    AllShards,  // DDL and utilities every shard must run (schema changes, VACUUM ...)
};
const char* to_string(Placement p);

// One shard-key value of the statement, resolved at analysis time when it is a literal.
struct KeyRef {
    enum class Source : uint8_t { Value, Param, ArrayParam };
    Source source = Source::Value;
    Key value;                    // Source::Value
    int param = 0;                // 1-based $n for Param / ArrayParam
    std::string text;             // as written ("42", "'a'", "$1"), for explanations
    std::optional<KeyType> cast;  // Source::Param: `$n::type` (see KeyExpr::cast)
};

// One row of INSERT ... VALUES: its key and where it is written, so the proxy can rebuild an
// INSERT holding only some rows.
struct InsertRow {
    KeyRef key;
    uint32_t begin = 0;  // byte offsets of "( ... )" in the full text, end exclusive
    uint32_t end = 0;
};

// A `$n` in the text (ParamRef location), for renumbering when rows are dropped.
struct ParamUse {
    uint32_t offset = 0;
    uint32_t length = 0;
    int number = 0;
};

struct CopyInfo {
    enum class Format : uint8_t { Text, Csv, Binary };
    Format format = Format::Text;
    bool from_stdin = true;  // COPY ... FROM STDIN (false: TO STDOUT)
    int key_column = -1;     // 0-based position of the shard key among the listed columns
    int column_count = 0;
    char delimiter = '\t';
    char quote = '"';
    char escape = '"';
    std::string null_string = "\\N";
    bool header = false;
};

struct Analysis {
    StatementKind kind = StatementKind::Empty;
    Placement placement = Placement::None;
    bool is_write = false;
    // A SELECT a standby may answer (router/replica_safe.h); false for everything else.
    bool replica_safe = false;

    // The statement's principal table: the INSERT/UPDATE/DELETE/COPY target, the first
    // sharded table of a SELECT, else its first table.
    std::string table;
    std::optional<TableConfig> table_config;  // when `table` is in [[tables]]
    KeyType key_type = KeyType::BigInt;       // placement == Sharded

    // Shard keys the statement is restricted to; empty with Sharded means every shard.
    std::vector<KeyRef> keys;
    // Subqueries and CTE bodies whose sharded rows their own WHERE restricts to shard-key values
    // (one list per such SELECT): the statement is answered correctly only on the one shard
    // holding all of them, and the router refuses it otherwise. (Subqueries correlated on the
    // shard key with the statement's own tables need nothing: they follow those rows.)
    std::vector<std::vector<KeyRef>> nested_keys;
    // Only subqueries/CTE bodies read sharded tables (the statement's own FROM has none): the
    // nested keys alone choose the shard.
    bool nested_only = false;
    // INSERT ... VALUES rows (one or more), in order; keys is then empty.
    std::vector<InsertRow> rows;
    std::vector<ParamUse> params;  // every $n, in text order (INSERT only)
    uint32_t values_begin = 0;     // span of the VALUES row list (first "(" .. last ")")
    uint32_t values_end = 0;
    // INSERT ... VALUES into a sharded table without a column list: refused as analysed, but
    // the proxy can supply the table's columns here (the offset of VALUES/OVERRIDING, where
    // "(columns) " goes) and analyse the rewritten text. values_per_row: the longest row.
    uint32_t column_list_at = 0;
    uint32_t values_per_row = 0;
    bool returning = false;
    bool on_conflict =
        false;  // ON CONFLICT DO NOTHING or DO UPDATE ... WHERE: rows may return nothing
    bool set_local = false;  // SET LOCAL or SET TRANSACTION: for the transaction only (kind Set)
    // INSERT ... SELECT of a co-located table's shard key: runs on the SELECT's shards, each
    // copying its own rows (keys are the SELECT's; a multi-shard run is refused when
    // fanout_blocker is set).
    bool colocated_select = false;
    // UPDATE / ON CONFLICT DO UPDATE assigning the shard key; legal only when it provably
    // stays in the statement's bucket (checked by the router once parameters are known).
    std::optional<KeyRef> key_assignment;
    bool key_assignment_unusable = false;  // assigned something the router cannot evaluate

    // The construct that makes concatenating several shards' results wrong ("ORDER BY",
    // "aggregate function count()", ...); empty when concatenation is the correct answer.
    std::string fanout_blocker;
    // How the proxy can still answer a fan-out SELECT that concatenation would get wrong: each
    // shard runs `shard_sql` (the client's text when empty), and the shards' rows are combined
    // by PostgreSQL itself on the default shard (see MergePlan). Unset when the statement is
    // beyond that. The blocker stays set: only a caller that merges
    // (RouterContext::merge_results) may fan such a statement out.
    // Merge, per output column of an aggregating SELECT: count and sum are summed, min of mins,
    // max of maxes; Avg: the shards return sum(x) there and count(x) as an extra column, and the
    // combined average is the sum of sums over the sum of counts; Group: a GROUP BY column,
    // carried through and grouped by again; CountDistinct: count(DISTINCT x), for which each
    // shard groups by x as well and returns x in its place, and the combined value counts the
    // distinct x of all shards.
    // BoolAnd/BoolOr/BitAnd/BitOr/BitXor: bool_and (and every), bool_or, bit_and, bit_or, bit_xor,
    // combined by the same aggregate over the shards' partial values. StringAgg: string_agg(x,
    // 'sep') of text without ORDER BY (its order is unspecified): the shards' strings joined by the
    // same separator (MergePlan::separators). Count: count(*) / count(x), summed like Sum but 0
    // (not NULL) when no shard has a partial row (each shard returns none when it groups, as for
    // count(DISTINCT x) beside it).
    enum class Merge : uint8_t {
        Sum,
        Min,
        Max,
        Avg,
        Group,
        CountDistinct,
        BoolAnd,
        BoolOr,
        BitAnd,
        BitOr,
        BitXor,
        StringAgg,
        Count
    };
    struct SortKey {
        uint32_t position = 0;  // 1-based output column; 0: the output column named `name`
        std::string name;
        bool descending = false;
        int8_t nulls_first = -1;  // -1: PostgreSQL's default for the direction, else 0/1
        // 1-based: the key is not an output column, so the shards return it as this extra
        // column after the client's (see MergePlan::hidden); position and name are unused.
        uint32_t hidden = 0;
        // `expr COLLATE name` (a hidden key): the collation the combining query sorts by,
        // quoted as SQL ("pg_catalog"."C"); empty otherwise.
        std::string collation;
        // A hidden key over exactly one table column (lower(name), name || 'x'): PostgreSQL
        // gives the expression that column's collation. The shards also return the column as
        // this extra column (1-based, like `hidden`), so the proxy can read its collation.
        uint32_t collation_from = 0;
        bool operator==(const SortKey&) const = default;
    };
    struct MergePlan {
        // One entry per output column when the SELECT aggregates (how each aggregate combines,
        // Group for the plain columns it groups by); empty for plain rows, which pass through
        // unchanged.
        std::vector<Merge> aggregates;
        // Per output column, for StringAgg: the separator as an SQL string literal ('…').
        std::vector<std::string> separators;
        bool distinct = false;         // SELECT DISTINCT (plain rows): duplicates across shards go
        std::vector<SortKey> order;    // ORDER BY output columns (by position or name)
        std::optional<int64_t> limit;  // LIMIT constant (none: LIMIT ALL or no LIMIT)
        int64_t offset = 0;            // OFFSET constant
        // LIMIT $n / OFFSET $n: the 1-based parameter whose bound value replaces `limit` /
        // `offset` at each execution (0: the constant above). Each shard runs its own bigint
        // LIMIT: `$n`, or the sum of the limit and the offset when there is an offset. When
        // shard_sql no longer mentions one of them (aggregates drop LIMIT/OFFSET, plain rows
        // drop OFFSET), the proxy declares its type (bigint unless the client declared one) in
        // the shards' Parse.
        uint32_t limit_param = 0;
        uint32_t offset_param = 0;
        std::string shard_sql;  // what each shard runs, when not the client's text
        // Extra columns shard_sql selects after the client's, dropped from the answer: the
        // ORDER BY expressions of plain rows that are not output columns; for aggregates, the
        // count(x) of each avg(x) (in the order of the avg columns), then extra_aggregates.
        uint32_t hidden = 0;
        // HAVING, applied to the combined groups (the shards return every group): its text, in
        // which kHavingPlaceholder + N stands for the combined value of the shards' column N
        // (an aggregate, a GROUP BY column, or one of extra_aggregates: aggregates HAVING uses
        // and the client does not select, which the shards compute as extra columns).
        std::string having;
        std::vector<Merge> extra_aggregates;
    };
    std::optional<MergePlan> merge;
    static constexpr std::string_view kHavingPlaceholder = "shardgate_having_column_";
    // A SELECT from one table whose parameters all appear as `column = $n` conditions ANDed at
    // the top of its WHERE, and which selects no `*` (simple_lookup). For such a shape the proxy
    // may run the client's simple-protocol text as this statement prepared once per server
    // connection, with the constants as parameters declared with the constants' own types: the
    // answer is the text's, and PostgreSQL plans it once instead of on every execution. The
    // proxy does so only when one of `columns` (one per $n, $1 first) has a unique index, so the
    // plan PostgreSQL keeps cannot be worse than one made for the value.
    struct Lookup {
        std::string schema;  // as written; "" when unqualified
        std::string table;
        std::vector<std::string> columns;
    };
    std::optional<Lookup> simple_lookup;
    // A statement that can never be routed correctly (cross-shard join, invalid key literal).
    std::optional<Error> refusal;

    std::optional<ParseError> parse_error;
    bool names_distributed_table = false;  // unparseable text naming a sharded/reference table
    std::optional<KeyType> hint_key_type;  // key type for a shardgate.key hint, when known

    std::optional<CopyInfo> copy;
    std::string session_shard;  // SetShard: the shard named
    Hints hints;

    // Statement span in the full text (multi-statement texts) and the parts of a Multi.
    uint32_t stmt_begin = 0;
    uint32_t stmt_end = 0;
    std::vector<Analysis> statements;

    // Why the analysis came out this way, for `shardgate route`.
    std::vector<std::string> why;
};

// A write to a reference table: every shard holds a copy of the one table, so its result is
// one copy's (row counts are not summed).
inline bool writes_reference_table(const Analysis& a) {
    return a.placement == Placement::Reference && a.is_write;
}

// Never fails: parse errors, refusals and invalid literals are recorded in the Analysis.
Analysis analyze(const std::string& sql, const TableCatalog& catalog);

}  // namespace sg::router
