// Simple-protocol lookups by a unique column run as prepared statements on the shard
// ([proxy] prepare_lookups): the unique-column registry and the statements' translation.
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
#include "proxy/shard_request.h"
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
#include "proxy/wire/protocol.h"
#include "proxy/wire/writer.h"
#include "router/copy_split.h"
#include "router/literals.h"

namespace sg::proxy {

namespace asio = net::asio;
using namespace session_frames;

namespace {

// Looks up the unique columns of a table in the background and records them in the registry
// (by value: the session that asked may be gone when this ends).
awaitable<void> read_unique_columns(Proxy& proxy, ServerTarget target, std::string table_key,
                                    std::string name, std::string settings) {
    auto unique = co_await fetch_unique_columns(proxy.io().get_executor(), target, name, settings);
    PreparedLookups::Table& t = proxy.lookups().table(table_key);
    t.fetching = false;
    t.read_at = net::coarse_now();
    if (!unique) {
        // Not now (the shard is unreachable): what was known stays, until the next try.
        spdlog::debug("prepare_lookups: {}", unique.error().message);
        co_return;
    }
    t.unique = std::move(*unique);
    t.known = true;
}

}  // namespace

PreparedLookups::Statement* Session::lookup_statement(const router::Analysis& a,
                                                      std::string_view text,
                                                      const std::vector<uint32_t>& types) {
    if (!a.simple_lookup || a.kind != router::StatementKind::Select ||
        !proxy_.config().proxy.prepare_lookups)
        return nullptr;
    // Outside transactions only: a prepared statement whose table changed under it fails where
    // the text would not (PostgreSQL: "cached plan must not change result type"), and such a
    // failure must not abort a client's transaction.
    if (transaction_status() != 'I' || begin_.held()) return nullptr;
    auto path = settings_.find("search_path");
    std::string_view search_path =
        path == settings_.end() ? std::string_view() : std::string_view(path->second);
    PreparedLookups& lookups = proxy_.lookups();
    PreparedLookups::Statement* st = lookups.find(text, types, search_path);
    if (!st) {
        st = lookups.add(text, types, search_path,
                         PreparedLookups::table_key(a.simple_lookup->schema, a.simple_lookup->table,
                                                    search_path));
        if (!st) return nullptr;
    }
    PreparedLookups::Table& t = lookups.table(st->table_key);
    // Read on first use and again every kRecheck (also after a failed read: a shard that is
    // down is not asked again on every lookup).
    if (!t.fetching && (t.read_at == net::Clock::time_point{} ||
                        net::coarse_now() - t.read_at > PreparedLookups::kRecheck)) {
        t.fetching = true;
        const ServerTarget& target =
            proxy_.pool(proxy_.config().default_shard_index(), *user_).target();
        std::map<std::string, std::string> none;
        std::string name = a.simple_lookup->schema.empty()
                               ? quote_sql_identifier(a.simple_lookup->table)
                               : quote_sql_identifier(a.simple_lookup->schema) + "." +
                                     quote_sql_identifier(a.simple_lookup->table);
        asio::co_spawn(proxy_.io(),
                       read_unique_columns(proxy_, target, st->table_key, std::move(name),
                                           settings_sync_statements(none, settings_)),
                       LogUnhandled("unique-column lookup"));
    }
    if (!t.known) return nullptr;
    for (const auto& c : a.simple_lookup->columns)
        for (const auto& u : t.unique)
            if (c == u) return st;
    return nullptr;
}

PreparedLookups::Statement* Session::lookup_statement(const router::Analysis& a) {
    if (!a.simple_lookup || shape_.types.size() != a.simple_lookup->columns.size()) return nullptr;
    // A quoted constant that is not valid input for its column fails at Bind, with an error
    // worded unlike the one the text gets: quoted constants only as the value of a text, varchar
    // or uuid shard key, which the router has checked (an invalid one is refused before this).
    const bool quoted_key_ok = a.placement == router::Placement::Sharded && a.table_config &&
                               (a.key_type == KeyType::Text || a.key_type == KeyType::Varchar ||
                                a.key_type == KeyType::Uuid);
    for (size_t i = 0; i < shape_.types.size(); ++i)
        if (shape_.types[i] == 0 &&
            (!quoted_key_ok || a.simple_lookup->columns[i] != a.table_config->shard_key))
            return nullptr;
    return lookup_statement(a, shape_.text, shape_.types);
}

bool Session::translate_lookup_batch(std::string& out, ServerConn& s, std::string_view batch) {
    // Exactly Parse (unnamed), its Bind and an optional Describe (in either order), Execute,
    // Sync: one statement in its own implicit transaction.
    std::string_view parse, bind, describe, execute;
    bool describe_first = false, synced = false;
    for (BatchFrames f{batch}; f.next();) {
        if (synced) return false;
        std::string_view* slot = nullptr;
        switch (f.type) {
            case 'P':
                slot = &parse;
                break;
            case 'B':
                slot = &bind;
                break;
            case 'D':
                slot = &describe;
                describe_first = bind.empty();
                break;
            case 'E':
                slot = &execute;
                break;
            case 'S':
                synced = true;
                continue;
            default:
                return false;
        }
        // Each once; the Parse first, the Execute after the others.
        if (!slot->empty() || (f.type != 'P' && parse.empty()) || !execute.empty()) return false;
        *slot = f.frame;
    }
    if (parse.empty() || bind.empty() || execute.empty() || !synced) return false;
    wire::Parse p;
    if (!wire::decode(bytes_of(frame_body(parse)), p).ok() || !p.statement.empty()) return false;
    std::string_view bind_body = frame_body(bind);
    const char* nul = static_cast<const char*>(std::memchr(bind_body.data(), 0, bind_body.size()));
    if (!nul || size_t(nul - bind_body.data()) + 1 >= bind_body.size() || nul[1] != 0)
        return false;  // of ""
    const size_t stmt_at = size_t(nul - bind_body.data()) + 1;
    std::string_view describe_body = describe.empty() ? std::string_view() : frame_body(describe);
    if (!describe.empty() && (describe_body.size() != 2 || describe_body[1] != 0))
        return false;  // "" only
    auto a = analysis_of(p.query);
    PreparedLookups::Statement* st = lookup_statement(*a, p.query, p.param_types);
    if (!st) return false;

    const uint64_t id = st->id;
    const bool prepared = s.prepared().count(id) > 0;
    if (!prepared && s.lookups_prepared() >= PreparedLookups::kMaxPerServer) return false;
    register_parse(parse,
                   p);  // the client's unnamed statement, re-prepared if a later Bind needs it
    const std::string sname = statement_server_name(id);
    ShardRequest req(out, s);
    if (prepared) {
        req.answered_parse();  // the client's ParseComplete, from the proxy
    } else {
        wire::Parse renamed = p;
        renamed.statement = sname;
        req.forward_message(renamed);
        s.prepared().insert(id);
        ++s.lookups_prepared();
    }
    auto append_describe = [&] {
        if (describe.empty()) return;
        if (describe_body[0] == 'S')
            append_renamed(req.untracked(), 'D', describe_body, 1, "", sname);
        else
            req.forward(describe);
    };
    if (describe_first) append_describe();
    append_renamed(req.untracked(), 'B', bind_body, stmt_at, "", sname);
    if (!describe_first) append_describe();
    req.forward(execute);
    req.sync();
    lookups_unconfirmed_.emplace_back(st, id);
    ++proxy_.counters().lookups_prepared;
    return true;
}

awaitable<void> Session::send_lookup(int shard, PreparedLookups::Statement& st,
                                     std::string_view frame, std::string_view sql) {
    if (!attach_idle_server(shard)) {
        if (!co_await attach_server(shard, true)) co_return;
    }
    if (server_->applied_settings() != settings_) {
        bool synced = co_await sync_settings(true);  // (not in a condition: GCC 12)
        if (!synced) co_return;
    }
    ServerConn& s = *server_;
    const uint64_t id = st.id;
    const bool prepared = s.prepared().count(id) > 0;
    if (!prepared && s.lookups_prepared() >= PreparedLookups::kMaxPerServer) {
        // This connection holds enough of them: the text runs as it came (its attach takes the
        // read's retry back: session_read_retry.cpp).
        retry_read_ = std::exchange(lost_read_.attached, std::nullopt);
        read_plan_ = server_->target().read_endpoint;  // and stays on the endpoint planned
        co_await send_to_shard(shard, frame, sql, shape_.text);
        co_return;
    }
    note_simple_query_sent(s, shard, sql, shape_.text);
    std::string& out = lookup_out_;
    out.clear();
    add_prelude(out, s);
    const std::string name = statement_server_name(id);
    ShardRequest req(out, s);
    if (!prepared) {
        req.inject_parse(wire::Parse{name, shape_.text, shape_.types});
        s.prepared().insert(id);
        ++s.lookups_prepared();
    }
    // The constants as text parameters; every result column in text, as the simple protocol
    // sends them (no format codes). bind_scratch_ is free: only flush_batch uses it otherwise.
    wire::Bind& b = bind_scratch_;
    b.portal = {};
    b.statement = name;
    b.param_formats.clear();
    b.result_formats.clear();
    b.params.clear();
    for (const auto& v : shape_.values) b.params.emplace_back(wire::as_bytes(v));
    req.inject_bind(b);
    req.forward_message(wire::Describe{wire::Target::Portal, {}});  // the simple protocol's
    req.forward_message(wire::Execute{});                           // RowDescription, rows
    req.sync();
    lookups_unconfirmed_.emplace_back(&st, id);
    ++proxy_.counters().lookups_prepared;
    // A read that may go elsewhere if this connection is lost before it is answered
    // (session_read_retry.cpp); it is resent as the client's own text, which answers the same.
    const bool armed = arm_lost_read();
    std::string resent = armed ? std::string(frame) : std::string();
    size_t sent = s.write_now(out);
    if (sent < out.size()) co_await s.write(std::string_view(out).substr(sent));
    if (armed)
        co_await await_read_or_retry(shard, [&](ServerConn& n, std::string& o) {
            n.unnamed_owner() = {0, 0};
            ShardRequest(o, n).forward(resent);
        });
}

}  // namespace sg::proxy
