// User-defined functions whose bodies read sharded tables (issue 16): `SELECT total_items()`
// runs on one shard, and the function's own `SELECT count(*) FROM items` then sees that shard's
// rows only. The proxy cannot split a function body across shards, so a statement calling such
// a function is refused (0A000).
//
// Which functions: those outside pg_catalog and information_schema, in any language but C and
// internal, whose source names a sharded table of [[tables]] (a plain substring match, so a
// longer name containing it counts too), runs dynamic SQL (EXECUTE, whose tables cannot be
// read from the text), or calls such a function (to a fixed point). C functions are trusted:
// extensions read no application tables. The list is read from the default shard's catalog
// and kept for kRefresh; DDL through the proxy drops it, so a function created elsewhere is
// seen at the latest after kRefresh. While the default shard cannot be reached the last list
// read is kept (none before the first read): a gap, chosen so that one shard down does not
// stop the others.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.h"

namespace sg::proxy {

struct RiskyFunctions {
    static constexpr std::chrono::seconds kRefresh{10};
    std::vector<std::string> names;  // lower case
    std::optional<std::chrono::steady_clock::time_point> loaded;
    bool loading = false;

    bool fresh(std::chrono::steady_clock::time_point now) const {
        return loaded && now - *loaded < kRefresh;
    }
};

// The catalog query: one row per risky function name (lower case), for these tables.
std::string risky_functions_query(const std::vector<TableConfig>& tables);

// Whether `sql` may call a function at all: some "(" right after a word or a quoted name.
// (Also true for `IN (`, `VALUES (`: only a cheap filter, one pass over the text.)
bool may_call_function(std::string_view sql);

// The first of `names` that `sql` calls (the name, then optional blanks and "(", outside string
// literals and quoted identifiers, as a whole word, any case); "" when none.
std::string called_function(std::string_view sql, const std::vector<std::string>& names);

}  // namespace sg::proxy
