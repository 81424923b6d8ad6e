#include "proxy/function_guard.h"

#include <cctype>

#include "proxy/session_settings.h"

namespace sg::proxy {
namespace {

bool ident_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$' ||
           static_cast<unsigned char>(c) >= 0x80;
}

}  // namespace

std::string risky_functions_query(const std::vector<TableConfig>& tables) {
    // A table is named in a body by its unqualified name.
    std::string reads = "f.src ~ '\\mexecute\\M'";
    for (const auto& t : tables) {
        if (t.kind != TableKind::Sharded) continue;
        std::string name =
            t.name.substr(t.name.rfind('.') == std::string::npos ? 0 : t.name.rfind('.') + 1);
        for (char& c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
        reads += " OR strpos(f.src, " + quote_sql_literal(name) + ") > 0";
    }
    return "WITH RECURSIVE f AS (SELECT DISTINCT lower(p.proname) AS name, lower(p.prosrc) AS src "
           "FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace "
           "JOIN pg_catalog.pg_language l ON l.oid = p.prolang "
           "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND l.lanname NOT IN ('c', "
           "'internal')), "
           "risky(name) AS (SELECT f.name FROM f WHERE " +
           reads +
           " UNION SELECT f.name FROM f JOIN risky r ON strpos(f.src, r.name) > 0) "
           "SELECT name FROM risky";
}

bool may_call_function(std::string_view sql) {
    for (size_t i = 0; i < sql.size(); ++i) {
        if (sql[i] != '(') continue;
        size_t j = i;
        while (j > 0 && std::isspace(static_cast<unsigned char>(sql[j - 1]))) --j;
        if (j > 0 && (std::isalnum(static_cast<unsigned char>(sql[j - 1])) || sql[j - 1] == '_' ||
                      sql[j - 1] == '"'))
            return true;
    }
    return false;
}

std::string called_function(std::string_view sql, const std::vector<std::string>& names) {
    if (names.empty()) return {};
    for (size_t i = 0; i < sql.size();) {
        const char c = sql[i];
        if (c == '\'') {  // a literal: skipped ('' inside it too)
            for (++i; i < sql.size(); ++i)
                if (sql[i] == '\'' && !(i + 1 < sql.size() && sql[i + 1] == '\'' && ++i)) break;
            ++i;
            continue;
        }
        if (!ident_char(c) && c != '"') {
            ++i;
            continue;
        }
        // An identifier (quoted or not): the word, then whether "(" follows.
        std::string word;
        if (c == '"') {
            for (++i; i < sql.size(); ++i) {
                if (sql[i] == '"') {
                    if (i + 1 < sql.size() && sql[i + 1] == '"') {
                        word += '"';
                        ++i;
                        continue;
                    }
                    break;
                }
                word += sql[i];
            }
            ++i;
        } else {
            for (; i < sql.size() && ident_char(sql[i]); ++i)
                word += char(std::tolower(static_cast<unsigned char>(sql[i])));
        }
        size_t j = i;
        while (j < sql.size() && std::isspace(static_cast<unsigned char>(sql[j]))) ++j;
        if (j < sql.size() && sql[j] == '(') {
            for (const auto& n : names)
                if (n == word) return n;
        }
    }
    return {};
}

}  // namespace sg::proxy
