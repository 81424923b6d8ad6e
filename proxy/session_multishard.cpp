// Extended-protocol batches that span shards: merged reads (combined by SQL), multi-row
// INSERT split by shard, and per-Bind split batches, each atomic across shards.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <strings.h>
#include <boost/container/small_vector.hpp>
#include <cctype>
#include <climits>
#include <cmath>
#include <cstring>
#include "common/pg_types.h"
#include "common/sqlstate.h"
#include "proxy/admin.h"
#include "proxy/fanout.h"
#include "proxy/fanout_legs.h"
#include "proxy/having_params.h"
#include "proxy/merge_combine.h"
#include "proxy/merge_limits.h"
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
#include "proxy/txn/held.h"
#include "proxy/txn/policy.h"
#include "proxy/wire/frame.h"
#include "proxy/wire/messages/command_complete.h"
#include "proxy/wire/messages/copy.h"
#include "proxy/wire/messages/error_response.h"
#include "proxy/wire/messages/extended_query.h"
#include "proxy/wire/messages/extended_replies.h"
#include "proxy/wire/messages/row_data.h"
#include "proxy/wire/messages/session_status.h"
#include "proxy/wire/protocol.h"
#include "proxy/wire/writer.h"
#include "router/copy_split.h"
#include "router/literals.h"

namespace sg::proxy {

namespace asio = net::asio;
using namespace session_frames;

router::RouterContext Session::merging_context() const {
    router::RouterContext ctx = router_context();
    ctx.merge_results = true;
    return ctx;
}

awaitable<std::string> Session::merge_rows(const router::Analysis& a, const std::string& reply,
                                           uint16_t description_shard) {
    ShardRows in;
    if (!read_shard_rows(reply, in)) co_return reply;  // a shard's error (or no result): as it is
    // Inside a transaction: on its participants where it has them (session_txn_fanout.cpp).
    const bool in_txn = in_transaction();
    CombineRunner runner;
    if (in_txn) runner = transaction_combine_runner();
    MergedRows m = co_await combine_rows(proxy_, *user_, settings_, a, in, {}, description_shard,
                                         nullptr, nullptr, in_txn ? &runner : nullptr);
    std::string out = in.notices;
    if (!m.error.empty()) {
        out += m.error;
        if (in_txn && held_) held_->failed = true;  // an error fails the transaction
    } else {
        out += m.row_description;
        out += m.rows;
        append_select_tag(out, m.count);
    }
    wire::append_ready_for_query(out, transaction_status());
    co_return out;
}

awaitable<void> Session::run_insert_split(const std::string& batch,
                                          const batch_plan::InsertSplit& sp) {
    // Register the client's Parse (it is not sent as is: each shard gets its own INSERT), and
    // find the statement's text and parameter types.
    bool had_parse = false, had_describe = false;
    std::string bind_stmt_name;
    {
        wire::Bind b;
        if (wire::decode(bytes_of(sp.bind_body), b).ok()) bind_stmt_name = b.statement;
    }
    for (BatchFrames f{batch}; f.next();) {
        if (f.type == 'D') had_describe = true;
        if (f.type != 'P') continue;
        wire::Parse p;
        if (!wire::decode(bytes_of(f.body), p).ok()) continue;
        had_parse = true;
        register_parse(f.frame, p);
    }
    // The statement's text and types: from its Parse frame (this batch's or an earlier one).
    wire::Parse orig;
    if (!statement_parse(bind_stmt_name, orig)) {
        co_await error_and_ready(sqlstate::kProtocolViolation,
                                 "the INSERT to split has no Parse the proxy knows of");
        co_return;
    }
    const std::string query(orig.query);
    const std::vector<uint32_t>& param_types = orig.param_types;
    wire::Bind bind;
    if (!wire::decode(bytes_of(sp.bind_body), bind).ok()) {
        co_await error_and_ready(sqlstate::kProtocolViolation, "invalid Bind message");
        co_return;
    }
    // Per shard: Parse (unnamed) + Bind with its parameters + [Describe] + Execute + Sync.
    std::map<uint16_t, std::string> frames;
    for (const auto& part : sp.parts) {
        router::RenderedInsert ri = router::render_insert_subset(*sp.analysis, query, part.rows);
        std::string out;
        wire::MessageWriter w(out);
        wire::Parse p;
        p.query = ri.sql;
        for (int old : ri.param_map)
            p.param_types.push_back(
                old - 1 < static_cast<int>(param_types.size()) ? param_types[old - 1] : 0);
        wire::encode(p, w);
        wire::Bind b;
        b.result_formats = bind.result_formats;
        for (int old : ri.param_map) {
            b.params.push_back(bind.params[old - 1]);
            b.param_formats.push_back(static_cast<int16_t>(bind.param_format(old - 1)));
        }
        wire::encode(b, w);
        if (had_describe) wire::encode(wire::Describe{wire::Target::Portal, ""}, w);
        wire::encode(wire::Execute{"", 0}, w);
        w.empty_message('S');
        frames[part.shard] = std::move(out);
    }
    std::vector<uint16_t> shards;
    for (const auto& [shard, f] : frames) shards.push_back(shard);
    auto build = [&](ServerConn& s) {
        std::string out;  // this shard's rows as Parse ... Sync, with the replies they owe
        ShardRequest(out, s).forward_all(frames[static_cast<uint16_t>(s.target().shard)]);
        s.unnamed_owner() = {0, 0};
        return out;
    };
    const bool in_txn = in_transaction();
    std::string reply;
    ClientWatch client_watch(*this);  // a client that leaves cancels every leg
    if (in_txn) {                     // on the transaction's participants (session_txn_fanout.cpp)
        auto got = co_await frames_in_transaction(shards, true, query, build, false);
        if (!got) co_return;
        reply = std::move(*got);
    } else {
        co_await wait_replies_out();
        release_server();
        if (state_ == SessionState::Ready) transition(SessionState::Busy);
        FanoutLegs::arm(fanout_legs_);  // taken by the fan-out at once (see fanout_legs.h)
        reply = co_await run_fanout_frames(proxy_, *user_, shards, settings_, build,
                                           txn::atomic_writes(proxy_.config()), &leg_stats_);
    }
    if (!had_parse && !reply.empty() && reply[0] == '1')
        reply.erase(0, 5);  // the client sent no Parse
    if (sp.analysis->returning)
        reply = returning_in_values_order(reply, sp.parts);  // parts: in shard order
    stats_merged(query, batch_param_hash_, static_cast<uint32_t>(shards.size()), reply);
    if (!in_txn) {
        forget_touched_buckets();
        if (state_ == SessionState::Busy) transition(SessionState::Ready);
    }
    co_await send(reply);
}

namespace {

// The first `n` DataRow frames of `rows` (frames back to back).
std::string_view first_data_rows(std::string_view rows, size_t n) {
    wire::FrameCursor frames(rows);
    for (size_t i = 0; i < n; ++i)
        if (!frames.next()) break;
    return rows.substr(0, frames.offset());
}

}  // namespace

awaitable<bool> Session::refuse_suspended_merged_portal(std::string_view batch, bool sync) {
    if (!in_transaction()) merged_portal_suspended_ = false;  // the portal ended with it
    if (!merged_portal_suspended_) co_return false;
    for (BatchFrames f{batch}; f.next();) {
        const char type = f.type;
        const bool unnamed = !f.body.empty() && f.body[0] == '\0';  // the portal name comes first
        if (type == 'B' && unnamed) {
            merged_portal_suspended_ = false;  // a new unnamed portal replaces it
            co_return false;
        }
        if (type == 'E' && unnamed) {
            const std::string msg =
                "a statement combined across shards is read whole: the unnamed portal was cut at "
                "its row limit and "
                "its remaining rows cannot be fetched (run it without a row limit)";
            co_await wait_replies_out();
            co_await abort_transaction_for_refusal(sqlstate::kFeatureNotSupported, msg);
            if (held_) held_->failed = true;  // an error fails the transaction
            stats_refused({}, msg);
            std::string out;
            wire::MessageWriter w(out);
            wire::ErrorBuilder(wire::Severity::Error, sqlstate::kFeatureNotSupported, msg)
                .encode_error(w);
            if (sync)
                wire::append_ready_for_query(out, transaction_status());
            else
                client_.skip_to_sync();
            co_await send(out);
            co_return true;
        }
    }
    co_return false;
}

awaitable<void> Session::run_merged_batch(const std::string& batch,
                                          const batch_plan::Merged& merged) {
    const router::Analysis& a = *merged.analysis;
    const router::Analysis::MergePlan& plan = *a.merge;
    // The client's messages: statements it defines are registered as usual; the shards run
    // their own unnamed statement instead.
    wire::Bind bind;
    std::string bind_body;
    bool describe_statement = false;
    size_t row_limit = 0;  // Execute's max_rows; 0: every row
    for (BatchFrames f{batch}; f.next();) {
        const std::string_view body = f.body;
        if (f.type == 'P') {
            wire::Parse p;
            if (wire::decode(bytes_of(body), p).ok()) register_parse(f.frame, p);
        } else if (f.type == 'B') {
            bind_body.assign(body);
        } else if (f.type == 'D' && !body.empty() && body[0] == 'S') {
            describe_statement = true;
        } else if (f.type == 'E') {
            // A row limit: the combined rows are cut after max_rows and the portal reported
            // suspended, as PostgreSQL does. Only where no later Execute can ask for the rest:
            // the batch ends with Sync (this path), which outside a transaction closes every
            // portal; inside one, the unnamed portal is replaced by the next Bind, and an
            // Execute without a Bind before it is refused meanwhile (merged_portal_suspended_).
            // A named portal inside a transaction is a cursor the client may go on fetching.
            wire::Execute e;
            if (wire::decode(bytes_of(body), e).ok() && e.max_rows > 0)
                row_limit = static_cast<size_t>(e.max_rows);
        } else if (f.type == 'C' && body.size() >= 2 && body[0] == 'S') {
            // Closed here; the shards' copies of it go with their connections.
            statements_.erase(std::string(body.substr(1, body.size() - 2)));
        }
    }
    if (!wire::decode(bytes_of(bind_body), bind).ok()) {
        co_await error_and_ready(sqlstate::kProtocolViolation, "invalid Bind message");
        co_return;
    }
    if (in_transaction() && !bind.portal.empty()) {
        // A named portal outlives this Sync inside a transaction, and a later Execute of it
        // (a cursor fetched in pieces) would find no such portal on any shard.
        co_await error_and_ready(
            sqlstate::kFeatureNotSupported,
            "a statement combined across shards is read whole: a named portal (a cursor fetched "
            "in pieces) over it inside a transaction is not supported; fetch it with the unnamed "
            "portal");
        co_return;
    }
    wire::Parse orig;
    if (!statement_parse(bind.statement, orig)) {
        co_await error_and_ready(
            sqlstate::kInvalidSqlStatementName,
            "the statement to combine across shards has no Parse the proxy knows of");
        co_return;
    }
    // LIMIT $n / OFFSET $n: this execution's values, for the combining step (`bound`); the
    // shards compute their own LIMIT from the same parameters.
    std::optional<router::Analysis> bound;
    if (plan.limit_param || plan.offset_param) {
        bound = a;
        std::pair<std::string, std::string> bad;
        if (!bind_limits(*bound->merge, bind, orig.param_types, bad)) {
            co_await error_and_ready(bad.first, bad.second);
            co_return;
        }
    }
    // Result formats on the shards: text for what is combined (aggregates, extra ORDER BY
    // columns), the client's own for rows passed through.
    std::vector<int16_t> shard_formats;
    if (plan.aggregates.empty() && !bind.result_formats.empty()) {
        if (bind.result_formats.size() == 1) {
            // One code for every column: the extra ORDER BY columns come back binary too (read
            // as text for the types that allow it).
            if (bind.result_formats[0] != 0) shard_formats = bind.result_formats;
        } else {
            shard_formats = bind.result_formats;
            shard_formats.resize(shard_formats.size() + plan.hidden, 0);
        }
    }
    std::string frames;
    {
        wire::MessageWriter w(frames);
        wire::Parse p;
        p.query = plan.shard_sql.empty() ? orig.query : std::string_view(plan.shard_sql);
        p.param_types = orig.param_types;
        // A LIMIT/OFFSET parameter the shards' statement may no longer mention still needs a
        // type there: bigint, as PostgreSQL infers for LIMIT $n, unless the client declared one.
        for (uint32_t n : {plan.limit_param, plan.offset_param}) {
            if (n == 0) continue;
            if (p.param_types.size() < n) p.param_types.resize(n, 0);
            if (p.param_types[n - 1] == 0) p.param_types[n - 1] = pg_type::kInt8;
        }
        // A parameter only the dropped HAVING used: the shards ignore it, but must type it.
        declare_unused_params(p.param_types, p.query, bind);
        wire::encode(p, w);
        if (describe_statement) wire::encode(wire::Describe{wire::Target::Statement, ""}, w);
        wire::Bind b;
        b.param_formats = bind.param_formats;
        b.params = bind.params;
        b.result_formats = shard_formats;
        wire::encode(b, w);
        wire::encode(wire::Describe{wire::Target::Portal, ""}, w);
        wire::encode(wire::Execute{"", 0}, w);
        w.empty_message('S');
    }
    const std::vector<uint16_t>& shards = merged.shards;
    auto build = [&](ServerConn& s) {
        std::string out;
        ShardRequest(out, s).forward_all(frames);
        s.unnamed_owner() = {0, 0};
        return out;
    };
    const bool in_txn = in_transaction();
    std::string reply;
    ClientWatch client_watch(*this);  // a client that leaves cancels every leg
    if (in_txn) {  // on the transaction's participants, seeing its writes (session_txn_fanout.cpp)
        auto got = co_await frames_in_transaction(shards, false, orig.query, build, false);
        if (!got) co_return;
        reply = std::move(*got);
    } else {
        co_await wait_replies_out();
        release_server();
        if (state_ == SessionState::Ready) transition(SessionState::Busy);
        // Each leg's endpoint by the simple protocol's rules (session_read_route.cpp).
        const std::vector<int> read_legs = plan_fanout_reads(a, shards);
        FanoutLegs::arm(fanout_legs_);  // taken by the fan-out at once (see fanout_legs.h)
        reply = co_await run_fanout_frames(proxy_, *user_, shards, settings_, build, false,
                                           &leg_stats_, false, &read_legs);
        forget_touched_buckets();
    }
    // The first shard's answers to Describe (statement), then the rows of every shard.
    std::string param_description, statement_description, notices;
    ShardRows in;
    bool failed = false, seen_bind = false;
    std::string rows_part;
    for (wire::FrameCursor replies(reply); const auto r = replies.next();) {
        const std::string_view frame = r->whole;
        switch (r->type) {
            case 'E':
                failed = true;
                break;
            case 'N':
                notices.append(frame);
                break;
            case 't':
                param_description.assign(frame);
                break;
            case 'n':
                if (!seen_bind) statement_description.assign(frame);
                break;
            case '2':
                seen_bind = true;
                break;
            case 'T':
                if (!seen_bind)
                    statement_description.assign(frame);
                else
                    rows_part.append(frame);
                break;
            case 'D':
                rows_part.append(frame);
                break;
            default:
                break;
        }
    }
    std::string out;
    if (failed || !read_shard_rows(rows_part, in)) {
        out = reply;  // a shard's error (with its ReadyForQuery), as it is
    } else {
        CombineRunner runner;
        if (in_txn) runner = transaction_combine_runner();
        MergedRows m = co_await combine_rows(proxy_, *user_, settings_, bound ? *bound : a, in,
                                             bind.result_formats, shards.front(), &bind,
                                             &orig.param_types, in_txn ? &runner : nullptr);
        out = std::move(notices);
        if (!m.error.empty()) {
            out += m.error;
            if (in_txn && held_) held_->failed = true;  // an error fails the transaction
        } else {
            // The client's statement description shows its own columns only: for aggregates,
            // those of the combined answer (an average is numeric where the shards' sums were
            // not), as a statement's description has them (text format).
            if (statement_description.size() > 5 && statement_description[0] == 'T' &&
                (!plan.aggregates.empty() || plan.hidden)) {
                const std::string& from =
                    plan.aggregates.empty() ? statement_description : m.row_description;
                wire::RowDescription d;
                if (from.size() > 5 &&
                    wire::decode(wire::as_bytes(std::string_view(from).substr(5)), d).ok() &&
                    d.fields.size() >= (plan.aggregates.empty() ? plan.hidden : 0)) {
                    if (plan.aggregates.empty()) d.fields.resize(d.fields.size() - plan.hidden);
                    for (auto& f : d.fields) f.format = 0;
                    std::string t;
                    wire::MessageWriter tw(t);
                    wire::encode(d, tw);
                    statement_description = std::move(t);
                }
            }
            // Answer each message of the batch in its order.
            wire::MessageWriter w(out);
            for (BatchFrames msg{batch}; msg.next();) {
                const char target = msg.body.empty() ? 0 : msg.body[0];
                switch (msg.type) {
                    case 'P':
                        w.empty_message('1');
                        break;
                    case 'B':
                        w.empty_message('2');
                        break;
                    case 'D':
                        if (target == 'S')
                            out += param_description + statement_description;
                        else
                            out += m.row_description;
                        break;
                    case 'E':
                        if (row_limit > 0 && row_limit < m.count) {
                            out += first_data_rows(m.rows, row_limit);
                            wire::encode(wire::PortalSuspended{}, w);
                            merged_portal_suspended_ = in_txn;
                        } else {
                            out += m.rows;
                            append_select_tag(out, m.count);
                        }
                        break;
                    case 'C':
                        w.empty_message('3');
                        break;
                    default:
                        break;
                }
            }
        }
        wire::append_ready_for_query(out, transaction_status());
    }
    stats_merged(batch_text_, batch_param_hash_, static_cast<uint32_t>(shards.size()),
                 out);  // a refusal counts as one
    if (state_ == SessionState::Busy && !in_txn) transition(SessionState::Ready);
    co_await send(out);
}

awaitable<void> Session::run_split_batch(const std::string& batch,
                                         std::span<const int> bind_shards) {
    // Cut the batch into pieces: a Bind opens a unit on its shard; what precedes a Bind
    // (Parse, Describe of a statement) travels with it; Execute/Describe/Close of the portal
    // stay with their Bind. Consecutive units on one shard form one piece.
    struct Piece {
        int shard;
        std::string frames;
    };
    std::vector<Piece> pieces;
    std::string pending, sync_frame;
    size_t bind_index = 0;
    for (BatchFrames f{batch}; f.next();) {
        const std::string_view frame = f.frame;
        const char type = f.type;
        if (type == 'S') {
            sync_frame.assign(frame);
            continue;
        }
        if (type == 'B') {
            int shard = bind_shards[bind_index++];
            if (pieces.empty() || pieces.back().shard != shard) pieces.push_back({shard, {}});
            pieces.back().frames += pending;
            pending.clear();
            pieces.back().frames.append(frame);
            continue;
        }
        bool statement_level =
            type == 'P' || ((type == 'D' || type == 'C') && frame.size() > 5 && frame[5] == 'S');
        if (statement_level || pieces.empty())
            pending.append(frame);
        else
            pieces.back().frames.append(frame);
    }
    if (!pending.empty()) pieces.back().frames += pending;

    if (!sync_frame.empty() && txn::atomic_writes(proxy_.config())) {
        std::vector<std::pair<int, std::string>> parts;
        for (const auto& p : pieces) parts.emplace_back(p.shard, p.frames);
        if (co_await run_split_batch_atomic(parts)) co_return;
    }
    split_error_ = false;
    if (state_ == SessionState::Ready) transition(SessionState::Busy);
    for (size_t i = 0; i < pieces.size(); ++i) {
        const bool last = i + 1 == pieces.size();
        if (!co_await attach_server(pieces[i].shard, true)) co_return;
        note_transaction_write(true, pieces[i].shard);
        if (server_->applied_settings() != settings_) {
            bool synced = co_await sync_settings(true);  // (not in a condition: GCC 12)
            if (!synced) co_return;
        }
        ServerConn& s = *server_;
        std::string out;
        add_prelude(out, s);  // settings, and the transaction's held-back BEGIN on its first shard
        translate_frames(out, s, pieces[i].frames);
        s.set_synced(true);  // every piece ends with a Sync
        if (last) {
            stats_sent(batch_text_, batch_param_hash_, nullptr, pieces[i].shard);
            translate_frames(out, s, sync_frame);
            co_await s.write(out);
            co_return;
        }
        ShardRequest(out, s).quiet_sync();
        split_piece_done_ = false;
        co_await s.write(out);
        while (!split_piece_done_ && server_) co_await released_.wait();
        if (split_error_ || !split_piece_done_) {
            // As PostgreSQL skips the rest of a failed batch, so do we; the client still gets
            // its one ReadyForQuery.
            co_await wait_replies_out();
            std::string rfq;
            wire::append_ready_for_query(rfq, transaction_status());
            co_await send(rfq);
            if (state_ == SessionState::Busy && !server_) transition(SessionState::Ready);
            co_return;
        }
    }
}

}  // namespace sg::proxy
