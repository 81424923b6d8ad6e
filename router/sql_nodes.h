// Small, reusable readings of libpg_query's protobuf-c node structs.
#pragma once

#include <pg_query/pg_query.pb-c.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.h"
#include "router/hash.h"

namespace sg::router {

// Visits every message below `root` in pre-order, looking through the Node oneof wrapper, so
// `fn` sees RangeVar, ColumnRef, SubLink... directly. Returning false from `fn` skips that
// message's children. Driven by the protobuf descriptors, so it never misses a node kind.
using MessageVisitor = std::function<bool(const ProtobufCMessage&)>;
void walk(const ProtobufCMessage* root, const MessageVisitor& fn);

// Visits every Node below `root` (the oneof wrappers themselves, so `fn` may rewrite one in
// place); returning false from `fn` skips what that Node holds.
using NodeRewriter = std::function<bool(PgQuery__Node&)>;
void rewrite_nodes(ProtobufCMessage* root, const NodeRewriter& fn);

// `v` as an SQL string constant, as PostgreSQL's quote_literal() writes it: E'' with backslashes
// doubled when there is one, so it reads alike whatever standard_conforming_strings is.
std::string sql_string_literal(std::string_view v);

// The text of a String node, "" for anything else.
std::string_view string_value(const PgQuery__Node* n);
// A "schema.name" or "name" rendering of a RangeVar.
std::string qualified_name(const PgQuery__RangeVar& rv);
// A qualified name given as a list of String nodes (DROP TABLE objects, type names).
std::vector<std::string_view> name_list(const PgQuery__Node* list_node);

// The operator name of an A_Expr ("=", "<>", ...), "" when qualified or missing.
std::string_view operator_name(const PgQuery__AExpr& e);

// The conjuncts of an expression: a top-level AND tree flattened, anything else as itself.
void flatten_and(const PgQuery__Node* expr, std::vector<const PgQuery__Node*>& out);

// A ColumnRef split into qualifier parts and column name; nullopt for `*` and non-columns.
struct ColumnName {
    std::string_view schema;    // "" unless schema.table.column
    std::string_view relation;  // "" when unqualified
    std::string_view column;
};
std::optional<ColumnName> column_name(const PgQuery__Node* n);

// The value a key position holds: a literal (already canonical for the key type) or a
// parameter. Unusable when the expression is anything the router cannot evaluate.
struct KeyExpr {
    enum class Kind : uint8_t { Unusable, Value, Param, Invalid };
    Kind kind = Kind::Unusable;
    Key value;         // Kind::Value
    int param = 0;     // Kind::Param, 1-based
    std::string text;  // as written, for explanations
    Error error;       // Kind::Invalid: the literal is not a valid key (PostgreSQL's error)
    // Kind::Param written with one explicit cast (`$1::integer`): the type it names. PostgreSQL
    // converts the bound value to that type with the cast's semantics (text read by the
    // type's input function, numeric rounded, an out-of-range value an error) before comparing.
    std::optional<KeyType> cast;
};
// Reads `expr` as a key value of type `t`: constants (ints, quoted strings, NULL), $n, and
// casts to the key's own type family around them. A quoted literal that is not valid input
// for the key type is Invalid, carrying the error PostgreSQL raises when it coerces it; a
// numeric literal the key type cannot hold is Unusable, since PostgreSQL then compares across
// types instead of failing.
KeyExpr key_expr(const PgQuery__Node* expr, KeyType t);

// Whether a cast around a `key = ANY(...)` array keeps its elements' values: a one-dimensional
// array of the key's own type family without a length modifier (`::bigint[]`, `::text[]`).
// Anything else (`::bpchar[]` trims, `::varchar(2)[]` truncates, `::numeric[]` compares across
// types) changes what the elements match.
bool value_preserving_array_cast(const PgQuery__TypeCast& c, KeyType key);

// Text of a constant suitable for canonical_from_text, or nullopt for non-constants.
std::optional<std::string> const_text(const PgQuery__AConst& c);

}  // namespace sg::router
