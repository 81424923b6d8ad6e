// The simple-query side of a client session: the read loop (serve_loop), the simple-query
// dispatcher, statements answered locally, and sending a statement to one shard. The rest of
// the request side lives in the other proxy/session_*.cpp files, one concern each.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <strings.h>
#include <boost/container/small_vector.hpp>
#include <cctype>
#include <climits>
#include <cmath>
#include <cstring>
#include <utility>
#include "common/sqlstate.h"
#include "proxy/admin.h"
#include "proxy/admin_result.h"
#include "proxy/cursor_statement.h"
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
#include "proxy/wire/messages/session_status.h"
#include "proxy/wire/writer.h"
#include "router/copy_split.h"
#include "router/literals.h"

namespace sg::proxy {

namespace asio = net::asio;
using namespace session_frames;

router::RouterContext Session::router_context() const {
    router::RouterContext ctx;
    if (!forced_shard_.empty()) ctx.session_shard = forced_shard_;
    ctx.default_shard = static_cast<uint16_t>(proxy_.config().default_shard_index());
    ctx.explain = false;
    return ctx;
}

// A statement every shard answers alike (no table, a reference-table read) runs where the
// session already is inside a transaction (it must), and a cursor's FETCH where the cursor is.
// Otherwise on the default shard, as on one PostgreSQL: in session pooling a server stays
// attached between transactions, and NOTIFY, nextval() or a pg_stat_activity read must not
// depend on which shard the session used last.
int Session::route_target(const router::Route& r, bool uses_cursor) const {
    if (r.any_shard && server_ && (uses_cursor || transaction_status() != 'I'))
        return server_->target().shard;
    return r.shards.front();
}

void Session::note_simple_query_sent(ServerConn& s, int shard, std::string_view sql,
                                     std::string_view stats_text) {
    const uint64_t hash =
        large_facts_ && is_large(sql) ? large_facts_->text_hash : stats::text_hash(sql);
    stats_sent(stats_text.empty() ? sql : stats_text, hash, used_shape_ ? &shape_.values : nullptr,
               shard);
    if (state_ == SessionState::Ready) transition(SessionState::Busy);
    s.count_query();
}

awaitable<void> Session::send_to_shard(int shard, std::string_view frame, std::string_view sql,
                                       std::string_view stats_text) {
    if (!attach_idle_server(shard)) {
        if (!co_await attach_server(shard, true)) co_return;
    }
    if (server_->applied_settings() != settings_) {
        bool synced = co_await sync_settings(true);  // (not in a condition: GCC 12)
        if (!synced) co_return;
    }
    ServerConn& s = *server_;
    note_simple_query_sent(s, shard, sql, stats_text);
    // A SET counts once the server accepted it (at its ReadyForQuery), with transaction semantics;
    // the statements of a query of several as one implicit transaction
    // (session_multi_statement.cpp).
    if (!multi_texts_.empty()) {
        settings_tracker_.sent_batch(multi_texts_, s.outstanding(), in_transaction(),
                                     std::exchange(multi_observed_, false));
        multi_texts_.clear();
    } else {
        settings_tracker_.sent(sql, s.outstanding(), in_transaction());
    }
    std::string out;
    const bool prelude = add_prelude(out, s);
    // The simple query destroys the unnamed statement on that server.
    s.unnamed_owner() = {0, 0};
    if (drops_prepared_statements(sql)) {
        s.prepared().clear();
        s.lookups_prepared() = 0;
    }
    ShardRequest(out, s).forward_unbuffered(frame);  // written below, as it came
    // A read that may go elsewhere if this connection is lost before it is answered
    // (session_read_retry.cpp): armed before the write, which may fail at once.
    const bool armed = arm_lost_read();
    std::string resent = armed ? std::string(frame) : std::string();
    if (!prelude) {
        size_t sent = s.write_now(frame);  // all of it, almost always: no write coroutine
        if (sent < frame.size()) co_await s.write(frame.substr(sent));
    } else {
        out.append(frame);
        co_await s.write(out);
    }
    if (armed)
        co_await await_read_or_retry(shard, [&](ServerConn& n, std::string& o) {
            n.unnamed_owner() = {0, 0};
            ShardRequest(o, n).forward(resent);
        });
}

awaitable<void> Session::handle_local(const router::Analysis& a) {
    co_await wait_replies_out();
    std::string out;
    wire::MessageWriter w(out);
    using SK = router::StatementKind;
    if (a.kind == SK::SetShard) {
        forced_shard_ = a.session_shard;
        wire::encode(wire::CommandComplete{"SET"}, w);
    } else if (a.kind == SK::ResetShard) {
        forced_shard_.clear();
        wire::encode(wire::CommandComplete{"RESET"}, w);
    } else {  // SHOW shardgate.shard
        admin::ResultSet rs({"shardgate.shard"});
        rs.row({forced_shard_});
        rs.encode(out, "SHOW");
    }
    wire::append_ready_for_query(out, transaction_status());
    co_await send(out);
}

awaitable<void> Session::handle_query(std::string_view frame, std::string_view sql) {
    ++proxy_.counters().queries;
    query_text_ = sql;
    multi_texts_.clear();  // (set for this query by guard_multi_statement only)
    multi_observed_ = false;
    if (admin_) {
        co_await wait_replies_out();
        std::string out = co_await run_admin_command(proxy_, *this, sql);
        co_await send(out);
        co_return;
    }
    using K = router::Route::Kind;
    if (begin_.failed() && !server_) {
        // The held-back transaction failed before reaching a shard: only its end is accepted.
        auto a = analysis_of(sql);
        if (a->kind == router::StatementKind::Commit ||
            a->kind == router::StatementKind::Rollback) {
            begin_.clear();
            listen_transaction_ended(false);
            std::string out;
            wire::MessageWriter w(out);
            wire::encode(wire::CommandComplete{"ROLLBACK"}, w);
            wire::append_ready_for_query(out, 'I');
            co_await send(out);
        } else {
            co_await error_and_ready(
                sqlstate::kInFailedSqlTransaction,
                "current transaction is aborted, commands ignored until end of transaction block");
        }
        co_return;
    }
    // A large text is read through once, off the event loop (session_large_query.cpp).
    const bool large = is_large(sql);
    if (large) {
        bool present = co_await study_large(sql);  // (not in an if: GCC 12)
        if (!present) co_return;
    }
    if (in_transaction()) {  // (no co_await inside && or ?:, which GCC 12 miscompiles)
        bool handled = co_await transaction_control(sql);
        if (!handled && inbox_) handled = co_await refuse_prepare_after_listen(sql);
        if (handled) co_return;
    }  // session_txn.cpp
    if (server_ && server_->tx_status() == 'E') {
        // A failed transaction accepts only its end, wherever the statement would go: the
        // transaction's shard gives PostgreSQL's own answer (25P02, or the ROLLBACK).
        co_await send_to_shard(server_->target().shard, frame, sql);
        co_return;
    }
    std::optional<bool>
        calls_function;  // (computed here: GCC 12 miscompiles ?: in a co_await's operands)
    if (large) calls_function = large_facts_->calls_function;
    if (auto refusal = co_await risky_function_refusal(sql, calls_function)) {
        co_await error_and_ready(refusal->sqlstate, refusal->message);
        co_return;
    }
    const SessionStateUse state_use = large ? large_facts_->state_use : session_state_use(sql);
    if (inbox_) listen_discard_all(sql);  // DISCARD ALL unlistens everything (session_listen.cpp)
    const bool uses_cursor = state_use.kind == SessionStateUse::CursorOp;
    std::shared_ptr<const router::Analysis> analysis;
    router::Route r;
    used_shape_ = false;
    // Fast path: statements differing only in constants share one analysis (by their shape).
    if (large ? large_facts_->shaped : router::extract_literals(sql, shape_)) {
        std::shared_ptr<const router::Analysis> a;
        if (large) {
            shape_ = std::move(large_facts_->shape);
            a = large_facts_->shape_analysis;
        } else {
            auto& cache = proxy_.statements();
            a = cache.find(shape_.text);
            if (!a) a = cache.get(shape_.text);
        }
        using SK = router::StatementKind;
        if (!a->parse_error && (a->kind == SK::Select || a->kind == SK::Insert ||
                                a->kind == SK::Update || a->kind == SK::Delete)) {
            shape_params_.clear();
            for (const auto& v : shape_.values)
                shape_params_.push_back({false, router::ParamFormat::Text, v});
            r = router::route(*a, shape_params_, proxy_.shard_map(), router_context());
            if (r.kind == K::Single || r.kind == K::Default) {
                analysis = std::move(a);
                used_shape_ = true;
            }
        }
    }
    if (!analysis) {
        if (large) {
            analysis = co_await analyse_large(sql);  // not cached: the key would be the large text
            if (client_gone()) co_return;
        } else {
            analysis = proxy_.statements().find(sql);
            if (!analysis) analysis = proxy_.statements().get(std::string(sql));
        }
        r = router::route(*analysis, {}, proxy_.shard_map(), merging_context());
    }
    const router::Analysis& a = *analysis;
    if (state_use.kind != SessionStateUse::None &&
        r.kind != K::Error) {                                     // (the router's refusal first)
        bool answered = co_await guard_session_state(state_use);  // (not in an if: GCC 12)
        if (answered) co_return;
    }
    bool held = false;
    if (r.kind != K::Error && r.kind != K::Local && r.kind != K::Session &&
        !touch_buckets_unless_paused(a, r))
        held = co_await hold_for_paused_buckets(a, r);
    if (held)
        r = used_shape_ ? router::route(a, shape_params_, proxy_.shard_map(), router_context())
                        : router::route(a, {}, proxy_.shard_map(), merging_context());
    if (a.kind == router::StatementKind::Multi && r.kind != K::Error) {
        bool refused = co_await guard_multi_statement(a, sql, r);  // (not in an if: GCC 12)
        if (refused) co_return;
    }
    if (a.kind == router::StatementKind::Ddl) proxy_.forget_columns();  // may change a column order
    switch (r.kind) {
        case K::Error:
            if (a.column_list_at > 0 && !a.table.empty()) {
                co_await run_with_columns(a, sql);
                co_return;
            }
            co_await error_and_ready(r.error.sqlstate, r.error.message);
            co_return;
        case K::Local:
            co_await handle_local(a);
            co_return;
        case K::Session:
            co_await handle_session_statement(a, frame, sql);
            co_return;
        case K::Single:
        case K::Default: {
            // A cursor's statements go where it was declared (session_cursors.cpp).
            const int target = cursor_target(sql, uses_cursor, route_target(r, uses_cursor));
            // A cursor's DECLARE (of a read) and FETCH/MOVE/CLOSE only read (cursor_places.h).
            note_transaction_write(
                a.is_write || (a.kind != router::StatementKind::Select && !cursor_statement(sql)),
                uses_cursor ? target : route_target(r));
            plan_read(&a, target);
            if (used_shape_) {
                if (PreparedLookups::Statement* st = lookup_statement(a)) {
                    co_await send_lookup(target, *st, frame, sql);
                    co_return;
                }
            }
            if (large)
                co_await prepare_large_stats(used_shape_ ? std::string_view(shape_.text) : sql);
            co_await send_to_shard(target, frame, sql,
                                   used_shape_ ? std::string_view(shape_.text) : sql);
            co_return;
        }
        case K::Multi:
        case K::All:
            break;
    }
    // Each leg's endpoint (session_read_route.cpp); a write: reads follow it to the primary.
    const std::vector<int> read_legs = plan_fanout_reads(a, r.shards);
    if (a.kind == router::StatementKind::Copy && a.is_write && a.copy &&
        a.placement == router::Placement::Sharded) {
        co_await copy_in_split(a, sql);
        co_return;
    }
    if (r.shards.size() == 1 && r.insert_rows.size() <= 1) {
        plan_read(&a, r.shards.front());
        if (large) co_await prepare_large_stats(sql);
        co_await send_to_shard(r.shards.front(), frame, sql);
        co_return;
    }
    if (in_transaction() && proxy_.config().transactions.two_phase_commit) {
        ClientWatch client_watch(*this);            // a client that leaves cancels every leg
        co_await fanout_in_transaction(a, r, sql);  // session_txn_fanout.cpp
        co_return;
    }
    if (in_transaction()) {
        co_await error_and_ready(
            sqlstate::kFeatureNotSupported,
            fmt::format("this statement touches {} shards and a transaction is open; a statement "
                        "on several "
                        "shards cannot run inside a transaction in this version",
                        r.shards.size()),
            "run it outside the transaction, or restrict it to one shard key");
        co_return;
    }
    co_await wait_replies_out();
    release_server();
    std::vector<ShardQuery> queries;
    bool atomic = false;
    if (large) {  // the text split (or copied) per shard, and scanned, off the loop
        std::tie(queries, atomic) = co_await large_fanout_off_loop(analysis, sql, r, read_legs);
        co_await prepare_large_stats(sql);
    } else {
        queries = shard_queries(a, sql, r, read_legs);
        atomic = txn::atomic_statement(proxy_.config(), a.is_write, sql);
    }
    if (state_ == SessionState::Ready) transition(SessionState::Busy);
    // A reference table is written on every shard, but it is one table: report one copy's result.
    bool replicated = a.placement == router::Placement::Reference;
    ClientWatch client_watch(*this);  // a client that leaves cancels every leg
    FanoutLegs::arm(fanout_legs_);    // taken by the fan-out at once (see fanout_legs.h)
    std::string reply =
        co_await run_fanout(proxy_, *user_, queries, settings_, replicated, atomic, &leg_stats_);
    if (a.returning && r.insert_rows.size() > 1)
        reply = returning_in_values_order(reply, r.insert_rows);
    if (a.merge && queries.size() > 1) reply = co_await merge_rows(a, reply, queries.front().shard);
    stats_merged(sql, large ? large_facts_->text_hash : stats::text_hash(sql),
                 static_cast<uint32_t>(queries.size()),
                 reply);  // after: refusals count
    forget_touched_buckets();
    if (state_ == SessionState::Busy) transition(SessionState::Ready);
    co_await send(reply);
}

awaitable<bool> Session::serve_loop() {
    const auto& pcfg = proxy_.config().proxy;
    client_.configure(static_cast<size_t>(pcfg.max_message_bytes), admin_);
    auto now_ns = [] {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(
                   net::Clock::now().time_since_epoch())
            .count();
    };
    // The client machine (proxy/core/client_machine.h) decides; this loop reads, runs and
    // keeps the request's statistics. It is the only code here that awaits.
    for (;;) {
        if (closing_) co_return false;
        const std::string_view input(cbuf_.data() + cstart_, clen_ - cstart_);
        core::ClientStep step = client_.step(input);
        const auto& action = step.action;
        if (const auto* need = std::get_if<core::client::NeedMore>(&action)) {
            if (large_query_ahead(
                    need->at_least)) {  // read and analysed apart (session_large_query.cpp)
                bool served = co_await serve_large_query(need->at_least);  // (not in an if: GCC 12)
                if (!served) co_return false;
                continue;
            }
            if (cstart_ == clen_ && stream_.would_wait())
                co_return true;  // idle: waited for by run()
            if (!co_await read_more()) co_return false;
            continue;
        }
        if (const auto* q = std::get_if<core::client::Query>(&action)) {
            if (large_query_ahead(q->frame.size())) {  // (already buffered whole: a grown buffer)
                bool served =
                    co_await serve_large_query(q->frame.size());  // (GCC 12: not in an if)
                if (!served) co_return false;
                continue;
            }
            cstart_ += step.consumed;
            req_bytes_in_ = q->frame.size();
            req_start_ns_ = now_ns();
            // The frame lives in cbuf_ until the next read; copy what must outlive it (into
            // a buffer kept for it: handle_query is never re-entered).
            const size_t sql_size = q->sql.size();
            query_copy_.assign(q->frame);
            co_await handle_query(query_copy_, std::string_view(query_copy_.data() + 5, sql_size));
            if (query_copy_.capacity() > 64 * 1024)
                std::string().swap(query_copy_);  // idle sessions stay small
            continue;
        }
        cstart_ += step.consumed;
        if (const auto* held = std::get_if<core::client::Held>(&action)) {
            if (held->first) req_start_ns_ = now_ns();
            req_bytes_in_ += held->size;
        } else if (const auto* run = std::get_if<core::client::RunBatch>(&action)) {
            co_await flush_batch(run->sync);
        } else if (const auto* copy = std::get_if<core::client::Copy>(&action)) {
            // COPY data: every consecutive copy message streamed to the attached shard at once.
            if (server_) {
                std::string chunk(copy->chunk);
                co_await server_->write(chunk);
            }
        } else if (const auto* call = std::get_if<core::client::FunctionCall>(&action)) {
            // FunctionCall (libpq's PQfn: large objects, lo_import/lo_export). The proxy
            // cannot see which tables the function touches: it runs where the session is
            // (its transaction's shard, SET shardgate.shard) or on the default shard.
            req_bytes_in_ = call->frame.size();
            req_start_ns_ = now_ns();
            ++proxy_.counters().queries;
            std::string call_frame(call->frame);
            int shard = proxy_.config().default_shard_index();
            if (server_) {
                shard = server_->target().shard;
            } else if (!forced_shard_.empty()) {
                int idx = proxy_.shard_map().shard_index(forced_shard_);
                if (idx >= 0) shard = idx;
            }
            used_shape_ = false;
            co_await send_to_shard(shard, call_frame, "<function call>");
        } else if (std::holds_alternative<core::client::Terminate>(action)) {
            co_return false;
        } else if (const auto* bad = std::get_if<core::client::Fatal>(&action)) {
            co_await fatal(bad->sqlstate, bad->message);
            co_return false;
        }
    }
}

}  // namespace sg::proxy
