// Literal extraction for the simple protocol: "... WHERE aid = 123" becomes the cacheable
// shape "... WHERE aid = $1" plus the value "123", so statements that differ only in their
// constants are parsed once and then routed like a prepared statement with text parameters.
//
// A cheap scanner, not a parser: it knows quotes, dollar quotes, identifiers, comments and
// numbers, and gives up (returns false) on anything it is unsure of. The caller only trusts
// a shape whose analysis parses and routes to a single shard; otherwise it analyses the
// original text, so a wrong guess here costs speed, never correctness.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sg::router {

struct LiteralShape {
    std::string text;                 // the statement with $1..$n for its constants
    std::vector<std::string> values;  // the constants' text values, $1 first
    // Per constant, the type PostgreSQL's grammar gives it: int4 (23) for an integer that fits,
    // int8 (20) for a larger one, numeric (1700) beyond that or with a fraction or exponent;
    // 0 (unknown) for a quoted string. A parameter declared with it means what the constant did.
    std::vector<uint32_t> types;
};

// The type a numeric constant of the SQL text `digits` has (see LiteralShape::types).
uint32_t numeric_constant_type(std::string_view digits);

// A byte of an identifier, as PostgreSQL's lexer reads them: ASCII letters, digits, '_', '$'
// and every byte >= 0x80 (so a non-ASCII identifier such as café1 keeps its digit). Plain
// comparisons: it runs per byte of every simple-protocol statement.
inline bool sql_ident_byte(char c) {
    auto u = static_cast<unsigned char>(c);
    return ((u | 0x20) >= 'a' && (u | 0x20) <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '$' || u >= 0x80;
}

// False when the text has no constants, already has $n parameters, or looks unusual.
bool extract_literals(std::string_view sql, LiteralShape& out);

}  // namespace sg::router
