// A thin RAII layer over libpg_query (PostgreSQL's own grammar): parse to the protobuf-c node
// structs, fingerprint, normalize, scan. Errors come back as values.
#pragma once

#include <pg_query/pg_query.pb-c.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/sqlstate.h"
#include "router/result.h"

namespace sg::router {

// A syntax error as PostgreSQL reports it: message ("syntax error at or near \"x\"") and the
// 1-based character position in the statement text (0 when unknown).
struct ParseError {
    std::string message;
    int cursor_pos = 0;
    // 42601 (syntax error), or 54001 for a statement nested more deeply than the proxy parses
    // (kMaxParseDepth): the recursive passes over a tree must not run out of stack.
    std::string sqlstate = sqlstate::kSyntaxError;
};

// The deepest parse tree (levels of nested expressions and set operations) the proxy
// analyses, far beyond what applications write, and shallow enough that every recursive pass
// (even in an AddressSanitizer build, whose frames are several times larger) stays well
// within a thread's 8 MB stack.
inline constexpr int kMaxParseDepth = 3000;

// Owns one parse: the unpacked protobuf tree lives in an arena that dies with this object.
// Move-only; the node pointers it hands out are valid for its lifetime.
class ParseTree {
public:
    ParseTree(ParseTree&&) noexcept;
    ParseTree& operator=(ParseTree&&) noexcept;
    ~ParseTree();

    const PgQuery__ParseResult& result() const { return *result_; }
    size_t size() const { return result_->n_stmts; }
    const PgQuery__RawStmt& stmt(size_t i) const { return *result_->stmts[i]; }

private:
    friend Expected<ParseTree, ParseError> parse_sql(const std::string& sql);
    friend std::shared_ptr<PgQuery__Node> copy_node(const PgQuery__Node& node);
    struct Arena;
    ParseTree(std::unique_ptr<Arena> arena, PgQuery__ParseResult* result);

    std::unique_ptr<Arena> arena_;
    PgQuery__ParseResult* result_ = nullptr;
};

// Parses one or more statements. The text must not contain NUL bytes (the wire protocol's
// query strings cannot).
Expected<ParseTree, ParseError> parse_sql(const std::string& sql);

// PostgreSQL text for one SELECT (libpg_query's deparser): how a rewritten statement (the
// proxy's edits to a parsed tree) goes back to a shard.
Expected<std::string, ParseError> deparse_select(const PgQuery__SelectStmt& select);

// The text of one expression (deparsed as a SELECT's only column).
Expected<std::string, ParseError> deparse_expression(const PgQuery__Node& expr);

// A deep copy of a parse tree node, to be rewritten without touching the tree it came from;
// the copy (and everything below it) lives as long as the returned pointer.
std::shared_ptr<PgQuery__Node> copy_node(const PgQuery__Node& node);

struct Fingerprint {
    uint64_t value = 0;
    std::string hex;  // 16 lowercase hex digits, as pg_query prints it
};
// Equal for statements that differ only in constants, whitespace and comments.
Expected<Fingerprint, ParseError> fingerprint_sql(const std::string& sql);
// Constants replaced by $n placeholders ("SELECT * FROM t WHERE id = $1").
Expected<std::string, ParseError> normalize_sql(const std::string& sql);

// One lexical token of the statement text (byte offsets, end exclusive).
struct Token {
    int start = 0;
    int end = 0;
    PgQuery__Token kind = PG_QUERY__TOKEN__NUL;
    PgQuery__KeywordKind keyword = PG_QUERY__KEYWORD_KIND__NO_KEYWORD;
};
// The scanner works on text the parser rejects, which is how the router still finds the
// table names in an unparseable statement.
Expected<std::vector<Token>, ParseError> scan_sql(const std::string& sql);

// An upper bound of how deep the statement's parse tree can be, from its tokens alone (no
// recursion, so any text can be measured): nesting comes from brackets, from the tokens of an
// unbroken expression (operators, casts, JOIN chains: every level takes a token of its own),
// and from set operations; commas and semicolons separate siblings. nullopt when the text
// cannot be scanned. Passes that recurse through trees they did not build (libpg_query's
// protobuf packer, fingerprint, normalize) check it first.
std::optional<int> nesting_bound(const std::string& sql);
// nesting_bound() when it exceeds kMaxParseDepth; nullopt for a text that cannot nest that deep
// (one shorter than the limit is not even scanned) or cannot be scanned.
std::optional<int> excess_nesting(const std::string& sql);

// The identifiers of a text (unquoted ones lowercased as PostgreSQL folds them, quoted ones
// verbatim), including unreserved keywords, which are legal table names.
std::vector<std::string> scan_identifiers(const std::string& sql);

}  // namespace sg::router
