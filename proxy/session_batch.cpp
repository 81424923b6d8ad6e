// The extended-protocol batch dispatcher: a batch (Parse/Bind/Describe/Execute up to Sync or
// Flush) is routed as a whole and sent to one shard, split by shard, merged, or answered here.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <strings.h>
#include <boost/container/small_vector.hpp>
#include <cctype>
#include <climits>
#include <cmath>
#include <cstring>
#include "common/sqlstate.h"
#include "proxy/admin.h"
#include "proxy/cursor_statement.h"
#include "proxy/fanout.h"
#include "proxy/fanout_legs.h"
#include "proxy/having_params.h"
#include "proxy/merge_combine.h"
#include "proxy/notify/listen_statement.h"
#include "proxy/pool.h"
#include "proxy/proxy.h"
#include "proxy/read_route.h"
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
#include "proxy/wire/messages/session_status.h"
#include "proxy/wire/writer.h"
#include "router/copy_split.h"
#include "router/literals.h"

namespace sg::proxy {

namespace asio = net::asio;
using namespace session_frames;
using core::TakenBatch;

awaitable<void> Session::flush_batch(bool sync) {
    if (!client_.has_batch()) co_return;
    // The batch leaves the client machine (messages read meanwhile start the next one); both
    // buffers come back when this flush ends.
    TakenBatch taken = client_.take_batch(std::move(batch_spare_));
    std::string& batch = taken.bytes;
    Recycled keep_batch(batch, batch_spare_);
    if (client_.skipping()) {
        // After an error the protocol discards everything up to Sync, which gets a ReadyForQuery.
        if (sync) {
            client_.stop_skipping();
            std::string out;
            wire::append_ready_for_query(out, transaction_status());
            co_await send(out);
        }
        co_return;
    }
    // A lone unnamed statement with its Sync may be a lookup (translate_lookup_batch).
    const bool lookup_candidate = sync && taken.has_parse &&
                                  proxy_.config().proxy.prepare_lookups && !begin_.held() &&
                                  batch.size() > 5 && batch[0] == 'P' && batch[5] == 0;
    // LISTEN / UNLISTEN prepared or run in transaction pooling: answered here
    // (session_listen_batch.cpp) when the batch holds nothing else, ending with Sync or Flush.
    if (proxy_.config().proxy.pool_mode == PoolMode::Transaction &&
        ((taken.has_parse && notify::first_parse_listens(batch)) || listen_prepared_) &&
        batch.size() >= 5 && (sync || batch[batch.size() - 5] == 'H')) {
        bool answered =
            co_await answer_listen_batch(batch);  // session_listen_batch.cpp (not in an if: GCC 12)
        if (answered) co_return;
    }
    if (taken.has_parse) {
        if (needs_column_lists(batch)) co_await add_column_lists(batch);
        if (sync && holdable_session_batch(batch)) {
            co_await hold_session_batch(batch);
            co_return;
        }
    }
    if (begin_.failed() && !server_) {
        co_await answer_failed_transaction(batch, sync);
        co_return;
    }
    if (merged_portal_suspended_) {
        bool refused =
            co_await refuse_suspended_merged_portal(batch, sync);  // session_multishard.cpp
        if (refused) co_return;
    }
    if (in_transaction()) {  // (no co_await inside && or ?:, which GCC 12 miscompiles)
        bool handled = co_await transaction_control_batch(batch, sync);
        if (handled) co_return;
    }  // session_txn.cpp
    const BatchPlan plan = co_await route_batch(batch, sync);
    if (std::holds_alternative<batch_plan::Reported>(plan)) co_return;
    if (const auto* split = std::get_if<batch_plan::SplitByShard>(&plan)) {
        if (split->writes) note_client_write();
        co_await run_split_batch(batch, split->bind_shards);
        co_return;
    }
    if (const auto* insert = std::get_if<batch_plan::InsertSplit>(&plan)) {
        note_client_write();
        co_await run_insert_split(batch, *insert);
        co_return;
    }
    if (const auto* merged = std::get_if<batch_plan::Merged>(&plan)) {
        co_await run_merged_batch(batch, *merged);
        co_return;
    }
    const auto* fanout = std::get_if<batch_plan::FanOut>(&plan);
    if (fanout && in_transaction()) {
        // Inside a transaction: on its participants (session_txn_fanout.cpp).
        const std::vector<uint16_t>& shards = fanout->shards;
        auto ba = analysis_of(batch_text_);
        if (counts_as_write(*ba)) note_client_write();  // read_your_writes_ms after the COMMIT too
        auto reply = co_await frames_in_transaction(
            shards, ba->is_write || ba->kind != router::StatementKind::Select, batch_text_,
            [&](ServerConn& s) {
                std::string out;
                translate_frames(out, s, batch);
                return out;
            },
            router::writes_reference_table(*ba));
        if (!reply) co_return;
        stats_merged(batch_text_, batch_param_hash_, static_cast<uint32_t>(shards.size()), *reply);
        co_await send(*reply);
        co_return;
    }
    if (fanout) {
        co_await wait_replies_out();
        release_server();
        const std::vector<uint16_t>& shards = fanout->shards;
        if (state_ == SessionState::Ready) transition(SessionState::Busy);
        ClientWatch client_watch(*this);  // a client that leaves cancels every leg
        FanoutLegs::arm(fanout_legs_);    // taken by the fan-out at once (see fanout_legs.h)
        const bool atomic =
            txn::atomic_statement(proxy_.config(), analysis_of(batch_text_)->is_write, batch_text_);
        // Each leg's endpoint by the simple protocol's rules (session_read_route.cpp); a write:
        // reads follow it to the primary.
        const std::vector<int> read_legs = plan_fanout_reads(*analysis_of(batch_text_), shards);
        std::string reply = co_await run_fanout_frames(
            proxy_, *user_, shards, settings_,
            [&](ServerConn& s) {
                std::string out;
                translate_frames(out, s, batch);
                return out;
            },
            atomic, &leg_stats_, router::writes_reference_table(*analysis_of(batch_text_)),
            &read_legs);
        stats_merged(batch_text_, batch_param_hash_, static_cast<uint32_t>(shards.size()), reply);
        forget_touched_buckets();
        if (state_ == SessionState::Busy) transition(SessionState::Ready);
        co_await send(reply);
        co_return;
    }
    const batch_plan::OneShard& one = std::get<batch_plan::OneShard>(plan);
    const int shard = one.shard;
    if (shard < 0) co_return;  // (a default shard the map lacks: config validation prevents it)
    {
        auto ba = batch_text_.empty() ? nullptr : analysis_of(batch_text_);
        // A cursor's DECLARE (of a read) and FETCH/MOVE/CLOSE only read: that shard need not
        // PREPARE (which PostgreSQL refuses after a cursor WITH HOLD was declared).
        note_transaction_write(
            !ba || ba->is_write ||
                (ba->kind != router::StatementKind::Select && !cursor_statement(batch_text_)),
            shard);
        // Several statements in one batch (a pipeline): the primary (the first one's plan would
        // take the others along to a standby); a write among them counts for read_your_writes_ms.
        if (count_frames(batch, 'B') > 1) {
            plan_read(nullptr, shard);
            if (one.writes) note_client_write();
        } else {
            plan_read(ba.get(), shard);
        }
    }
    if (!attach_idle_server(shard)) {
        if (!co_await attach_server(shard, sync)) co_return;
    }
    if (server_->applied_settings() != settings_) {
        bool synced = co_await sync_settings(sync);  // (not in a condition: GCC 12)
        if (!synced) co_return;
    }
    if (state_ == SessionState::Ready) transition(SessionState::Busy);
    ServerConn& s = *server_;
    std::string out = std::move(out_spare_);
    out.clear();
    Recycled keep_out(out, out_spare_);
    if (sync) track_batch_settings(s, batch);
    add_prelude(out, s);
    if (sync) stats_sent(batch_text_, batch_param_hash_, nullptr, shard);
    if (!lookup_candidate || !translate_lookup_batch(out, s, batch))
        translate_frames(out, s, batch);
    // Messages sent without a Sync leave the shard expecting one: such a connection is not
    // reusable by anyone else until a Sync arrives.
    s.set_synced(sync);
    // A read that may go elsewhere if this connection is lost before it is answered
    // (session_read_retry.cpp): armed before the write, which may fail at once.
    bool armed = false;
    if (sync)
        armed = arm_lost_read(batch);
    else
        lost_read_.attached.reset();
    size_t sent = s.write_now(out);  // all of it, almost always: no write coroutine
    if (sent < out.size()) co_await s.write(std::string_view(out).substr(sent));
    if (armed)
        co_await await_read_or_retry(shard, [&](ServerConn& n, std::string& o) {
            translate_frames(o, n, batch);
            n.set_synced(true);
        });
}

awaitable<BatchPlan> Session::route_batch(std::string_view batch, bool sync) {
    using namespace batch_plan;
    // Every Bind of the batch must land on one shard: the batch is one implicit transaction.
    // The batch's Parse messages: statement name, its analysis and text (views into `batch`;
    // a later Parse of the same name wins, as on the server).
    struct Parsed {
        std::string_view name;
        std::shared_ptr<const router::Analysis> analysis;
        std::string_view text;
        std::vector<uint32_t> param_types;  // as declared (router::Param::type_oid)
    };
    boost::container::small_vector<Parsed, 2> parsed;
    auto find_parsed = [&](std::string_view name) -> const Parsed* {
        for (auto it = parsed.rbegin(); it != parsed.rend(); ++it)
            if (it->name == name) return &*it;
        return nullptr;
    };
    batch_text_.clear();
    query_text_ = {};
    batch_param_hash_ = 0;
    // Each Bind's shard, in a buffer reused from batch to batch (flush_batch, its only caller,
    // is never re-entered: serve_loop awaits it).
    std::vector<int>& bind_shards = bind_shards_;
    bind_shards.clear();
    bool writes = false;  // some Bind is not a replica-safe read (unknown: the shard reports it)
    // A failed transaction accepts only its end: its shard answers as PostgreSQL does.
    if (server_ && server_->tx_status() == 'E') co_return OneShard{server_->target().shard};
    int shard = -1;
    std::string shard_reason;
    // parsed_before: the refused Bind's offset when only Parse messages come before it: those
    // succeed first, as on a server (ParseComplete each, and the statements exist afterwards).
    auto refuse = [&](std::string_view sqlstate, const std::string& msg,
                      size_t parsed_before = 0) -> awaitable<BatchPlan> {
        co_await wait_replies_out();
        co_await abort_transaction_for_refusal(sqlstate, msg);
        if (sqlstate == sqlstate::kFeatureNotSupported) stats_refused({}, msg);
        std::string out;
        wire::MessageWriter w(out);
        if (parsed_before > 0) {
            bool only_parses = true;
            for (BatchFrames f{batch.substr(0, parsed_before)}; f.next();)
                only_parses = only_parses && f.type == 'P';
            for (BatchFrames f{batch.substr(0, parsed_before)}; only_parses && f.next();) {
                wire::Parse p;
                if (!wire::decode(bytes_of(f.body), p).ok()) break;
                register_parse(f.frame, p);
                wire::encode(wire::ParseComplete{}, w);
            }
        }
        wire::ErrorBuilder(wire::Severity::Error, sqlstate, msg).encode_error(w);
        ++proxy_.counters().errors;
        if (sync)
            wire::append_ready_for_query(out, transaction_status());
        else
            client_.skip_to_sync();
        co_await send(out);
        co_return Reported{};
    };
    size_t binds_seen = 0;
    bool mixed = false;
    bool session_statement = false;  // a Bind of transaction control or a setting
    std::shared_ptr<const router::Analysis> first_parsed;
    std::string_view first_parsed_text;
    wire::FrameCursor frames(batch);
    while (const auto frame = frames.next()) {
        const char type = frame->type;
        const std::string_view body = frame->body;
        if (type == 'P') {
            wire::Parse p;
            if (!wire::decode(bytes_of(body), p).ok()) {
                auto awaited =
                    co_await refuse(sqlstate::kProtocolViolation, "invalid Parse message");
                co_return awaited;
            }
            if (auto refusal = co_await risky_function_refusal(p.query)) {
                auto awaited = co_await refuse(refusal->sqlstate, refusal->message);
                co_return awaited;
            }
            if (std::string why = listen_batch_refusal(p.query); !why.empty()) {
                auto awaited = co_await refuse(sqlstate::kFeatureNotSupported, why);
                co_return awaited;
            }
            if (inbox_)
                listen_discard_all(
                    p.query);  // DISCARD ALL unlistens everything (session_listen.cpp)
            auto a = analysis_of(p.query);
            parsed.push_back({p.statement, a, p.query, std::move(p.param_types)});
            if (!first_parsed) {
                first_parsed = a;
                first_parsed_text = p.query;
            }
            continue;
        }
        if (type != 'B') {
            // A cursor's portal used without its Bind in this batch: where it was bound.
            if (binds_seen == 0) {
                if (auto at = portal_shard(type, body)) {
                    if (shard >= 0 && shard != *at) mixed = true;
                    if (shard < 0) shard = *at;
                }
            }
            continue;
        }
        const size_t bind_at = frame->offset;
        ++binds_seen;
        size_t bind_index = binds_seen - 1;
        bind_shards.resize(binds_seen, -1);
        wire::Bind& b = bind_scratch_;  // decoding reuses its vectors
        if (!wire::decode(bytes_of(body), b).ok()) {
            auto awaited = co_await refuse(sqlstate::kProtocolViolation, "invalid Bind message");
            co_return awaited;
        }
        const Parsed* it = find_parsed(b.statement);
        if (!it && listen_prepared_) {  // a LISTEN the client prepared before, among others
            if (std::string why = listen_batch_refusal(statement_text(b.statement)); !why.empty()) {
                auto awaited = co_await refuse(sqlstate::kFeatureNotSupported, why);
                co_return awaited;
            }
        }
        auto a = it ? it->analysis : statement_analysis(b.statement);
        if (binds_seen == 1) {
            if (it)
                batch_text_.assign(it->text);
            else if (b.statement.empty())
                batch_text_ = unnamed_query_;
            else if (auto st = statements_.find(std::string(b.statement)); st != statements_.end())
                batch_text_ = st->second.query;
            batch_param_hash_ = stats::text_hash(body);
        }
        if (!a || counts_as_write(*a)) writes = true;
        if (!a) continue;
        router::Params& params = bind_params_;
        params.clear();
        for (size_t i = 0; i < b.params.size(); ++i) {
            router::Param prm;
            prm.null = !b.params[i].has_value();
            prm.format = b.param_format(i) == wire::FormatCode::Binary ? router::ParamFormat::Binary
                                                                       : router::ParamFormat::Text;
            if (b.params[i]) prm.bytes = wire::as_chars(*b.params[i]);
            params.push_back(prm);
        }
        declare_param_types(params, it ? &it->param_types : nullptr, *a, b.statement);
        // A SELECT the proxy can combine across shards, alone before its Sync and outside a
        // transaction, is routed as a merging caller.
        const bool may_merge =
            a->merge && sync &&
            (!in_transaction() || proxy_.config().transactions.two_phase_commit) &&
            binds_seen == 1 && count_frames(batch, 'B') == 1;
        // A mergeable statement that may not merge here (batched with others) is still routed
        // as a merging caller would, so that it is refused below for being batched, naming that,
        // rather than for its merge.
        const router::RouterContext ctx = a->merge ? merging_context() : router_context();
        router::Route r = router::route(*a, params, proxy_.shard_map(), ctx);
        using K = router::Route::Kind;
        if (r.kind == K::Error) {
            auto awaited = co_await refuse(r.error.sqlstate, r.error.message, bind_at);
            co_return awaited;
        }
        if (r.kind == K::Session) session_statement = true;
        if (r.kind == K::Local || r.kind == K::Session) continue;
        // The Bind's statement text (for its cursor, if it declares or uses one).
        std::string_view bind_text = it ? it->text : std::string_view();
        if (!it && b.statement.empty())
            bind_text = unnamed_query_;
        else if (!it)
            if (auto st = statements_.find(std::string(b.statement)); st != statements_.end())
                bind_text = st->second.query;
        if (r.any_shard) {
            // A FETCH/MOVE/CLOSE of a cursor declared on a participant goes there; others go
            // with the batch's other statements, or where the session is.
            if (auto at = cursor_shard_of(bind_text)) {
                bind_shards.resize(bind_index + 1, -1);
                bind_shards[bind_index] = *at;
                if (shard >= 0 && shard != *at) mixed = true;
                if (shard < 0) shard = *at;
            }
            continue;
        }
        bool held = false;
        if (!touch_buckets_unless_paused(*a, r)) held = co_await hold_for_paused_buckets(*a, r);
        if (held) r = router::route(*a, params, proxy_.shard_map(), ctx);
        if (r.kind == K::Error) {
            auto awaited = co_await refuse(r.error.sqlstate, r.error.message, bind_at);
            co_return awaited;
        }
        if (r.shards.size() != 1) {
            // One statement on several shards: run it on each and merge, when it is the batch's
            // only statement and no transaction is open; a split INSERT needs the simple protocol.
            bool only_bind = binds_seen == 1 && count_frames(batch, 'B') == 1;
            // (Inside a transaction it runs on the transaction's participants when it may span
            // shards: session_txn_fanout.cpp.)
            if (in_transaction() && !proxy_.config().transactions.two_phase_commit) {
                auto awaited = co_await refuse(
                    sqlstate::kFeatureNotSupported,
                    fmt::format(
                        "this statement touches {} shards and a transaction is open; a transaction "
                        "cannot span shards in this version",
                        r.shards.size()));
                co_return awaited;
            }
            if (!only_bind || !sync) {
                auto awaited = co_await refuse(
                    sqlstate::kFeatureNotSupported,
                    fmt::format(
                        "this statement needs {} shards and is batched with other statements "
                        "before one Sync (a pipeline); a statement on several shards must be "
                        "alone before its Sync (or sent with the simple protocol)",
                        r.shards.size()));
                co_return awaited;
            }
            if (r.insert_rows.size() > 1)
                co_return InsertSplit{a, std::string(body), std::move(r.insert_rows)};
            if (may_merge && r.insert_rows.empty()) co_return Merged{a, std::move(r.shards)};
            co_return FanOut{std::move(r.shards)};
        }
        int target = r.shards.front();
        bind_shards.resize(bind_index + 1, -1);
        bind_shards[bind_index] = target;
        note_cursor(bind_text, b.portal, target);  // a DECLARE, or a named portal: it lives there
        if (shard >= 0 && shard != target) mixed = true;
        if (shard < 0) shard = target;
    }
    if (mixed) {
        // Batches (JDBC executeBatch, pipelines) are split per shard: outside a transaction
        // made atomic at their Sync, inside one run on its participants (two-phase commit at
        // COMMIT). Without a Sync yet (Flush), or without two-phase commit inside a transaction,
        // there is no way to keep them all-or-nothing: refused.
        if (!sync) {
            auto awaited = co_await refuse(sqlstate::kFeatureNotSupported,
                                           "the statements sent before a Flush target different "
                                           "shards; send them with a Sync");
            co_return awaited;
        }
        if (in_transaction() && !proxy_.config().transactions.two_phase_commit) {
            auto awaited = co_await refuse(
                sqlstate::kFeatureNotSupported,
                "the statements sent before one Sync target different shards and a transaction is "
                "open; "
                "a transaction spans shards only with [transactions] two_phase_commit = true");
            co_return awaited;
        }
        // Its pieces go straight to the participants: a COMMIT, ROLLBACK, SAVEPOINT or SET among
        // them would end or change one participant's transaction behind the two-phase commit.
        if (in_transaction() && session_statement) {
            auto awaited = co_await refuse(sqlstate::kFeatureNotSupported,
                                           "the statements sent before one Sync target different "
                                           "shards of the open transaction and "
                                           "include transaction control or a SET (COMMIT, "
                                           "ROLLBACK, SAVEPOINT, ...); send those after "
                                           "a Sync of their own");
            co_return awaited;
        }
        // Binds without a route of their own (session statements) go with the previous one.
        int last = shard;
        for (auto& b : bind_shards) {
            if (b < 0) b = last;
            last = b;
        }
        co_return SplitByShard{bind_shards, writes};
    }
    if (batch_text_.empty()) batch_text_.assign(first_parsed_text);  // a batch without Bind
    if (shard >= 0) co_return OneShard{shard, writes};
    // Statements any shard answers (no table: LISTEN, NOTIFY, nextval) run where the session's
    // transaction is; outside one on the default shard, as in the simple protocol (route_target):
    // in session pooling they must not depend on the shard the session used last.
    // (Transaction control and settings stay where the session is, as before.)
    if (server_ && (transaction_status() != 'I' || binds_seen == 0 || session_statement))
        co_return OneShard{server_->target().shard, writes};
    // No Bind (Parse/Describe only): where the text alone points, else the default shard.
    if (first_parsed) {
        router::Route r = router::route(*first_parsed, {}, proxy_.shard_map(), router_context());
        if (r.kind != router::Route::Kind::Error && r.shards.size() == 1)
            co_return OneShard{r.shards.front(), writes};
    }
    co_return OneShard{proxy_.config().default_shard_index(), writes};
}

}  // namespace sg::proxy
