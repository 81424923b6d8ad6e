#include "proxy/table_columns.h"

#include <memory>

#include <cstring>

#include "common/sqlstate.h"
#include "proxy/server_login.h"
#include "proxy/session_settings.h"
#include "proxy/wire/frame.h"
#include "proxy/wire/messages/error_response.h"
#include "proxy/wire/messages/row_data.h"
#include "proxy/wire/messages/simple_query.h"
#include "proxy/wire/protocol.h"
#include "proxy/wire/writer.h"

namespace sg::proxy {

namespace asio = net::asio;
using net::error_code;

namespace {

// Runs `query` (one text, settings first) on a short-lived connection of its own: the first
// column of every row, or 08006 saying it could not read the `what` of `table`.
net::awaitable<router::Expected<std::vector<std::string>>> catalog_column(
    asio::any_io_executor ex, const ServerTarget& target, const std::string& table,
    std::string_view what, std::string query) {
    using Result = router::Expected<std::vector<std::string>>;
    auto failed = [&](const std::string& why) {
        return Result(router::Error{sqlstate::kConnectionFailure,
                                    "cannot read the " + std::string(what) + " of table \"" +
                                        table + "\" on shard \"" + target.shard_name +
                                        "\": " + why});
    };
    std::vector<std::string> values;
    std::string failure;
    net::tcp::socket sock(ex);
    std::string rbuf(16 * 1024, '\0');
    size_t rlen = 0;
    LoginResult login = co_await login_to_server(sock, target, rbuf, rlen);
    if (!login.error.empty()) co_return failed(login.error);
    std::string out;
    wire::MessageWriter w(out);
    wire::encode(wire::Query{query}, w);
    w.empty_message(wire::fe::kTerminate);
    // Bounded: a shard that stops answering closes this connection instead of hanging the client.
    asio::steady_timer timer(ex);
    timer.expires_after(std::chrono::milliseconds(target.connect_timeout_ms));
    // A timer that fired just before the answer came has its handler queued already, and
    // cancel() cannot withdraw it: it may run after this frame (and `sock`) is gone. It only
    // touches the socket while `alive` (owned by this frame) exists.
    auto alive = std::make_shared<bool>(true);
    timer.async_wait([&sock, weak = std::weak_ptr<bool>(alive)](error_code e) {
        if (e || weak.expired()) return;
        error_code ignored;
        sock.close(ignored);
    });
    error_code ec;
    co_await asio::async_write(sock, asio::buffer(out), net::ec_token(ec));
    wire::DataRow row;
    size_t pos = 0;  // rbuf[pos, rlen) is not parsed yet
    for (bool done = false; !done;) {
        auto st =
            wire::parse_frame(wire::as_bytes(std::string_view(rbuf.data() + pos, rlen - pos)));
        if (auto* f = std::get_if<wire::Frame>(&st)) {
            if (f->type == 'T') {
                // A new result set: only the last one (the catalog query, after the settings
                // statements, which may return rows of their own: set_config(...)) is the answer.
                values.clear();
            } else if (f->type == 'D' && wire::decode(f->body, row).ok() && !row.columns.empty() &&
                       row.columns[0]) {
                const auto& v = *row.columns[0];
                values.emplace_back(reinterpret_cast<const char*>(v.data()), v.size());
            } else if (f->type == 'E' && failure.empty()) {
                wire::ErrorResponse e;
                failure = wire::decode(f->body, e).ok() ? std::string(e.message()) : "error";
            }
            done = f->type == 'Z';
            pos += f->size;
            continue;
        }
        if (std::holds_alternative<wire::Malformed>(st)) {
            failure = "no complete answer from the shard";
            break;
        }
        std::memmove(rbuf.data(), rbuf.data() + pos, rlen - pos);  // the partial frame to the front
        rlen -= pos;
        pos = 0;
        if (rlen == rbuf.size()) rbuf.resize(rbuf.size() * 2);
        size_t n = co_await sock.async_read_some(
            asio::buffer(rbuf.data() + rlen, rbuf.size() - rlen), net::ec_token(ec));
        if (ec) {
            failure = "reading from the shard: " + ec.message();
            break;
        }
        rlen += n;
    }
    timer.cancel();
    error_code ignored;
    sock.close(ignored);
    if (!failure.empty()) co_return failed(failure);
    co_return Result(std::move(values));
}

}  // namespace

net::awaitable<router::Expected<std::vector<std::string>>> fetch_catalog_values(
    asio::any_io_executor ex, const ServerTarget& target, const std::string& what,
    std::string query) {
    auto awaited = co_await catalog_column(ex, target, "pg_catalog", what, std::move(query));
    co_return awaited;
}

net::awaitable<router::Expected<std::vector<std::string>>> fetch_table_columns(
    asio::any_io_executor ex, const ServerTarget& target, const std::string& table,
    const std::string& settings, bool stored_only) {
    using Result = router::Expected<std::vector<std::string>>;
    Result columns = co_await catalog_column(
        ex, target, table, "columns",
        settings +
            "SELECT attname FROM pg_catalog.pg_attribute WHERE attrelid = pg_catalog.to_regclass(" +
            quote_sql_literal(table) + ") AND attnum > 0 AND NOT attisdropped" +
            (stored_only ? " AND attgenerated = ''" : "") + " ORDER BY attnum");
    if (columns && columns->empty())
        co_return Result(
            router::Error{sqlstate::kUndefinedTable, "relation \"" + table + "\" does not exist"});
    co_return columns;
}

net::awaitable<router::Expected<std::vector<std::string>>> fetch_unique_columns(
    asio::any_io_executor ex, const ServerTarget& target, const std::string& table,
    const std::string& settings) {
    // Valid, non-partial unique indexes (a primary key is one) over exactly one plain column.
    auto awaited = co_await catalog_column(
        ex, target, table, "unique columns",
        settings +
            "SELECT a.attname FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a ON "
            "a.attrelid = "
            "i.indrelid AND a.attnum = i.indkey[0] WHERE i.indrelid = pg_catalog.to_regclass(" +
            quote_sql_literal(table) +
            ") AND i.indisunique AND i.indisvalid AND i.indnkeyatts = 1 AND i.indpred IS NULL AND "
            "i.indexprs IS NULL");
    co_return awaited;
}

std::string column_list_text(const std::vector<std::string>& columns) {
    std::string list = "(";
    for (size_t i = 0; i < columns.size(); ++i)
        list += (i ? ", " : "") + quote_sql_identifier(columns[i]);
    list += ") ";
    return list;
}

std::string with_column_list(std::string_view sql, uint32_t at,
                             const std::vector<std::string>& columns) {
    const std::string list = column_list_text(columns);
    std::string out(sql.substr(0, at));
    out += list;
    out += sql.substr(at);
    return out;
}

}  // namespace sg::proxy
