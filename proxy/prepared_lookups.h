// Simple-protocol point lookups run as prepared statements ([proxy] prepare_lookups).
//
// A text such as `SELECT abalance FROM pgbench_accounts WHERE aid = 123` is parsed, analysed
// and planned by PostgreSQL every time it arrives; most of a lookup's server time goes there.
// When the router's shape of the text is a Analysis::simple_lookup, the proxy prepares the shape
// (`... WHERE aid = $1`) once per server connection, with each parameter declared with the type
// PostgreSQL gives the constant it replaces, and executes it with the constants as text values:
// the answer is the text's own. It does so only when a compared column has a unique index of
// its own, so the plan PostgreSQL may keep for every value is as good as one made for the value.
//
// This registry (one per proxy, single-threaded) holds what that needs: the server-side name of
// each (shape, search_path), and the unique columns of each table, read from the default shard
// in the background on first use and re-read every kRecheck.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "proxy/clock.h"

namespace sg::proxy {

// Statement ids of client statements and lookups share one counter: both live on server
// connections as "sg<id>".
uint64_t next_statement_id();

class PreparedLookups {
public:
    static constexpr auto kRecheck = std::chrono::seconds(30);
    static constexpr size_t kMaxStatements = 10000;  // distinct shapes given a server-side name
    static constexpr uint32_t kMaxPerServer = 200;   // lookups one server connection prepares (each
                                                     // costs the backend its plan's memory)

    struct Statement {
        uint64_t id = 0;        // server-side name "sg<id>"; replaced when it may be stale
        std::string table_key;  // the table it reads (see table_key)
    };
    struct Table {
        bool known = false;     // `unique` was read
        bool fetching = false;  // a read is under way
        std::vector<std::string> unique;
        net::Clock::time_point read_at{};  // the last read (or failed try); {} before any
    };

    // "schema\0table\0search_path": the same name means another table under another path.
    static std::string table_key(const std::string& schema, const std::string& table,
                                 std::string_view search_path);

    // The entry of `shape` with parameters of `types` under `search_path`, or null. Entries
    // are never removed: a pointer stays valid for the proxy's life.
    Statement* find(std::string_view shape, const std::vector<uint32_t>& types,
                    std::string_view search_path);
    // Creates it (null when the registry is full).
    Statement* add(std::string_view shape, const std::vector<uint32_t>& types,
                   std::string_view search_path, std::string table_key);
    Table& table(const std::string& table_key) { return tables_[table_key]; }

    // A server said the statement is gone or its plan no longer fits: give the shape a new name,
    // prepared afresh where it is next used (unless that already happened).
    void retire(Statement& st, uint64_t id) {
        if (st.id == id) st.id = next_statement_id();
    }
    // DDL went through the proxy: unique columns are read again, and every shape gets a new
    // name (a column type may have changed what a prepared statement returns).
    void schema_changed();

    size_t size() const { return statements_.size(); }

private:
    std::unordered_map<std::string, Statement> statements_;
    std::unordered_map<std::string, Table> tables_;
    void make_key(std::string_view shape, const std::vector<uint32_t>& types,
                  std::string_view search_path);
    std::string key_;  // reused for lookups
};

}  // namespace sg::proxy
