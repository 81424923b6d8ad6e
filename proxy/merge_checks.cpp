#include "proxy/merge_checks.h"

#include <fmt/format.h>

#include <cctype>
#include <cstdlib>

#include "common/pg_types.h"

namespace sg::proxy {
namespace {

std::string lower(std::string s) {
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

const std::string* setting(const std::map<std::string, std::string>& settings, const char* name) {
    auto it = settings.find(name);
    return it == settings.end() ? nullptr : &it->second;
}

// The integer a `SET name TO n` / set_config('name', 'n', false) statement sets; nullopt for
// DEFAULT or anything without one.
std::optional<long> integer_value(const std::string& statement) {
    size_t end = statement.find_last_of("0123456789");
    if (end == std::string::npos) return std::nullopt;
    size_t begin = end;
    while (begin > 0 && std::isdigit(static_cast<unsigned char>(statement[begin - 1]))) --begin;
    if (begin > 0 && statement[begin - 1] == '-') --begin;
    return std::strtol(statement.c_str() + begin, nullptr, 10);
}

}  // namespace

std::optional<std::string> text_round_trip_hazard(
    const std::map<std::string, std::string>& settings, uint32_t oid) {
    if (oid == pg_type::kTimestamptz) {  // timestamptz
        if (const std::string* s = setting(settings, "datestyle")) {
            const std::string v = lower(*s);
            if (v.find("iso") == std::string::npos && v.find("default") == std::string::npos)
                return std::string(
                    "DateStyle other than ISO prints timestamptz values with time zone "
                    "abbreviations, "
                    "which do not read back unambiguously");
        }
    }
    if (oid == pg_type::kFloat4 || oid == pg_type::kFloat8) {  // float4, float8
        if (const std::string* s = setting(settings, "extra_float_digits")) {
            auto v = integer_value(*s);
            if (v && *v < 1)
                return std::string(
                    "extra_float_digits below 1 rounds float values, so the shards' values do not "
                    "read back exactly");
        }
    }
    return std::nullopt;
}

bool is_collatable(uint32_t oid) {
    return oid == pg_type::kText || oid == pg_type::kBpchar || oid == pg_type::kVarchar;
}

const char* const kAnyNondeterministicCollation =
    "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_collation WHERE NOT collisdeterministic)::text";

std::string nondeterministic_collation_query(uint32_t table_oid, int16_t column_attr) {
    return fmt::format(
        "SELECT CASE WHEN c.collisdeterministic THEN '' ELSE quote_ident(n.nspname) || '.' || "
        "quote_ident(c.collname) END FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_collation c "
        "ON c.oid = "
        "a.attcollation JOIN pg_catalog.pg_namespace n ON n.oid = c.collnamespace WHERE a.attrelid "
        "= {} AND "
        "a.attnum = {}",
        table_oid, column_attr);
}

}  // namespace sg::proxy
