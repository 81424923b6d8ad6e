// Literal extraction for the simple protocol: "... WHERE aid = 123" becomes the cacheable
// shape "... WHERE aid = $1" plus the value "123", so statements that differ only in their
// constants are parsed once and then routed like a prepared statement with text parameters.
//
// A cheap scanner, not a parser: it knows quotes, dollar quotes, identifiers, comments and
// numbers, and gives up (returns false) on anything it is unsure of. The caller only trusts
// a shape whose analysis parses and routes to a single shard; otherwise it analyses the
// original text, so a wrong guess here costs speed, never correctness.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sg::router {

struct LiteralShape {
    std::string text;                 // the statement with $1..$n for its constants
    std::vector<std::string> values;  // the constants' text values, $1 first
};

// False when the text has no constants, already has $n parameters, or looks unusual.
bool extract_literals(std::string_view sql, LiteralShape& out);

}  // namespace sg::router
