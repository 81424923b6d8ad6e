// Session settings that must follow a client across pooled server connections.
//
// In transaction pooling consecutive transactions of one client run on different server
// connections, so whatever the client SET for its session is re-applied to each connection
// it lands on (and what a previous owner set is reset). Settings come from the startup
// packet and from plain `SET name TO value` statements.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sg::proxy {

struct SettingChange {
    enum Kind { Set, Reset, ResetAll } kind = Set;
    std::string name;          // lower-cased GUC name
    std::string statement;     // SQL that applies it on a server (for Set)
    bool proxy_local = false;  // shardgate.* settings never reach a server
    std::string value;         // the value as text (for proxy-local settings)
};

// Recognises one session-level SET / RESET / DISCARD ALL statement (the whole text, an
// optional trailing ';'). SET LOCAL and SET TRANSACTION are transaction-scoped: not tracked.
std::optional<SettingChange> parse_setting_statement(std::string_view sql);

// A SQL string literal as PostgreSQL's quote_literal() writes it (router::sql_string_literal).
std::string quote_sql_literal(std::string_view v);
// "name" with embedded double quotes doubled.
std::string quote_sql_identifier(std::string_view name);

// The statement that applies a startup parameter on a server.
std::string startup_setting_statement(std::string_view name, std::string_view value);

// In a server's record of applied settings: what the server carries is not known (it is reset
// with RESET ALL before its next use).
inline constexpr char kUnknownSettings[] = "\x01unknown";

// The statements that bring a server's `applied` settings in line with `desired` (resetting
// what a previous owner set), one per setting (name, statement; name "" for RESET ALL), and
// records them as applied. Empty when they already match.
std::vector<std::pair<std::string, std::string>> settings_sync_list(
    std::map<std::string, std::string>& applied, const std::map<std::string, std::string>& desired);
// The same as one text (statements separated by ';').
std::string settings_sync_statements(std::map<std::string, std::string>& applied,
                                     const std::map<std::string, std::string>& desired);

// Startup parameters that are not settings (the proxy consumes them itself).
bool is_connection_parameter(std::string_view name);

}  // namespace sg::proxy
