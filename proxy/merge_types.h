// The types a combining query (proxy/merge_combine.h) can rebuild from the shards' values, and
// how a binary-format value reads as text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sg::proxy {

// Type names for the literals of a combining query: the types count/sum/min/max return over
// common columns. Text-like types are left out on purpose: min/max over them depend on the
// column's collation, which the combining query would not have.
const char* mergeable_type_name(uint32_t oid);

// A GROUP BY column is only compared for equality again: text-like types are fine there.
const char* groupable_type_name(uint32_t oid);

// Types whose order does not depend on a collation: ORDER BY keys the combining query can sort.
const char* orderable_type_name(uint32_t oid);

// A binary-format value as PostgreSQL's text output would spell it, for the types an ORDER BY
// or DISTINCT key may have; nullopt for the others.
std::optional<std::string> binary_as_text(uint32_t oid, std::string_view v);

// The SQL name of a type with its modifier, as format_type() spells it (numeric(12,2),
// varchar(40), timestamp(3) with time zone ...), for the types `name` (from the functions
// above) that carry one; nullopt when the modifier is one the proxy cannot spell.
std::optional<std::string> type_with_modifier(uint32_t oid, int32_t typmod, const char* name);

}  // namespace sg::proxy
