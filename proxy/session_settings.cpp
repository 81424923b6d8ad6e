#include "proxy/session_settings.h"

#include "proxy/sql_words.h"
#include "router/sql_nodes.h"

#include <strings.h>

#include <cctype>

namespace sg::proxy {

namespace {

using sql_words::Cursor;
using sql_words::lower;

// The value of `SET shardgate.x = 'v'` as plain text.
std::string unquote(std::string_view v) {
    if (v.size() >= 2 && v.front() == '\'' && v.back() == '\'') {
        std::string out;
        for (size_t i = 1; i + 1 < v.size(); ++i) {
            out += v[i];
            if (v[i] == '\'' && i + 2 < v.size() && v[i + 1] == '\'') ++i;
        }
        return out;
    }
    return std::string(v);
}

bool has_unquoted_semicolon(std::string_view v) {
    bool in_quote = false;
    for (char c : v) {
        if (c == '\'')
            in_quote = !in_quote;
        else if (c == ';' && !in_quote)
            return true;
    }
    return false;
}

}  // namespace

std::optional<SettingChange> parse_setting_statement(std::string_view sql) {
    Cursor c{sql};
    // Every statement passes through here: rule out the others by their first word, quickly.
    c.skip();
    auto starts_with = [&](std::string_view kw) {
        return sql.size() - c.i >= kw.size() &&
               strncasecmp(sql.data() + c.i, kw.data(), kw.size()) == 0;
    };
    if (!starts_with("set") && !starts_with("reset") && !starts_with("discard"))
        return std::nullopt;
    SettingChange ch;
    if (c.keyword("discard")) {
        if (!c.keyword("all") || !c.rest().empty()) return std::nullopt;
        ch.kind = SettingChange::ResetAll;
        return ch;
    }
    if (c.keyword("reset")) {
        std::string name = c.ident();
        if (name.empty() || !c.rest().empty()) return std::nullopt;
        if (name == "all") {
            ch.kind = SettingChange::ResetAll;
            return ch;
        }
        ch.kind = SettingChange::Reset;
        ch.name = name;
        ch.proxy_local = name.starts_with("shardgate.");
        return ch;
    }
    if (!c.keyword("set")) return std::nullopt;
    if (c.keyword("local")) return std::nullopt;
    c.keyword("session");
    size_t save = c.i;
    std::string name = c.ident();
    if (name.empty() || name == "transaction" || name == "characteristics" ||
        name == "authorization" || name == "role" || name == "constraints")
        return std::nullopt;
    if (name == "time") {  // SET TIME ZONE value
        if (!c.keyword("zone")) return std::nullopt;
        name = "timezone";
        std::string_view v = c.rest();
        if (v.empty() || has_unquoted_semicolon(v)) return std::nullopt;
        ch.name = name;
        ch.statement = "SET TIME ZONE " + std::string(v);
        return ch;
    }
    (void)save;
    c.skip();
    if (c.i < sql.size() && sql[c.i] == '=')
        ++c.i;
    else if (!c.keyword("to"))
        return std::nullopt;
    std::string_view value = c.rest();
    if (value.empty() || has_unquoted_semicolon(value)) return std::nullopt;
    ch.name = name;
    ch.proxy_local = name.starts_with("shardgate.");
    ch.value = unquote(value);
    ch.statement = "SET " + name + " TO " + std::string(value);
    if (lower(value) == "default") {
        ch.kind = SettingChange::Reset;
        ch.statement.clear();
    }
    return ch;
}

std::string quote_sql_literal(std::string_view v) {
    return router::sql_string_literal(v);
}

std::string quote_sql_identifier(std::string_view name) {
    std::string out = "\"";
    for (char c : name) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + '"';
}

std::string startup_setting_statement(std::string_view name, std::string_view value) {
    return "SELECT pg_catalog.set_config(" + quote_sql_literal(name) + ", " +
           quote_sql_literal(value) + ", false)";
}

std::vector<std::pair<std::string, std::string>> settings_sync_list(
    std::map<std::string, std::string>& applied,
    const std::map<std::string, std::string>& desired) {
    std::vector<std::pair<std::string, std::string>> out;
    if (applied == desired) return out;
    if (applied.count(kUnknownSettings)) {
        out.emplace_back(std::string(), "RESET ALL");
        applied.clear();
    }
    for (const auto& [name, stmt] : applied)
        if (!desired.count(name)) {
            // Names come from the client (startup parameters too): anything but a plain
            // (dotted) identifier is quoted.
            bool plain = !name.empty();
            for (char c : name)
                plain = plain && (std::islower(static_cast<unsigned char>(c)) ||
                                  std::isdigit(static_cast<unsigned char>(c)) || c == '_' ||
                                  c == '.' || c == '$');
            out.emplace_back(name, "RESET " + (plain ? name : quote_sql_identifier(name)));
        }
    for (const auto& [name, stmt] : desired) {
        auto it = applied.find(name);
        if (it == applied.end() || it->second != stmt) out.emplace_back(name, stmt);
    }
    applied = desired;
    return out;
}

std::string settings_sync_statements(std::map<std::string, std::string>& applied,
                                     const std::map<std::string, std::string>& desired) {
    std::string q;
    for (const auto& [name, stmt] : settings_sync_list(applied, desired)) q += stmt + ";";
    return q;
}

bool is_connection_parameter(std::string_view name) {
    return name == "user" || name == "database" || name == "replication" || name == "options" ||
           name.starts_with("_pq_.");
}

}  // namespace sg::proxy
