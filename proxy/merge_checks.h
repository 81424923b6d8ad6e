// What a combining query (proxy/merge_combine.h) must check before it trusts the shards' text
// values: that they read back as the values the shards computed under the client's settings,
// and under which collation text values compare equal.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace sg::proxy {

// Why the text output of a value of type `oid` under the client's session `settings` (the
// statements that apply them, by lower-case name) may not read back as the same value, or
// nullopt when it does. DateStyle SQL/Postgres/German print timestamptz with time zone
// abbreviations ("IST"), which input reads with its own abbreviation table (Israel, not India);
// extra_float_digits below 1 rounds floats, so distinct values read back equal and sums drift.
std::optional<std::string> text_round_trip_hazard(
    const std::map<std::string, std::string>& settings, uint32_t oid);

// Text types whose equality depends on a collation (text, varchar, bpchar).
bool is_collatable(uint32_t oid);

// One row, one column: whether the database has any nondeterministic collation at all ("t"/"f").
// Without one, equal text is equal bytes under every collation, and grouping needs no COLLATE.
extern const char* const kAnyNondeterministicCollation;

// One row, one column: "" when the column's collation is deterministic, else its qualified
// name (for `COLLATE name`).
std::string nondeterministic_collation_query(uint32_t table_oid, int16_t column_attr);

}  // namespace sg::proxy
