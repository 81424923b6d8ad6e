// INSERTs without a column list are given one (read from the table on the default shard),
// so that a row split by shard keeps its columns' order.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <strings.h>
#include <boost/container/small_vector.hpp>
#include <cctype>
#include <climits>
#include <cmath>
#include <cstring>
#include "proxy/admin.h"
#include "proxy/fanout.h"
#include "proxy/fanout_legs.h"
#include "proxy/having_params.h"
#include "proxy/merge_combine.h"
#include "proxy/pool.h"
#include "proxy/proxy.h"
#include "proxy/returning_order.h"
#include "proxy/session.h"
#include "proxy/session_frames.h"
#include "proxy/session_settings.h"
#include "proxy/spawn.h"
#include "proxy/stats/query_event.h"
#include "proxy/table_columns.h"
#include "proxy/txn/policy.h"
#include "proxy/wire/frame.h"
#include "proxy/wire/messages/command_complete.h"
#include "proxy/wire/messages/copy.h"
#include "proxy/wire/messages/error_response.h"
#include "proxy/wire/messages/extended_query.h"
#include "proxy/wire/messages/extended_replies.h"
#include "proxy/wire/messages/row_data.h"
#include "proxy/wire/messages/simple_query.h"
#include "proxy/wire/writer.h"
#include "router/copy_split.h"
#include "router/literals.h"

namespace sg::proxy {

namespace asio = net::asio;
using namespace session_frames;

awaitable<router::Expected<std::vector<std::string>>> Session::missing_columns(
    const router::Analysis& a) {
    const std::string table = a.table;
    // Read from the default shard's catalog, with the client's settings (its search_path
    // decides which table an unqualified name means). Kept in this frame: the fetch holds them
    // by reference.
    const ServerTarget& target =
        proxy_.pool(proxy_.config().default_shard_index(), *user_).target();
    std::map<std::string, std::string> none;
    const std::string settings = settings_sync_statements(none, settings_);
    // COPY without a column list reads every stored column: read them now, not from the cache,
    // since a COPY's rows cannot tell that a column was added since.
    if (a.kind == router::StatementKind::Copy) {
        // (The result in a named local, not `co_return co_await ...`: GCC 12 at -O2 crashed the
        // release build right after this fetch resumed, COPY without a column list.)
        router::Expected<std::vector<std::string>> all =
            co_await fetch_table_columns(proxy_.io().get_executor(), target, table, settings, true);
        co_return all;
    }
    const uint32_t wanted = a.values_per_row;
    // The search_path is part of what is cached.
    auto path = settings_.find("search_path");
    const std::string key = table + '\0' + (path == settings_.end() ? std::string() : path->second);
    const std::vector<std::string>* known = proxy_.known_columns(key);
    if (!known || known->size() < wanted) {
        // Not known yet (or columns were added since): ask the default shard.
        auto fetched =
            co_await fetch_table_columns(proxy_.io().get_executor(), target, table, settings);
        if (!fetched) co_return fetched.error();
        proxy_.remember_columns(key, std::move(*fetched));
        known = proxy_.known_columns(key);
    }
    // As many columns as the longest row has values (PostgreSQL's positional rule); a row with
    // more values than the table has columns keeps PostgreSQL's own error.
    co_return std::vector<std::string>(known->begin(),
                                       known->begin() + std::min<size_t>(known->size(), wanted));
}

awaitable<void> Session::run_with_columns(const router::Analysis& a, std::string_view sql) {
    const uint32_t at = a.column_list_at;
    auto columns = co_await missing_columns(a);
    if (!columns) {
        co_await error_and_ready(columns.error().sqlstate, columns.error().message);
        co_return;
    }
    if (is_large(sql)) {  // rewritten off the event loop (session_large_query.cpp)
        co_await run_large_with_columns(sql, at, column_list_text(*columns));
        co_return;
    }
    std::string rewritten = with_column_list(sql, at, *columns);
    std::string frame;
    wire::MessageWriter w(frame);
    wire::encode(wire::Query{rewritten}, w);
    --proxy_.counters().queries;  // one client statement, counted again by handle_query
    co_await handle_query(frame, std::string_view(frame.data() + 5, rewritten.size()));
}

// Whether a Parse of the batch is an INSERT without a column list (add_column_lists' work):
// checked first so the common batch does not start that coroutine.
bool Session::needs_column_lists(std::string_view batch) {
    wire::Parse p;
    wire::FrameCursor frames(batch);
    while (const auto f = frames.next()) {
        if (f->type == 'P' && wire::decode(bytes_of(f->body), p).ok()) {
            auto a = analysis_of(p.query);
            if (a->column_list_at > 0 && !a->table.empty()) return true;
        }
    }
    return !frames.at_end();  // a frame the walk could not read: let add_column_lists look
}

awaitable<void> Session::add_column_lists(std::string& batch) {
    std::string out;  // the rewritten batch, from the first Parse that changes
    bool changed = false;
    size_t pos = 0;
    while (pos < batch.size()) {
        auto st = wire::parse_frame(wire::as_bytes(std::string_view(batch).substr(pos)));
        auto* f = std::get_if<wire::Frame>(&st);
        if (!f) co_return;  // the batch holds whole frames; leave anything odd to the normal path
        std::string_view frame(batch.data() + pos, f->size);
        wire::Parse p;
        if (f->type == 'P' && wire::decode(f->body, p).ok()) {
            auto a = analysis_of(p.query);
            if (a->column_list_at > 0 && !a->table.empty()) {
                auto columns = co_await missing_columns(*a);
                // Unknown columns: the statement stays as sent and is refused with its reason.
                if (columns) {
                    if (!changed) out.assign(batch, 0, pos);
                    std::string query = with_column_list(p.query, a->column_list_at, *columns);
                    p.query = query;
                    wire::MessageWriter w(out);
                    wire::encode(p, w);
                    changed = true;
                    pos += f->size;
                    continue;
                }
            }
        }
        if (changed) out.append(frame);
        pos += f->size;
    }
    if (changed) batch = std::move(out);
}

}  // namespace sg::proxy
