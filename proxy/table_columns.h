// The column order of a table, read from a shard's catalog on a short-lived connection of its
// own (login, one query, Terminate). The router needs it for an INSERT or a COPY FROM without a
// column list:
// the proxy writes the list into the statement, so a column order that changed since it was
// read fails loudly in PostgreSQL instead of placing a row by the wrong value.
#pragma once

#include <string>
#include <vector>

#include "proxy/net.h"
#include "proxy/server_conn.h"
#include "router/result.h"

namespace sg::proxy {

// Columns of `table`, in attnum order, without dropped ones (and, with `stored_only`, without
// generated ones: the columns COPY reads when it lists none). `settings` (SET statements, e.g.
// the client's search_path) run first, so the name resolves as it would for the client.
// 42P01 when the table does not exist; 08006 when the shard cannot be reached.
net::awaitable<router::Expected<std::vector<std::string>>> fetch_table_columns(
    net::asio::any_io_executor ex, const ServerTarget& target, const std::string& table,
    const std::string& settings = {}, bool stored_only = false);

// The columns of `table` that have a unique index of their own (one plain column, valid, not
// partial; a one-column primary key is one): `column = value` finds at most one row. Empty when
// there is none or no such table; 08006 when the shard cannot be reached.
net::awaitable<router::Expected<std::vector<std::string>>> fetch_unique_columns(
    net::asio::any_io_executor ex, const ServerTarget& target, const std::string& table,
    const std::string& settings = {});

// The first column of every row `query` returns, read on a short-lived connection of its own
// (any catalog query); 08006 saying it could not read `what` when the shard cannot be reached.
net::awaitable<router::Expected<std::vector<std::string>>> fetch_catalog_values(
    net::asio::any_io_executor ex, const ServerTarget& target, const std::string& what,
    std::string query);

// "INSERT INTO t VALUES ..." (or "COPY t FROM ...") with "(c1, c2) " inserted at `at` (quoted
// identifiers).
std::string with_column_list(std::string_view sql, uint32_t at,
                             const std::vector<std::string>& columns);
// The inserted text alone: "(c1, c2) ".
std::string column_list_text(const std::vector<std::string>& columns);

}  // namespace sg::proxy
