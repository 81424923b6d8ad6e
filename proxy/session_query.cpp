// The request side of a client session: simple queries, extended-protocol batches, COPY
// data, and attaching pooled server connections.
#include <boost/container/small_vector.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <climits>
#include <cmath>
#include <cstring>
#include <strings.h>

#include "proxy/admin.h"
#include "proxy/fanout.h"
#include "proxy/fanout_legs.h"
#include "proxy/having_params.h"
#include "proxy/merge_combine.h"
#include "proxy/returning_order.h"
#include "proxy/pool.h"
#include "proxy/proxy.h"
#include "proxy/session.h"
#include "proxy/session_settings.h"
#include "proxy/table_columns.h"
#include "proxy/txn/policy.h"
#include "proxy/wire/frame.h"
#include "proxy/wire/messages/command_complete.h"
#include "proxy/wire/messages/error_response.h"
#include "proxy/wire/messages/extended_query.h"
#include "proxy/wire/messages/extended_replies.h"
#include "proxy/wire/messages/row_data.h"
#include "proxy/wire/writer.h"
#include "proxy/stats/query_event.h"
#include "router/copy_split.h"
#include "router/literals.h"
#include "proxy/wire/messages/copy.h"
#include "proxy/spawn.h"

namespace sg::proxy {

namespace asio = net::asio;

namespace {

std::string statement_server_name(uint64_t id) { return fmt::format("sg{}", id); }

// DISCARD ALL and DEALLOCATE [PREPARE] ALL drop every prepared statement of the server
// connection they run on, the proxy's own names included.
bool drops_prepared_statements(std::string_view sql) {
    size_t i = 0;
    auto word = [&](std::string_view w) {
        while (i < sql.size() && std::isspace(static_cast<unsigned char>(sql[i]))) ++i;
        if (sql.size() - i < w.size() || strncasecmp(sql.data() + i, w.data(), w.size()) != 0) return false;
        size_t end = i + w.size();
        if (end < sql.size() && router::sql_ident_byte(sql[end])) return false;
        i = end;
        return true;
    };
    if (word("discard")) return word("all");
    if (!word("deallocate")) return false;
    word("prepare");
    return word("all");
}

// The length field of the frame at `pos` (frames in the proxy's own buffers are complete and
// were validated when they were read from the client).
// Lends a session's kept buffer to one pass of the per-transaction path and takes it back,
// emptied, when the pass ends (whichever way), so steady traffic reuses one allocation. A
// buffer grown past 64 KiB is let go instead: an idle session stays small.
class Recycled {
public:
    Recycled(std::string& lent, std::string& home) : lent_(lent), home_(home) {}
    Recycled(const Recycled&) = delete;
    Recycled& operator=(const Recycled&) = delete;
    ~Recycled() {
        if (lent_.capacity() > 64 * 1024 || home_.capacity() >= lent_.capacity()) return;
        lent_.clear();
        home_.swap(lent_);
    }

private:
    std::string& lent_;
    std::string& home_;
};

size_t frame_length(std::string_view frames, size_t pos) {
    return (size_t(uint8_t(frames[pos + 1])) << 24) | (size_t(uint8_t(frames[pos + 2])) << 16) |
           (size_t(uint8_t(frames[pos + 3])) << 8) | size_t(uint8_t(frames[pos + 4]));
}

// Walks the whole messages of a batch: `for (BatchFrames f{batch}; f.next();) use f.type, f.frame, f.body`.
struct BatchFrames {
    std::string_view batch;
    size_t pos = 0;
    char type = 0;
    std::string_view frame{};  // the whole message
    std::string_view body{};   // after type and length

    bool next() {
        if (pos + 5 > batch.size()) return false;
        size_t len = frame_length(batch, pos);
        type = batch[pos];
        frame = batch.substr(pos, len + 1);
        body = batch.substr(pos + 5, len - 4);
        pos += len + 1;
        return true;
    }
};

// What PostgreSQL answers to the messages of an extended batch returning no rows, for the
// batches the proxy answers itself: ParseComplete, BindComplete, and for Describe no parameters
// (of a statement) and NoData. Execute and Sync are the caller's.
void acknowledge(char type, std::string_view body, wire::MessageWriter& w) {
    switch (type) {
        case 'P': wire::encode(wire::ParseComplete{}, w); break;
        case 'B': wire::encode(wire::BindComplete{}, w); break;
        case 'D':
            if (!body.empty() && body[0] == 'S') wire::encode(wire::ParameterDescription{}, w);
            wire::encode(wire::NoData{}, w);
            break;
        default: break;
    }
}

size_t count_frames(std::string_view frames, char type) {
    size_t n = 0, pos = 0;
    while (pos + 5 <= frames.size()) {
        size_t len = frame_length(frames, pos);
        n += frames[pos] == type;
        pos += len + 1;
    }
    return n;
}

std::string_view frame_body(std::string_view frame) { return frame.substr(5); }

wire::Bytes bytes_of(std::string_view s) { return wire::as_bytes(s); }

// Rewrites the statement name of a Bind/Describe/Close: [prefix][old name\0][rest] ->
// [prefix][new name\0][rest]. `name_offset` is the offset of the name in the body.
void append_renamed(std::string& out, char type, std::string_view body, size_t name_offset, std::string_view old_name,
                    std::string_view new_name) {
    wire::MessageWriter w(out);
    w.begin(type);
    w.bytes(body.substr(0, name_offset));
    w.cstr(new_name);
    w.bytes(body.substr(name_offset + old_name.size() + 1));
    w.end();
}

}  // namespace

router::RouterContext Session::merging_context() const {
    router::RouterContext ctx = router_context();
    ctx.merge_results = true;
    return ctx;
}


awaitable<std::string> Session::merge_rows(const router::Analysis& a, const std::string& reply,
                                           uint16_t description_shard) {
    ShardRows in;
    if (!read_shard_rows(reply, in)) co_return reply;  // a shard's error (or no result): as it is
    MergedRows m = co_await combine_rows(proxy_, *user_, settings_, a, in, {}, description_shard);
    std::string out = in.notices;
    if (!m.error.empty()) {
        out += m.error;
    } else {
        out += m.row_description;
        out += m.rows;
        append_select_tag(out, m.count);
    }
    out.append({'Z', 0, 0, 0, 5, transaction_status()});
    co_return out;
}

router::RouterContext Session::router_context() const {
    router::RouterContext ctx;
    if (!forced_shard_.empty()) ctx.session_shard = forced_shard_;
    ctx.default_shard = static_cast<uint16_t>(proxy_.config().default_shard_index());
    ctx.explain = false;
    return ctx;
}

const ClientStatement& Session::register_parse(std::string_view frame, const wire::Parse& p) {
    static const ClientStatement unnamed;
    if (p.statement.empty()) {
        unnamed_parse_.assign(frame);
        ++unnamed_seq_;
        unnamed_analysis_ = analysis_of(p.query);
        unnamed_query_.assign(p.query);
        return unnamed;
    }
    // A named statement lives under a proxy-chosen name, so it can be prepared on any server.
    ClientStatement st;
    st.id = next_statement_id();
    st.analysis = analysis_of(p.query);
    st.query.assign(p.query);
    wire::Parse renamed = p;
    std::string sname = statement_server_name(st.id);
    renamed.statement = sname;
    wire::MessageWriter w(st.parse_frame);
    wire::encode(renamed, w);
    return statements_[std::string(p.statement)] = std::move(st);
}

std::shared_ptr<const router::Analysis> Session::analysis_of(std::string_view sql) {
    auto& cache = proxy_.statements();
    if (memo_analysis_ && memo_generation_ == cache.generation() && sql == memo_sql_) return memo_analysis_;
    auto a = cache.find(sql);
    if (!a) a = cache.get(std::string(sql));
    memo_sql_.assign(sql);
    memo_analysis_ = a;
    memo_generation_ = cache.generation();
    if (memo_sql_.capacity() > 64 * 1024) {  // an idle session stays small
        std::string().swap(memo_sql_);
        memo_analysis_.reset();
    }
    return a;
}

std::shared_ptr<const router::Analysis> Session::statement_analysis(std::string_view name) const {
    if (name.empty()) return unnamed_analysis_;
    auto it = statements_.find(std::string(name));
    return it == statements_.end() ? nullptr : it->second.analysis;
}

bool Session::statement_parse(std::string_view name, wire::Parse& out) const {
    const std::string* frame = &unnamed_parse_;
    if (!name.empty()) {
        auto it = statements_.find(std::string(name));
        if (it == statements_.end()) return false;
        frame = &it->second.parse_frame;
    }
    return frame->size() >= 5 && wire::decode(bytes_of(frame_body(*frame)), out).ok();
}

std::string Session::settings_sync_query(ServerConn& s) {
    return settings_sync_statements(s.applied_settings(), settings_);
}

bool Session::add_prelude(std::string& out, ServerConn& s) {
    // Settings were synced by sync_settings() already (nothing left here then). Never in one
    // text with the BEGIN: a failing SET would make PostgreSQL skip the BEGIN.
    bool any = s.add_quiet_query(out, settings_sync_query(s));
    any = s.add_quiet_query(out, pending_begin_) || any;
    pending_begin_.clear();
    return any;
}

bool Session::attach_idle_server(int shard) {
    if (server_) {
        if (!server_fits(shard, read_plan_)) return false;
        read_plan_ = -1;
        return true;
    }
    if (proxy_.paused()) return false;
    Pool& pool = pool_for(shard, read_plan_);
    auto s = pool.take_idle();
    if (!s) return false;
    if (s->map_checked() != proxy_.map_generation()) {  // attach_server checks its stamp first
        pool.release(std::move(s));
        return false;
    }
    read_plan_ = -1;
    server_ = std::move(s);
    server_pool_ = &pool;
    server_->attach(this);
    server_->take_rows();  // rows counted for a previous owner are not this client's
    return true;
}

awaitable<bool> Session::attach_server(int shard, bool report_with_ready) {
    const int plan = std::exchange(read_plan_, -1);
    if (server_ && server_fits(shard, plan)) co_return true;
    if (server_) {
        // A transaction spanning shards: the other shard joins it (session_txn.cpp).
        if (transaction_status() == 'T' && proxy_.config().transactions.two_phase_commit)
            co_return co_await join_shard(shard, report_with_ready);
        if (transaction_status() != 'I') {
            std::string msg = fmt::format(
                "this transaction runs on shard \"{}\" and the statement needs shard \"{}\"; a transaction "
                "cannot span shards in this version",
                server_->target().shard_name, proxy_.config().shards[shard].name);
            if (report_with_ready) co_await error_and_ready("0A000", msg, "commit first, or keep a transaction's statements on one shard key");
            else co_await send(std::string());
            co_return false;
        }
        // The previous request's replies are still coming: wait for its ReadyForQuery.
        while (server_ && server_->outstanding() > 0) co_await released_.wait();
        if (server_ && !server_fits(shard, plan)) release_server();
        if (server_) co_return true;
    }
    std::optional<PoolError> refused;
    if (proxy_.paused()) refused = co_await hold_while_paused(shard);  // session_pause.cpp
    Pool& pool = pool_for(shard, plan);
    auto wait_start = net::Clock::now();
    std::variant<std::shared_ptr<ServerConn>, PoolError> got = refused ? std::move(*refused) : PoolError{};
    if (!refused) got = co_await pool.acquire();
    pool_wait_ns_ += std::chrono::duration_cast<std::chrono::nanoseconds>(net::Clock::now() - wait_start).count();
    if (auto* err = std::get_if<PoolError>(&got)) {
        if (report_with_ready) co_await error_and_ready(err->sqlstate, err->message);
        else {
            std::string out;
            wire::MessageWriter w(out);
            wire::ErrorBuilder(wire::Severity::Error, err->sqlstate, err->message).encode_error(w);
            co_await send(out);
            skip_until_sync_ = true;
        }
        co_return false;
    }
    server_ = std::move(std::get<std::shared_ptr<ServerConn>>(got));
    server_pool_ = &pool;
    server_->attach(this);
    server_->take_rows();  // rows counted for a previous owner are not this client's
    if (server_->map_checked() != proxy_.map_generation()) co_return co_await check_map_stamp(report_with_ready);
    co_return true;
}

void Session::ensure_prepared(std::string& out, ServerConn& s, std::string_view name) {
    if (name.empty()) {
        if (unnamed_parse_.empty()) return;
        auto owner = std::make_pair(client_id_, unnamed_seq_);
        if (s.unnamed_owner() != owner) {
            out += unnamed_parse_;
            s.expect(ServerConn::Expect::ParseSwallow);
            s.unnamed_owner() = owner;
        }
        return;
    }
    auto it = statements_.find(std::string(name));
    if (it == statements_.end()) return;  // the shard reports the unknown statement
    if (s.prepared().insert(it->second.id).second) {
        out += it->second.parse_frame;
        s.expect(ServerConn::Expect::ParseSwallow);
    }
}

void Session::translate_into(std::string& out, ServerConn& s, char type, std::string_view frame) {
    std::string_view body = frame_body(frame);
    switch (type) {
        case 'P': {
            wire::Parse p;
            if (!wire::decode(bytes_of(body), p).ok()) break;
            s.expect(ServerConn::Expect::ParseForward);
            if (p.statement.empty()) {
                register_parse(frame, p);
                s.unnamed_owner() = {client_id_, unnamed_seq_};
                out.append(frame);
                return;
            }
            const ClientStatement& st = register_parse(frame, p);
            out += st.parse_frame;
            s.prepared().insert(st.id);
            return;
        }
        case 'B': {
            // portal\0 statement\0 ...
            const char* nul = static_cast<const char*>(std::memchr(body.data(), 0, body.size()));
            if (!nul) break;
            size_t off = size_t(nul - body.data()) + 1;
            const char* nul2 = static_cast<const char*>(std::memchr(body.data() + off, 0, body.size() - off));
            if (!nul2) break;
            std::string_view stmt(body.data() + off, size_t(nul2 - (body.data() + off)));
            ensure_prepared(out, s, stmt);
            auto it = stmt.empty() ? statements_.end() : statements_.find(std::string(stmt));
            if (it == statements_.end()) break;
            append_renamed(out, 'B', body, off, stmt, statement_server_name(it->second.id));
            return;
        }
        case 'D':
        case 'C': {
            if (body.size() < 2) break;
            if (type == 'C') s.expect(ServerConn::Expect::CloseForward);
            if (body[0] != 'S') break;
            std::string_view stmt(body.data() + 1, body.size() - 2);
            if (type == 'D') ensure_prepared(out, s, stmt);
            auto it = stmt.empty() ? statements_.end() : statements_.find(std::string(stmt));
            if (it == statements_.end()) break;
            append_renamed(out, type, body, 1, stmt, statement_server_name(it->second.id));
            if (type == 'C') {
                s.prepared().erase(it->second.id);
                statements_.erase(it);
            }
            return;
        }
        case 'S': s.expect(ServerConn::Expect::Ready); break;
        default: break;
    }
    out.append(frame);
}

awaitable<void> Session::flush_batch(bool sync) {
    if (batch_.empty()) co_return;
    // The batch leaves batch_ (messages read meanwhile start the next one); both buffers come
    // back when this flush ends.
    std::string batch = std::move(batch_);
    batch_ = std::move(batch_spare_);
    batch_.clear();
    Recycled keep_batch(batch, batch_spare_);
    if (skip_until_sync_) {
        // After an error the protocol discards everything up to Sync, which gets a ReadyForQuery.
        if (sync) {
            skip_until_sync_ = false;
            std::string out;
            out.append({'Z', 0, 0, 0, 5, transaction_status()});
            co_await send(out);
        }
        co_return;
    }
    // A lone unnamed statement with its Sync may be a lookup (translate_lookup_batch).
    const bool lookup_candidate = sync && batch_has_parse_ && proxy_.config().proxy.prepare_lookups &&
                                  pending_begin_.empty() && batch.size() > 5 && batch[0] == 'P' && batch[5] == 0;
    if (batch_has_parse_) {
        batch_has_parse_ = false;
        if (needs_column_lists(batch)) co_await add_column_lists(batch);
        if (sync && holdable_session_batch(batch)) {
            co_await hold_session_batch(batch);
            co_return;
        }
    }
    if (virtual_failed_ && !server_) {
        co_await answer_failed_transaction(batch, sync);
        co_return;
    }
    if (in_transaction()) {  // (no co_await inside && or ?:, which GCC 12 miscompiles)
        bool handled = co_await transaction_control_batch(batch, sync);
        if (handled) co_return;
    }  // session_txn.cpp
    std::vector<int>& bind_shards = bind_shards_;  // flush_batch is never re-entered (serve_loop awaits it)
    bind_shards.clear();
    int shard = co_await route_batch(batch, sync, bind_shards);
    if (shard == kSplitBatch) {
        co_await run_split_batch(batch, bind_shards);
        co_return;
    }
    if (shard == kInsertSplitBatch) {
        co_await run_insert_split(batch);
        co_return;
    }
    if (shard == kMergedBatch) {
        co_await run_merged_batch(batch, bind_shards);
        co_return;
    }
    if (shard == kFanoutBatch) {
        co_await wait_replies_out();
        release_server();
        std::vector<uint16_t> shards(bind_shards.begin(), bind_shards.end());
        if (state_ == SessionState::Ready) transition(SessionState::Busy);
        FanoutLegs::arm(fanout_legs_);  // taken by the fan-out at once (see fanout_legs.h)
        const bool atomic = txn::atomic_statement(proxy_.config(), analysis_of(batch_text_)->is_write, batch_text_);
        plan_read(analysis_of(batch_text_).get(), -1);  // a write: reads follow it to the primary
        std::string reply = co_await run_fanout_frames(
            proxy_, *user_, shards, settings_,
            [&](ServerConn& s) {
                std::string out;
                translate_frames(out, s, batch);
                return out;
            },
            atomic, &leg_stats_, router::writes_reference_table(*analysis_of(batch_text_)));
        stats_merged(batch_text_, batch_param_hash_, static_cast<uint32_t>(shards.size()), reply);
        forget_touched_buckets();
        if (state_ == SessionState::Busy) transition(SessionState::Ready);
        co_await send(reply);
        co_return;
    }
    if (shard < 0) co_return;
    {
        auto ba = batch_text_.empty() ? nullptr : analysis_of(batch_text_);
        note_transaction_write(!ba || ba->is_write || ba->kind != router::StatementKind::Select, shard);
        plan_read(ba.get(), shard);
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
    if (!lookup_candidate || !translate_lookup_batch(out, s, batch)) translate_frames(out, s, batch);
    // Messages sent without a Sync leave the shard expecting one: such a connection is not
    // reusable by anyone else until a Sync arrives.
    s.set_synced(sync);
    size_t sent = s.write_now(out);  // all of it, almost always: no write coroutine
    if (sent < out.size()) co_await s.write(std::string_view(out).substr(sent));
}

void Session::translate_frames(std::string& out, ServerConn& s, std::string_view frames) {
    size_t pos = 0;
    while (pos + 5 <= frames.size()) {
        size_t len = frame_length(frames, pos);
        std::string_view frame(frames.data() + pos, len + 1);
        if (frame[0] == 'E') {
            ++proxy_.counters().queries;
            s.count_query();
        }
        translate_into(out, s, frame[0], frame);
        pos += len + 1;
    }
}

awaitable<void> Session::run_insert_split(const std::string& batch) {
    InsertSplit& sp = insert_split_;
    // Register the client's Parse (it is not sent as is: each shard gets its own INSERT), and
    // find the statement's text and parameter types.
    size_t pos = 0;
    std::string bind_stmt_name;
    {
        wire::Bind b;
        if (wire::decode(bytes_of(sp.bind_body), b).ok()) bind_stmt_name = b.statement;
    }
    while (pos + 5 <= batch.size()) {
        size_t len = frame_length(batch, pos);
        std::string_view frame(batch.data() + pos, len + 1);
        pos += len + 1;
        if (frame[0] == 'D') sp.had_describe = true;
        if (frame[0] != 'P') continue;
        wire::Parse p;
        if (!wire::decode(bytes_of(frame_body(frame)), p).ok()) continue;
        sp.had_parse = true;
        register_parse(frame, p);
    }
    // The statement's text and types: from its Parse frame (this batch's or an earlier one).
    wire::Parse orig;
    if (!statement_parse(bind_stmt_name, orig)) {
        co_await error_and_ready("08P01", "the INSERT to split has no Parse the proxy knows of");
        co_return;
    }
    sp.query.assign(orig.query);
    sp.param_types = orig.param_types;
    wire::Bind bind;
    if (!wire::decode(bytes_of(sp.bind_body), bind).ok()) {
        co_await error_and_ready("08P01", "invalid Bind message");
        co_return;
    }
    // Per shard: Parse (unnamed) + Bind with its parameters + [Describe] + Execute + Sync.
    std::map<uint16_t, std::string> frames;
    for (const auto& part : sp.parts) {
        router::RenderedInsert ri = router::render_insert_subset(*sp.analysis, sp.query, part.rows);
        std::string out;
        wire::MessageWriter w(out);
        wire::Parse p;
        p.query = ri.sql;
        for (int old : ri.param_map)
            p.param_types.push_back(old - 1 < static_cast<int>(sp.param_types.size()) ? sp.param_types[old - 1] : 0);
        wire::encode(p, w);
        wire::Bind b;
        b.result_formats = bind.result_formats;
        for (int old : ri.param_map) {
            b.params.push_back(bind.params[old - 1]);
            b.param_formats.push_back(static_cast<int16_t>(bind.param_format(old - 1)));
        }
        wire::encode(b, w);
        if (sp.had_describe) wire::encode(wire::Describe{wire::Target::Portal, ""}, w);
        wire::encode(wire::Execute{"", 0}, w);
        w.empty_message('S');
        frames[part.shard] = std::move(out);
    }
    std::vector<uint16_t> shards;
    for (const auto& [shard, f] : frames) shards.push_back(shard);
    co_await wait_replies_out();
    release_server();
    if (state_ == SessionState::Ready) transition(SessionState::Busy);
    FanoutLegs::arm(fanout_legs_);  // taken by the fan-out at once (see fanout_legs.h)
    std::string reply = co_await run_fanout_frames(
        proxy_, *user_, shards, settings_,
        [&](ServerConn& s) {
            const std::string& f = frames[static_cast<uint16_t>(s.target().shard)];
            // Mirror the replies the shard owes for these frames: Parse, Sync.
            s.expect(ServerConn::Expect::ParseForward);
            s.expect(ServerConn::Expect::Ready);
            s.unnamed_owner() = {0, 0};
            return f;
        },
        txn::atomic_writes(proxy_.config()), &leg_stats_);
    if (!sp.had_parse && !reply.empty() && reply[0] == '1') reply.erase(0, 5);  // the client sent no Parse
    if (sp.analysis->returning) reply = returning_in_values_order(reply, sp.parts);  // parts: in shard order
    stats_merged(sp.query, batch_param_hash_, static_cast<uint32_t>(shards.size()), reply);
    forget_touched_buckets();
    if (state_ == SessionState::Busy) transition(SessionState::Ready);
    co_await send(reply);
}

awaitable<void> Session::run_merged_batch(const std::string& batch, const std::vector<int>& bind_shards) {
    auto analysis = std::move(merged_analysis_);
    const router::Analysis& a = *analysis;
    const router::Analysis::MergePlan& plan = *a.merge;
    // The client's messages: statements it defines are registered as usual; the shards run
    // their own unnamed statement instead.
    wire::Bind bind;
    std::string bind_body;
    bool describe_statement = false;
    size_t pos = 0;
    while (pos + 5 <= batch.size()) {
        size_t len = frame_length(batch, pos);
        std::string_view frame(batch.data() + pos, len + 1);
        pos += len + 1;
        std::string_view body = frame_body(frame);
        if (frame[0] == 'P') {
            wire::Parse p;
            if (wire::decode(bytes_of(body), p).ok()) register_parse(frame, p);
        } else if (frame[0] == 'B') {
            bind_body.assign(body);
        } else if (frame[0] == 'D' && !body.empty() && body[0] == 'S') {
            describe_statement = true;
        } else if (frame[0] == 'E') {
            wire::Execute e;
            if (wire::decode(bytes_of(body), e).ok() && e.max_rows != 0) {
                co_await error_and_ready("0A000", "a statement combined across shards is read whole: Execute with a row "
                                                  "limit (a cursor's fetch size) is not supported; run it in one fetch");
                co_return;
            }
        } else if (frame[0] == 'C' && body.size() >= 2 && body[0] == 'S') {
            // Closed here; the shards' copies of it go with their connections.
            statements_.erase(std::string(body.substr(1, body.size() - 2)));
        }
    }
    if (!wire::decode(bytes_of(bind_body), bind).ok()) {
        co_await error_and_ready("08P01", "invalid Bind message");
        co_return;
    }
    wire::Parse orig;
    if (!statement_parse(bind.statement, orig)) {
        co_await error_and_ready("26000", "the statement to combine across shards has no Parse the proxy knows of");
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
            if (p.param_types[n - 1] == 0) p.param_types[n - 1] = 20;  // int8
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
    std::vector<uint16_t> shards(bind_shards.begin(), bind_shards.end());
    co_await wait_replies_out();
    release_server();
    if (state_ == SessionState::Ready) transition(SessionState::Busy);
    FanoutLegs::arm(fanout_legs_);  // taken by the fan-out at once (see fanout_legs.h)
    std::string reply = co_await run_fanout_frames(proxy_, *user_, shards, settings_, [&](ServerConn& s) {
        s.expect(ServerConn::Expect::ParseForward);
        s.expect(ServerConn::Expect::Ready);
        s.unnamed_owner() = {0, 0};
        return frames;
    }, false, &leg_stats_);
    forget_touched_buckets();
    // The first shard's answers to Describe (statement), then the rows of every shard.
    std::string param_description, statement_description, notices;
    ShardRows in;
    bool failed = false, seen_bind = false;
    std::string rows_part;
    pos = 0;
    while (pos + 5 <= reply.size()) {
        size_t total = frame_length(reply, pos) + 1;
        std::string_view frame(reply.data() + pos, total);
        pos += total;
        switch (frame[0]) {
            case 'E': failed = true; break;
            case 'N': notices.append(frame); break;
            case 't': param_description.assign(frame); break;
            case 'n': if (!seen_bind) statement_description.assign(frame); break;
            case '2': seen_bind = true; break;
            case 'T':
                if (!seen_bind) statement_description.assign(frame);
                else rows_part.append(frame);
                break;
            case 'D': rows_part.append(frame); break;
            default: break;
        }
    }
    std::string out;
    if (failed || !read_shard_rows(rows_part, in)) {
        out = reply;  // a shard's error (with its ReadyForQuery), as it is
    } else {
        MergedRows m = co_await combine_rows(proxy_, *user_, settings_, bound ? *bound : a, in, bind.result_formats,
                                             shards.front(), &bind, &orig.param_types);
        out = std::move(notices);
        if (!m.error.empty()) {
            out += m.error;
        } else {
            // The client's statement description shows its own columns only: for aggregates,
            // those of the combined answer (an average is numeric where the shards' sums were
            // not), as a statement's description has them (text format).
            if (statement_description.size() > 5 && statement_description[0] == 'T' &&
                (!plan.aggregates.empty() || plan.hidden)) {
                const std::string& from = plan.aggregates.empty() ? statement_description : m.row_description;
                wire::RowDescription d;
                if (from.size() > 5 && wire::decode(wire::as_bytes(std::string_view(from).substr(5)), d).ok() &&
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
            for (size_t p3 = 0; p3 + 5 <= batch.size();) {
                size_t len = frame_length(batch, p3);
                char type = batch[p3];
                char target = len >= 5 ? batch[p3 + 5] : 0;
                p3 += len + 1;
                switch (type) {
                    case 'P': w.empty_message('1'); break;
                    case 'B': w.empty_message('2'); break;
                    case 'D':
                        if (target == 'S') out += param_description + statement_description;
                        else out += m.row_description;
                        break;
                    case 'E':
                        out += m.rows;
                        append_select_tag(out, m.count);
                        break;
                    case 'C': w.empty_message('3'); break;
                    default: break;
                }
            }
        }
        out.append({'Z', 0, 0, 0, 5, transaction_status()});
    }
    stats_merged(batch_text_, batch_param_hash_, static_cast<uint32_t>(shards.size()), out);  // a refusal counts as one
    if (state_ == SessionState::Busy) transition(SessionState::Ready);
    co_await send(out);
}

awaitable<void> Session::run_split_batch(const std::string& batch, const std::vector<int>& bind_shards) {
    // Cut the batch into pieces: a Bind opens a unit on its shard; what precedes a Bind
    // (Parse, Describe of a statement) travels with it; Execute/Describe/Close of the portal
    // stay with their Bind. Consecutive units on one shard form one piece.
    struct Piece {
        int shard;
        std::string frames;
    };
    std::vector<Piece> pieces;
    std::string pending, sync_frame;
    size_t pos = 0, bind_index = 0;
    while (pos + 5 <= batch.size()) {
        size_t len = frame_length(batch, pos);
        std::string_view frame(batch.data() + pos, len + 1);
        pos += len + 1;
        char type = frame[0];
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
        bool statement_level = type == 'P' || ((type == 'D' || type == 'C') && frame.size() > 5 && frame[5] == 'S');
        if (statement_level || pieces.empty()) pending.append(frame);
        else pieces.back().frames.append(frame);
    }
    if (!pending.empty()) pieces.back().frames += pending;

    if (!sync_frame.empty() && !in_transaction() && txn::atomic_writes(proxy_.config())) {
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
        s.add_quiet_query(out, settings_sync_query(s));
        translate_frames(out, s, pieces[i].frames);
        s.set_synced(true);  // every piece ends with a Sync
        if (last) {
            stats_sent(batch_text_, batch_param_hash_, nullptr, pieces[i].shard);
            translate_frames(out, s, sync_frame);
            co_await s.write(out);
            co_return;
        }
        out.append({'S', 0, 0, 0, 4});
        s.expect(ServerConn::Expect::SyncQuiet);
        split_piece_done_ = false;
        co_await s.write(out);
        while (!split_piece_done_ && server_) co_await released_.wait();
        if (split_error_ || !split_piece_done_) {
            // As PostgreSQL skips the rest of a failed batch, so do we; the client still gets
            // its one ReadyForQuery.
            co_await wait_replies_out();
            std::string rfq;
            rfq.append({'Z', 0, 0, 0, 5, transaction_status()});
            co_await send(rfq);
            if (state_ == SessionState::Busy && !server_) transition(SessionState::Ready);
            co_return;
        }
    }
}

awaitable<int> Session::route_batch(std::string_view batch, bool sync, std::vector<int>& bind_shards) {
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
    // A failed transaction accepts only its end: its shard answers as PostgreSQL does.
    if (server_ && server_->tx_status() == 'E') co_return server_->target().shard;
    int shard = -1;
    std::string shard_reason;
    // parsed_before: the refused Bind's offset when only Parse messages come before it: those
    // succeed first, as on a server (ParseComplete each, and the statements exist afterwards).
    auto refuse = [&](std::string_view sqlstate, const std::string& msg, size_t parsed_before = 0) -> awaitable<int> {
        co_await wait_replies_out();
        co_await abort_transaction_for_refusal(sqlstate, msg);
        if (sqlstate == "0A000") stats_refused({}, msg);
        std::string out;
        wire::MessageWriter w(out);
        if (parsed_before > 0) {
            bool only_parses = true;
            for (BatchFrames f{batch.substr(0, parsed_before)}; f.next();) only_parses = only_parses && f.type == 'P';
            for (BatchFrames f{batch.substr(0, parsed_before)}; only_parses && f.next();) {
                wire::Parse p;
                if (!wire::decode(bytes_of(f.body), p).ok()) break;
                register_parse(f.frame, p);
                wire::encode(wire::ParseComplete{}, w);
            }
        }
        wire::ErrorBuilder(wire::Severity::Error, sqlstate, msg).encode_error(w);
        ++proxy_.counters().errors;
        if (sync) out.append({'Z', 0, 0, 0, 5, transaction_status()});
        else skip_until_sync_ = true;
        co_await send(out);
        co_return -1;
    };
    size_t pos = 0;
    size_t binds_seen = 0;
    bool mixed = false;
    std::shared_ptr<const router::Analysis> first_parsed;
    std::string_view first_parsed_text;
    while (pos + 5 <= batch.size()) {
        size_t len = frame_length(batch, pos);
        char type = batch[pos];
        std::string_view body = batch.substr(pos + 5, len - 4);
        pos += len + 1;
        if (type == 'P') {
            wire::Parse p;
            if (!wire::decode(bytes_of(body), p).ok()) co_return co_await refuse("08P01", "invalid Parse message");
            if (auto refusal = co_await risky_function_refusal(p.query))
                co_return co_await refuse(refusal->sqlstate, refusal->message);
            auto a = analysis_of(p.query);
            parsed.push_back({p.statement, a, p.query, std::move(p.param_types)});
            if (!first_parsed) {
                first_parsed = a;
                first_parsed_text = p.query;
            }
            continue;
        }
        if (type != 'B') continue;
        const size_t bind_at = pos - (len + 1);
        ++binds_seen;
        size_t bind_index = binds_seen - 1;
        bind_shards.resize(binds_seen, -1);
        wire::Bind& b = bind_scratch_;  // decoding reuses its vectors
        if (!wire::decode(bytes_of(body), b).ok()) co_return co_await refuse("08P01", "invalid Bind message");
        const Parsed* it = find_parsed(b.statement);
        auto a = it ? it->analysis : statement_analysis(b.statement);
        if (binds_seen == 1) {
            if (it) batch_text_.assign(it->text);
            else if (b.statement.empty()) batch_text_ = unnamed_query_;
            else if (auto st = statements_.find(std::string(b.statement)); st != statements_.end())
                batch_text_ = st->second.query;
            batch_param_hash_ = stats::text_hash(body);
        }
        if (!a) continue;  // unknown statement: the shard reports it
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
        const bool may_merge = a->merge && sync && !in_transaction() && binds_seen == 1 && count_frames(batch, 'B') == 1;
        const router::RouterContext ctx = may_merge ? merging_context() : router_context();
        router::Route r = router::route(*a, params, proxy_.shard_map(), ctx);
        using K = router::Route::Kind;
        if (r.kind == K::Error) co_return co_await refuse(r.error.sqlstate, r.error.message, bind_at);
        if (r.kind == K::Local || r.kind == K::Session) continue;
        if (r.any_shard) continue;  // goes with the batch's other statements, or where the session is
        bool held = false;
        if (!touch_buckets_unless_paused(*a, r)) held = co_await hold_for_paused_buckets(*a, r);
        if (held) r = router::route(*a, params, proxy_.shard_map(), ctx);
        if (r.kind == K::Error) co_return co_await refuse(r.error.sqlstate, r.error.message, bind_at);
        if (r.shards.size() != 1) {
            // One statement on several shards: run it on each and merge, when it is the batch's
            // only statement and no transaction is open; a split INSERT needs the simple protocol.
            bool only_bind = binds_seen == 1 && count_frames(batch, 'B') == 1;
            if (in_transaction())
                co_return co_await refuse(
                    "0A000", fmt::format("this statement touches {} shards and a transaction is open; a transaction "
                                         "cannot span shards in this version",
                                         r.shards.size()));
            if (!only_bind || !sync)
                co_return co_await refuse(
                    "0A000", fmt::format("this statement needs {} shards; send it alone before a Sync (or with the "
                                         "simple protocol)",
                                         r.shards.size()));
            if (r.insert_rows.size() > 1) {
                insert_split_ = InsertSplit{};
                insert_split_.analysis = a;
                insert_split_.bind_body.assign(body);
                insert_split_.parts = r.insert_rows;
                co_return kInsertSplitBatch;
            }
            bind_shards.assign(r.shards.begin(), r.shards.end());
            if (may_merge && r.insert_rows.empty()) {
                merged_analysis_ = a;
                co_return kMergedBatch;
            }
            co_return kFanoutBatch;
        }
        int target = r.shards.front();
        bind_shards.resize(bind_index + 1, -1);
        bind_shards[bind_index] = target;
        if (shard >= 0 && shard != target) mixed = true;
        if (shard < 0) shard = target;
    }
    if (mixed) {
        // Autocommit batches (JDBC executeBatch, pipelines) are split per shard; each shard's
        // part commits on its own. Inside a transaction that would not be atomic: refuse.
        if (in_transaction() || !sync)
            co_return co_await refuse(
                "0A000", "the statements sent before one Sync target different shards and a transaction is open; "
                         "a transaction cannot span shards in this version");
        // Binds without a route of their own (session statements) go with the previous one.
        int last = shard;
        for (auto& b : bind_shards) {
            if (b < 0) b = last;
            last = b;
        }
        co_return kSplitBatch;
    }
    if (batch_text_.empty()) batch_text_.assign(first_parsed_text);  // a batch without Bind
    if (shard >= 0) co_return shard;
    if (server_) co_return server_->target().shard;
    // No Bind (Parse/Describe only): where the text alone points, else the default shard.
    if (first_parsed) {
        router::Route r = router::route(*first_parsed, {}, proxy_.shard_map(), router_context());
        if (r.kind != router::Route::Kind::Error && r.shards.size() == 1) co_return r.shards.front();
    }
    co_return proxy_.config().default_shard_index();
}

// A statement every shard answers alike (no table, a reference-table read) runs where the
// session already is inside a transaction (it must), and a cursor's FETCH where the cursor is.
// Otherwise on the default shard, as on one PostgreSQL: in session pooling a server stays
// attached between transactions, and NOTIFY, nextval() or a pg_stat_activity read must not
// depend on which shard the session used last.
int Session::route_target(const router::Route& r, bool uses_cursor) const {
    if (r.any_shard && server_ && (uses_cursor || transaction_status() != 'I')) return server_->target().shard;
    return r.shards.front();
}

void Session::note_simple_query_sent(ServerConn& s, int shard, std::string_view sql, std::string_view stats_text) {
    stats_sent(stats_text.empty() ? sql : stats_text, stats::text_hash(sql), used_shape_ ? &shape_.values : nullptr,
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
    // A SET counts once the server accepted it (at its ReadyForQuery), with transaction semantics.
    settings_tracker_.sent(sql, s.outstanding(), in_transaction());
    std::string out;
    const bool prelude = add_prelude(out, s);
    // The simple query destroys the unnamed statement on that server.
    s.unnamed_owner() = {0, 0};
    if (drops_prepared_statements(sql)) {
        s.prepared().clear();
        s.lookups_prepared() = 0;
    }
    s.expect(ServerConn::Expect::Ready);
    if (!prelude) {
        size_t sent = s.write_now(frame);  // all of it, almost always: no write coroutine
        if (sent < frame.size()) co_await s.write(frame.substr(sent));
        co_return;
    }
    out.append(frame);
    co_await s.write(out);
}

namespace {

// Looks up the unique columns of a table in the background and records them in the registry
// (by value: the session that asked may be gone when this ends).
awaitable<void> read_unique_columns(Proxy& proxy, ServerTarget target, std::string table_key, std::string name,
                                    std::string settings) {
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

PreparedLookups::Statement* Session::lookup_statement(const router::Analysis& a, std::string_view text,
                                                     const std::vector<uint32_t>& types) {
    if (!a.simple_lookup || a.kind != router::StatementKind::Select || !proxy_.config().proxy.prepare_lookups)
        return nullptr;
    // Outside transactions only: a prepared statement whose table changed under it fails where
    // the text would not (PostgreSQL: "cached plan must not change result type"), and such a
    // failure must not abort a client's transaction.
    if (transaction_status() != 'I' || !pending_begin_.empty() || virtual_failed_) return nullptr;
    auto path = settings_.find("search_path");
    std::string_view search_path = path == settings_.end() ? std::string_view() : std::string_view(path->second);
    PreparedLookups& lookups = proxy_.lookups();
    PreparedLookups::Statement* st = lookups.find(text, types, search_path);
    if (!st) {
        st = lookups.add(text, types, search_path,
                         PreparedLookups::table_key(a.simple_lookup->schema, a.simple_lookup->table, search_path));
        if (!st) return nullptr;
    }
    PreparedLookups::Table& t = lookups.table(st->table_key);
    // Read on first use and again every kRecheck (also after a failed read: a shard that is
    // down is not asked again on every lookup).
    if (!t.fetching && (t.read_at == net::Clock::time_point{} || net::coarse_now() - t.read_at > PreparedLookups::kRecheck)) {
        t.fetching = true;
        const ServerTarget& target = proxy_.pool(proxy_.config().default_shard_index(), *user_).target();
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
        if (shape_.types[i] == 0 && (!quoted_key_ok || a.simple_lookup->columns[i] != a.table_config->shard_key))
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
            case 'P': slot = &parse; break;
            case 'B': slot = &bind; break;
            case 'D':
                slot = &describe;
                describe_first = bind.empty();
                break;
            case 'E': slot = &execute; break;
            case 'S': synced = true; continue;
            default: return false;
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
    if (!nul || size_t(nul - bind_body.data()) + 1 >= bind_body.size() || nul[1] != 0) return false;  // of ""
    const size_t stmt_at = size_t(nul - bind_body.data()) + 1;
    std::string_view describe_body = describe.empty() ? std::string_view() : frame_body(describe);
    if (!describe.empty() && (describe_body.size() != 2 || describe_body[1] != 0)) return false;  // "" only
    auto a = analysis_of(p.query);
    PreparedLookups::Statement* st = lookup_statement(*a, p.query, p.param_types);
    if (!st) return false;

    const uint64_t id = st->id;
    const bool prepared = s.prepared().count(id) > 0;
    if (!prepared && s.lookups_prepared() >= PreparedLookups::kMaxPerServer) return false;
    register_parse(parse, p);  // the client's unnamed statement, re-prepared if a later Bind needs it
    const std::string sname = statement_server_name(id);
    if (prepared) {
        s.expect(ServerConn::Expect::ParseSynthesize);  // the client's ParseComplete, from the proxy
    } else {
        wire::Parse renamed = p;
        renamed.statement = sname;
        wire::MessageWriter w(out);
        wire::encode(renamed, w);
        s.expect(ServerConn::Expect::ParseForward);
        s.prepared().insert(id);
        ++s.lookups_prepared();
    }
    auto append_describe = [&] {
        if (describe.empty()) return;
        if (describe_body[0] == 'S') append_renamed(out, 'D', describe_body, 1, "", sname);
        else out.append(describe);
    };
    if (describe_first) append_describe();
    append_renamed(out, 'B', bind_body, stmt_at, "", sname);
    if (!describe_first) append_describe();
    out.append(execute);
    out.append({'S', 0, 0, 0, 4});
    s.expect(ServerConn::Expect::Ready);
    lookups_unconfirmed_.emplace_back(st, id);
    ++proxy_.counters().lookups_prepared;
    return true;
}

awaitable<void> Session::send_lookup(int shard, PreparedLookups::Statement& st, std::string_view frame,
                                     std::string_view sql) {
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
        // This connection holds enough of them: the text runs as it came.
        co_await send_to_shard(shard, frame, sql, shape_.text);
        co_return;
    }
    note_simple_query_sent(s, shard, sql, shape_.text);
    std::string& out = lookup_out_;
    out.clear();
    add_prelude(out, s);
    const std::string name = statement_server_name(id);
    wire::MessageWriter w(out);
    if (!prepared) {
        wire::encode(wire::Parse{name, shape_.text, shape_.types}, w);
        s.expect(ServerConn::Expect::ParseSwallow);
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
    wire::encode(b, w);
    s.expect(ServerConn::Expect::BindSwallow);
    wire::encode(wire::Describe{wire::Target::Portal, {}}, w);  // the simple protocol's RowDescription
    wire::encode(wire::Execute{}, w);
    wire::encode(wire::Sync{}, w);
    s.expect(ServerConn::Expect::Ready);
    lookups_unconfirmed_.emplace_back(&st, id);
    ++proxy_.counters().lookups_prepared;
    size_t sent = s.write_now(out);
    if (sent < out.size()) co_await s.write(std::string_view(out).substr(sent));
}

awaitable<void> Session::handle_local(const router::Analysis& a) {
    co_await wait_replies_out();
    std::string out;
    wire::MessageWriter w(out);
    using SK = router::StatementKind;
    if (a.kind == SK::SetShard) {
        forced_shard_ = a.session_shard;
        w.begin('C');
        w.cstr("SET");
        w.end();
    } else if (a.kind == SK::ResetShard) {
        forced_shard_.clear();
        w.begin('C');
        w.cstr("RESET");
        w.end();
    } else {  // SHOW shardgate.shard
        w.begin('T');
        w.i16(1);
        w.cstr("shardgate.shard");
        w.i32(0);
        w.i16(0);
        w.i32(25);
        w.i16(-1);
        w.i32(-1);
        w.i16(0);
        w.end();
        w.begin('D');
        w.i16(1);
        w.i32(static_cast<int32_t>(forced_shard_.size()));
        w.bytes(forced_shard_);
        w.end();
        w.begin('C');
        w.cstr("SHOW");
        w.end();
    }
    out.append({'Z', 0, 0, 0, 5, transaction_status()});
    co_await send(out);
}

// An extended-protocol batch holding only BEGIN and SET LOCAL, all unnamed and without
// parameters (JDBC with autocommit off sends its BEGIN along with the first statement, so a
// first `SET LOCAL` comes as [BEGIN, SET LOCAL, Sync]): answered here and held back with the
// transaction, as in the simple protocol, instead of settling it on the default shard.
// holdable_session_batch() tells such a batch (no side effects, no coroutine: every extended
// batch with a Parse asks); hold_session_batch() answers it.
bool Session::holdable_session_batch(std::string_view batch) {
    if (server_ || virtual_failed_ || !forced_shard_.empty()) return false;
    using SK = router::StatementKind;
    std::shared_ptr<const router::Analysis> current;
    bool in_tx = !pending_begin_.empty();
    for (BatchFrames f{batch}; f.next();) {
        std::string_view body = f.body;
        switch (f.type) {
            case 'P': {
                wire::Parse p;
                if (!wire::decode(bytes_of(body), p).ok() || !p.statement.empty()) return false;
                current = analysis_of(p.query);
                if (current->kind != SK::Begin && !(current->kind == SK::Set && current->set_local)) return false;
                break;
            }
            case 'B': {
                wire::Bind& b = bind_scratch_;
                if (!current || !wire::decode(bytes_of(body), b).ok() || !b.portal.empty() || !b.statement.empty() ||
                    !b.params.empty())
                    return false;
                break;
            }
            case 'D':
                if (body.size() != 2 || (body[0] != 'P' && body[0] != 'S') || body[1] != 0) return false;
                break;
            case 'E':
                if (!current || body.empty() || body[0] != 0) return false;
                // BEGIN inside a transaction and SET LOCAL outside one only warn in PostgreSQL:
                // leave those to it.
                if ((current->kind == SK::Begin) == in_tx) return false;
                in_tx = true;
                break;
            case 'S': break;
            default: return false;
        }
    }
    return true;
}

awaitable<void> Session::hold_session_batch(std::string_view batch) {
    using SK = router::StatementKind;
    std::shared_ptr<const router::Analysis> current;
    // Second pass: answer every message, hold the statements.
    co_await wait_replies_out();
    std::string out;
    wire::MessageWriter w(out);
    std::string_view current_sql;
    for (BatchFrames f{batch}; f.next();) {
        const char type = f.type;
        std::string_view frame = f.frame, body = f.body;
        if (skip_until_sync_ && type != 'S') continue;
        switch (type) {
            case 'P': {
                wire::Parse p;
                (void)wire::decode(bytes_of(body), p);
                register_parse(frame, p);  // the client's unnamed statement is this one now
                current = unnamed_analysis_;
                current_sql = unnamed_query_;
                acknowledge(type, body, w);
                break;
            }
            case 'B':
            case 'D': acknowledge(type, body, w); break;
            case 'E': {
                if (current->kind == SK::Begin) {
                    if (!in_transaction()) begin_transaction(current_sql);
                    pending_begin_.assign(current_sql);
                    wire::encode(wire::CommandComplete{"BEGIN"}, w);
                    break;
                }
                std::string error = co_await check_set_local(current_sql);  // (not in an if: GCC 12)
                if (!error.empty()) {
                    out += error;
                    virtual_failed_ = true;
                    skip_until_sync_ = true;
                    break;
                }
                hold_with_begin(current_sql);
                wire::encode(wire::CommandComplete{"SET"}, w);
                break;
            }
            case 'S':
                skip_until_sync_ = false;
                out.append({'Z', 0, 0, 0, 5, transaction_status()});
                break;
        }
    }
    co_await send(out);
}

// The held-back transaction failed before reaching a shard: as in PostgreSQL, only its end
// (COMMIT or ROLLBACK, which roll it back) is accepted; anything else gets 25P02 and the rest of
// the batch is skipped until Sync.
awaitable<void> Session::answer_failed_transaction(std::string_view batch, bool sync) {
    co_await wait_replies_out();
    using SK = router::StatementKind;
    std::string out;
    wire::MessageWriter w(out);
    std::shared_ptr<const router::Analysis> current = unnamed_analysis_;
    auto ends = [&](const std::shared_ptr<const router::Analysis>& a) {
        return a && (a->kind == SK::Commit || a->kind == SK::Rollback);
    };
    auto reject = [&] {
        wire::ErrorBuilder(wire::Severity::Error, "25P02",
                           "current transaction is aborted, commands ignored until end of transaction block")
            .encode_error(w);
        ++proxy_.counters().errors;
        skip_until_sync_ = true;
    };
    for (BatchFrames f{batch}; f.next();) {
        const char type = f.type;
        std::string_view frame = f.frame, body = f.body;
        if (skip_until_sync_ && type != 'S') continue;
        switch (type) {
            case 'P': {
                wire::Parse p;
                if (!wire::decode(bytes_of(body), p).ok() || !ends(analysis_of(p.query))) {
                    reject();
                    break;
                }
                register_parse(frame, p);
                current = p.statement.empty() ? unnamed_analysis_ : statement_analysis(p.statement);
                acknowledge(type, body, w);
                break;
            }
            case 'B': {
                wire::Bind& b = bind_scratch_;
                if (!wire::decode(bytes_of(body), b).ok()) {
                    reject();
                    break;
                }
                current = b.statement.empty() ? unnamed_analysis_ : statement_analysis(b.statement);
                if (!ends(current)) {
                    reject();
                    break;
                }
                acknowledge(type, body, w);
                break;
            }
            case 'D': acknowledge(type, body, w); break;
            case 'E':
                if (!ends(current)) {
                    reject();
                    break;
                }
                pending_begin_.clear();
                virtual_failed_ = false;
                wire::encode(wire::CommandComplete{"ROLLBACK"}, w);
                break;
            case 'S':
                skip_until_sync_ = false;
                out.append({'Z', 0, 0, 0, 5, transaction_status()});
                break;
            default:  // Close, Flush: nothing to say
                break;
        }
    }
    if (!sync && out.empty()) co_return;
    co_await send(out);
}

// PostgreSQL's ErrorResponse for `sql` (a SET LOCAL) run on the default shard outside any
// transaction, where it only validates the setting; empty when it is valid.
awaitable<std::string> Session::check_set_local(std::string_view sql) {
    std::vector<ShardQuery> check{{static_cast<uint16_t>(proxy_.config().default_shard_index()), std::string(sql)}};
    std::string reply = co_await run_fanout(proxy_, *user_, check, settings_);
    for (size_t pos = 0; pos < reply.size();) {
        auto st = wire::parse_frame(wire::as_bytes(std::string_view(reply).substr(pos)));
        auto* f = std::get_if<wire::Frame>(&st);
        if (!f) break;
        if (f->type == 'E') {
            ++proxy_.counters().errors;
            co_return reply.substr(pos, f->size);
        }
        pos += f->size;
    }
    co_return std::string();
}

void Session::hold_with_begin(std::string_view sql) {
    pending_begin_ += "\n;\n";  // the newlines end a trailing -- comment of either text
    pending_begin_ += sql;
    pending_begin_ += '\n';
}

// SET LOCAL while the BEGIN is held back (`BEGIN; SET LOCAL app.tenant = '7'; SELECT ... WHERE
// key = ...`): sending it would settle the transaction on the default shard. It is checked there
// instead, outside any transaction (PostgreSQL validates the setting, warns and changes
// nothing), and held with the BEGIN for the shard the transaction's first statement needs.
awaitable<void> Session::hold_set_local(std::string_view sql) {
    co_await wait_replies_out();
    std::string out = co_await check_set_local(sql);  // the client sees PostgreSQL's error
    if (!out.empty()) {
        virtual_failed_ = true;  // as PostgreSQL: the transaction is aborted
    } else {
        hold_with_begin(sql);
        wire::MessageWriter w(out);
        wire::encode(wire::CommandComplete{"SET"}, w);
    }
    out.append({'Z', 0, 0, 0, 5, transaction_status()});
    co_await send(out);
}

awaitable<void> Session::handle_session_statement(const router::Analysis& a, std::string_view frame,
                                                  std::string_view sql) {
    using SK = router::StatementKind;
    const int default_shard = proxy_.config().default_shard_index();
    if (a.kind == SK::Begin && !in_transaction()) begin_transaction(sql);
    if (server_) {
        co_await send_to_shard(server_->target().shard, frame, sql);
        co_return;
    }
    auto local_reply = [&](std::string_view tag, char status) -> awaitable<void> {
        co_await wait_replies_out();
        std::string out;
        wire::MessageWriter w(out);
        w.begin('C');
        w.cstr(tag);
        w.end();
        out.append({'Z', 0, 0, 0, 5, status});
        co_await send(out);
    };
    switch (a.kind) {
        case SK::Begin:
            // Held back: the transaction's first statement decides which shard runs it.
            if (pending_begin_.empty()) pending_begin_.assign(sql);
            co_await local_reply("BEGIN", 'T');
            co_return;
        case SK::Set:
            if (a.set_local && !pending_begin_.empty() && forced_shard_.empty()) {
                co_await hold_set_local(sql);
                co_return;
            }
            break;
        case SK::Commit:
        case SK::Rollback:
            if (!pending_begin_.empty() && !a.is_write) {
                // Nothing ran: there is nothing to commit anywhere.
                pending_begin_.clear();
                co_await local_reply(a.kind == SK::Commit ? "COMMIT" : "ROLLBACK", 'I');
                co_return;
            }
            break;
        default: break;
    }
    int shard = default_shard;
    if (!forced_shard_.empty()) shard = std::max(0, proxy_.config().shard_index(forced_shard_));
    co_await send_to_shard(shard, frame, sql);
}

awaitable<router::Expected<std::vector<std::string>>> Session::missing_columns(const router::Analysis& a) {
    const std::string table = a.table;
    // Read from the default shard's catalog, with the client's settings (its search_path
    // decides which table an unqualified name means). Kept in this frame: the fetch holds them
    // by reference.
    const ServerTarget& target = proxy_.pool(proxy_.config().default_shard_index(), *user_).target();
    std::map<std::string, std::string> none;
    const std::string settings = settings_sync_statements(none, settings_);
    // COPY without a column list reads every stored column: read them now, not from the cache,
    // since a COPY's rows cannot tell that a column was added since.
    if (a.kind == router::StatementKind::Copy)
        co_return co_await fetch_table_columns(proxy_.io().get_executor(), target, table, settings, true);
    const uint32_t wanted = a.values_per_row;
    // The search_path is part of what is cached.
    auto path = settings_.find("search_path");
    const std::string key = table + '\0' + (path == settings_.end() ? std::string() : path->second);
    const std::vector<std::string>* known = proxy_.known_columns(key);
    if (!known || known->size() < wanted) {
        // Not known yet (or columns were added since): ask the default shard.
        auto fetched = co_await fetch_table_columns(proxy_.io().get_executor(), target, table, settings);
        if (!fetched) co_return fetched.error();
        proxy_.remember_columns(key, std::move(*fetched));
        known = proxy_.known_columns(key);
    }
    // As many columns as the longest row has values (PostgreSQL's positional rule); a row with
    // more values than the table has columns keeps PostgreSQL's own error.
    co_return std::vector<std::string>(known->begin(), known->begin() + std::min<size_t>(known->size(), wanted));
}

awaitable<void> Session::run_with_columns(const router::Analysis& a, std::string_view sql) {
    const uint32_t at = a.column_list_at;
    auto columns = co_await missing_columns(a);
    if (!columns) {
        co_await error_and_ready(columns.error().sqlstate, columns.error().message);
        co_return;
    }
    std::string rewritten = with_column_list(sql, at, *columns);
    std::string frame;
    wire::MessageWriter w(frame);
    w.begin('Q');
    w.cstr(rewritten);
    w.end();
    --proxy_.counters().queries;  // one client statement, counted again by handle_query
    co_await handle_query(frame, std::string_view(frame.data() + 5, rewritten.size()));
}

// Whether a Parse of the batch is an INSERT without a column list (add_column_lists' work):
// checked first so the common batch does not start that coroutine.
bool Session::needs_column_lists(std::string_view batch) {
    wire::Parse p;
    for (size_t pos = 0; pos + 5 <= batch.size();) {
        size_t len = frame_length(batch, pos);
        if (len < 4 || pos + len + 1 > batch.size()) return true;  // odd: let add_column_lists look
        if (batch[pos] == 'P' && wire::decode(bytes_of(batch.substr(pos + 5, len - 4)), p).ok()) {
            auto a = analysis_of(p.query);
            if (a->column_list_at > 0 && !a->table.empty()) return true;
        }
        pos += len + 1;
    }
    return false;
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

awaitable<void> Session::handle_query(std::string_view frame, std::string_view sql) {
    ++proxy_.counters().queries;
    query_text_ = sql;
    if (admin_) {
        co_await wait_replies_out();
        std::string out = co_await run_admin_command(proxy_, *this, sql);
        co_await send(out);
        co_return;
    }
    using K = router::Route::Kind;
    if (virtual_failed_ && !server_) {
        // The held-back transaction failed before reaching a shard: only its end is accepted.
        auto a = analysis_of(sql);
        if (a->kind == router::StatementKind::Commit || a->kind == router::StatementKind::Rollback) {
            pending_begin_.clear();
            virtual_failed_ = false;
            std::string out;
            wire::MessageWriter w(out);
            w.begin('C');
            w.cstr("ROLLBACK");
            w.end();
            out.append({'Z', 0, 0, 0, 5, 'I'});
            co_await send(out);
        } else {
            co_await error_and_ready("25P02", "current transaction is aborted, commands ignored until end of transaction block");
        }
        co_return;
    }
    if (in_transaction()) {  // (no co_await inside && or ?:, which GCC 12 miscompiles)
        bool handled = co_await transaction_control(sql);
        if (handled) co_return;
    }  // session_txn.cpp
    if (server_ && server_->tx_status() == 'E') {
        // A failed transaction accepts only its end, wherever the statement would go: the
        // transaction's shard gives PostgreSQL's own answer (25P02, or the ROLLBACK).
        co_await send_to_shard(server_->target().shard, frame, sql);
        co_return;
    }
    if (auto refusal = co_await risky_function_refusal(sql)) {
        co_await error_and_ready(refusal->sqlstate, refusal->message);
        co_return;
    }
    const SessionStateUse state_use = session_state_use(sql);
    const bool uses_cursor = state_use.kind == SessionStateUse::CursorOp;
    std::shared_ptr<const router::Analysis> analysis;
    router::Route r;
    used_shape_ = false;
    // Fast path: statements differing only in constants share one analysis (by their shape).
    if (router::extract_literals(sql, shape_)) {
        auto& cache = proxy_.statements();
        auto a = cache.find(shape_.text);
        if (!a) a = cache.get(shape_.text);
        using SK = router::StatementKind;
        if (!a->parse_error && (a->kind == SK::Select || a->kind == SK::Insert || a->kind == SK::Update ||
                                a->kind == SK::Delete)) {
            shape_params_.clear();
            for (const auto& v : shape_.values) shape_params_.push_back({false, router::ParamFormat::Text, v});
            r = router::route(*a, shape_params_, proxy_.shard_map(), router_context());
            if (r.kind == K::Single || r.kind == K::Default) {
                analysis = std::move(a);
                used_shape_ = true;
            }
        }
    }
    if (!analysis) {
        analysis = proxy_.statements().find(sql);
        if (!analysis) analysis = proxy_.statements().get(std::string(sql));
        r = router::route(*analysis, {}, proxy_.shard_map(), merging_context());
    }
    const router::Analysis& a = *analysis;
    if (state_use.kind != SessionStateUse::None && r.kind != K::Error) {  // (the router's refusal first)
        bool answered = co_await guard_session_state(state_use);  // (not in an if: GCC 12)
        if (answered) co_return;
    }
    bool held = false;
    if (r.kind != K::Error && r.kind != K::Local && r.kind != K::Session && !touch_buckets_unless_paused(a, r))
        held = co_await hold_for_paused_buckets(a, r);
    if (held)
        r = used_shape_ ? router::route(a, shape_params_, proxy_.shard_map(), router_context())
                        : router::route(a, {}, proxy_.shard_map(), merging_context());
    if (a.kind == router::StatementKind::Ddl) proxy_.forget_columns();  // may change a column order
    switch (r.kind) {
        case K::Error:
            if (a.column_list_at > 0 && !a.table.empty()) {
                co_await run_with_columns(a, sql);
                co_return;
            }
            co_await error_and_ready(r.error.sqlstate, r.error.message);
            co_return;
        case K::Local: co_await handle_local(a); co_return;
        case K::Session: co_await handle_session_statement(a, frame, sql); co_return;
        case K::Single:
        case K::Default:
            note_transaction_write(a.is_write || a.kind != router::StatementKind::Select, route_target(r));
            plan_read(&a, route_target(r, uses_cursor));
            if (used_shape_) {
                if (PreparedLookups::Statement* st = lookup_statement(a)) {
                    co_await send_lookup(route_target(r, uses_cursor), *st, frame, sql);
                    co_return;
                }
            }
            co_await send_to_shard(route_target(r, uses_cursor), frame, sql,
                                   used_shape_ ? std::string_view(shape_.text) : sql);
            co_return;
        case K::Multi:
        case K::All: break;
    }
    plan_read(&a, -1);  // a multi-shard write: reads follow it to the primary
    if (a.kind == router::StatementKind::Copy && a.is_write && a.copy && a.placement == router::Placement::Sharded) {
        co_await copy_in_split(a, sql);
        co_return;
    }
    if (r.shards.size() == 1 && r.insert_rows.size() <= 1) {
        co_await send_to_shard(r.shards.front(), frame, sql);
        co_return;
    }
    if (in_transaction()) {
        co_await error_and_ready(
            "0A000",
            fmt::format("this statement touches {} shards and a transaction is open; a statement on several "
                        "shards cannot run inside a transaction in this version",
                        r.shards.size()),
            "run it outside the transaction, or restrict it to one shard key");
        co_return;
    }
    co_await wait_replies_out();
    release_server();
    std::vector<ShardQuery> queries;
    if (!r.insert_rows.empty()) {
        for (const auto& part : r.insert_rows)
            queries.push_back({part.shard, router::render_insert_subset(a, sql, part.rows).sql});
    } else {
        const bool rewritten = a.merge && !a.merge->shard_sql.empty() && r.shards.size() > 1;
        for (uint16_t shard : r.shards) queries.push_back({shard, rewritten ? a.merge->shard_sql : std::string(sql)});
    }
    if (state_ == SessionState::Ready) transition(SessionState::Busy);
    // A reference table is written on every shard, but it is one table: report one copy's result.
    bool replicated = a.placement == router::Placement::Reference;
    FanoutLegs::arm(fanout_legs_);  // taken by the fan-out at once (see fanout_legs.h)
    std::string reply = co_await run_fanout(proxy_, *user_, queries, settings_, replicated,
                                            txn::atomic_statement(proxy_.config(), a.is_write, sql), &leg_stats_);
    if (a.returning && r.insert_rows.size() > 1) reply = returning_in_values_order(reply, r.insert_rows);
    if (a.merge && queries.size() > 1) reply = co_await merge_rows(a, reply, queries.front().shard);
    stats_merged(sql, stats::text_hash(sql), static_cast<uint32_t>(queries.size()), reply);  // after: refusals count
    forget_touched_buckets();
    if (state_ == SessionState::Busy) transition(SessionState::Ready);
    co_await send(reply);
}

awaitable<void> Session::copy_in_split(const router::Analysis& a, std::string_view sql) {
    if (in_transaction()) {
        co_await error_and_ready("0A000",
                                 "COPY into a sharded table writes to every shard and cannot run inside a "
                                 "transaction in this version",
                                 "run the COPY outside the transaction");
        co_return;
    }
    co_await wait_replies_out();
    release_server();
    if (state_ == SessionState::Ready) transition(SessionState::Busy);
    FanoutLegs::arm(fanout_legs_);  // taken by the fan-out at once (see fanout_legs.h)
    CopyFanout copy(proxy_, *user_);
    bool failed = false;
    std::string first = co_await copy.start(std::string(sql), settings_, failed);
    co_await send(first);
    if (failed) {
        transition(SessionState::Ready);
        co_return;
    }
    const auto& map = proxy_.shard_map();
    const auto& pcfg = proxy_.config().proxy;
    router::CopySplitter splitter(*a.copy);
    std::vector<router::CopyRow> rows;
    std::string error;  // a complete ErrorResponse once the data turned out bad
    auto place_rows = [&]() -> awaitable<void> {
        for (const auto& row : rows) {
            if (!error.empty()) break;
            if (row.header) {
                co_await copy.row_to_all(row.data);
                continue;
            }
            uint32_t bucket = 0;
            if (row.key) {
                auto key = router::canonical_from_text(a.key_type, *row.key);
                if (!key) {
                    wire::MessageWriter w(error);
                    wire::ErrorBuilder(wire::Severity::Error, key.error().sqlstate,
                                       fmt::format("COPY {}, row {}: shard key: {}", a.table, splitter.rows_seen(),
                                                   key.error().message))
                        .encode_error(w);
                    break;
                }
                bucket = router::bucket_of_key(*key, map.bucket_bits());
            }
            co_await copy.row(map.shard_of_bucket(bucket), row.data);
        }
        rows.clear();
    };
    auto abort_copy = [&](const std::string& why) -> awaitable<void> { co_await copy.finish(false, why); };
    for (;;) {
        auto st = wire::parse_frame(wire::as_bytes(std::string_view(cbuf_.data() + cstart_, clen_ - cstart_)),
                                    static_cast<size_t>(pcfg.max_message_bytes));
        if (std::holds_alternative<wire::NeedMore>(st)) {
            if (!co_await read_more()) {
                if (error.empty()) co_await abort_copy("client connection lost during COPY");
                co_return;
            }
            continue;
        }
        if (auto* bad = std::get_if<wire::Malformed>(&st)) {
            if (error.empty()) co_await abort_copy("client sent an invalid message during COPY");
            co_await fatal("08P01", fmt::format("invalid message from client during COPY: {}", bad->reason));
            closing_ = true;
            co_return;
        }
        const auto f = std::get<wire::Frame>(st);
        std::string_view body = wire::as_chars(f.body);
        cstart_ += f.size;
        if (f.type == 'd') {
            if (!error.empty()) continue;  // after an error the rest of the data is discarded
            if (auto s = splitter.feed(body, rows); !s) {
                wire::MessageWriter w(error);
                wire::ErrorBuilder(wire::Severity::Error, s.error().sqlstate,
                                   fmt::format("COPY {}: {}", a.table, s.error().message))
                    .encode_error(w);
            }
            co_await place_rows();
            if (!error.empty()) co_await abort_copy("invalid COPY data");
            continue;
        }
        if (f.type == 'c') {
            if (error.empty()) {
                if (auto s = splitter.finish(rows); !s) {
                    wire::MessageWriter w(error);
                    wire::ErrorBuilder(wire::Severity::Error, s.error().sqlstate,
                                       fmt::format("COPY {}: {}", a.table, s.error().message))
                        .encode_error(w);
                }
                co_await place_rows();
            }
            if (error.empty()) {
                std::string reply = co_await copy.finish(true, {});
                stats_merged(sql, stats::text_hash(sql), static_cast<uint32_t>(proxy_.config().shards.size()), reply);
                co_await send(reply);
            } else {
                co_await abort_copy("invalid COPY data");
                error.append({'Z', 0, 0, 0, 5, 'I'});
                co_await send(error);
            }
            break;
        }
        if (f.type == 'f') {
            wire::CopyFail cf;
            std::string why = wire::decode(f.body, cf).ok() ? std::string(cf.message) : "COPY failed";
            if (error.empty()) {
                std::string reply = co_await copy.finish(false, why);
                co_await send(reply);
            } else {
                error.append({'Z', 0, 0, 0, 5, 'I'});
                co_await send(error);
            }
            break;
        }
        if (f.type == 'H' || f.type == 'S') continue;  // ignored during COPY, as by PostgreSQL
        if (error.empty()) co_await abort_copy("unexpected message during COPY");
        co_await fatal("08P01", fmt::format("unexpected message type {} during COPY", describe_type(f.type)));
        closing_ = true;
        co_return;
    }
    forget_touched_buckets();
    if (state_ == SessionState::Busy) transition(SessionState::Ready);
}

awaitable<bool> Session::serve_loop() {
    const auto& pcfg = proxy_.config().proxy;
    for (;;) {
        if (closing_) co_return false;
        auto st = wire::parse_frame(wire::as_bytes(std::string_view(cbuf_.data() + cstart_, clen_ - cstart_)),
                                    static_cast<size_t>(pcfg.max_message_bytes));
        if (auto* need = std::get_if<wire::NeedMore>(&st)) {
            (void)need;
            if (cstart_ == clen_ && stream_.would_wait()) co_return true;  // idle: waited for by run()
            if (!co_await read_more()) co_return false;
            continue;
        }
        if (auto* bad = std::get_if<wire::Malformed>(&st)) {
            co_await fatal("08P01", fmt::format("invalid message from client: {}", bad->reason));
            co_return false;
        }
        const auto& f = std::get<wire::Frame>(st);
        std::string_view frame(cbuf_.data() + cstart_, f.size);
        const char type = f.type;
        switch (type) {
            case 'Q': {
                cstart_ += f.size;
                req_bytes_in_ = f.size;
                req_start_ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                    net::Clock::now().time_since_epoch()).count();
                if (!batch_.empty()) co_await flush_batch(false);
                std::string_view body = frame_body(frame);
                std::string_view sql(body.data(), body.empty() ? 0 : body.size() - 1);
                if (body.empty() || body.back() != '\0') {
                    co_await fatal("08P01", "invalid Query message: missing string terminator");
                    co_return false;
                }
                // The frame lives in cbuf_ until the next read; copy what must outlive it (into
                // a buffer kept for it: handle_query is never re-entered).
                query_copy_.assign(frame);
                co_await handle_query(query_copy_, std::string_view(query_copy_.data() + 5, sql.size()));
                if (query_copy_.capacity() > 64 * 1024) std::string().swap(query_copy_);  // idle sessions stay small
                break;
            }
            case 'P': case 'B': case 'D': case 'E': case 'C':
                if (admin_) {
                    cstart_ += f.size;
                    co_await fatal("0A000", "the admin console supports only the simple query protocol");
                    co_return false;
                }
                if (batch_.empty())
                    req_start_ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        net::Clock::now().time_since_epoch()).count();
                if (!skip_until_sync_) batch_.append(frame);
                if (type == 'P') batch_has_parse_ = true;
                req_bytes_in_ += f.size;
                cstart_ += f.size;
                break;
            case 'S':
                batch_.append(frame);
                cstart_ += f.size;
                co_await flush_batch(true);
                break;
            case 'H':
                batch_.append(frame);
                cstart_ += f.size;
                co_await flush_batch(false);
                break;
            case 'd': case 'c': case 'f': {
                // COPY data: stream every consecutive copy message to the attached shard at once.
                size_t start = cstart_;
                cstart_ += f.size;
                for (;;) {
                    auto more = wire::parse_frame(wire::as_bytes(std::string_view(cbuf_.data() + cstart_, clen_ - cstart_)),
                                                  static_cast<size_t>(pcfg.max_message_bytes));
                    auto* mf = std::get_if<wire::Frame>(&more);
                    if (!mf || (mf->type != 'd' && mf->type != 'c' && mf->type != 'f')) break;
                    cstart_ += mf->size;
                }
                if (server_) {
                    std::string chunk(cbuf_.data() + start, cstart_ - start);
                    co_await server_->write(chunk);
                }
                break;
            }
            case 'F': {
                // FunctionCall (libpq's PQfn: large objects, lo_import/lo_export). The proxy
                // cannot see which tables the function touches: it runs where the session is
                // (its transaction's shard, SET shardgate.shard) or on the default shard.
                cstart_ += f.size;
                if (admin_) {
                    co_await fatal("0A000", "the admin console supports only the simple query protocol");
                    co_return false;
                }
                if (!batch_.empty()) co_await flush_batch(false);
                req_bytes_in_ = f.size;
                req_start_ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                    net::Clock::now().time_since_epoch()).count();
                ++proxy_.counters().queries;
                std::string copy(frame);
                int shard = proxy_.config().default_shard_index();
                if (server_) {
                    shard = server_->target().shard;
                } else if (!forced_shard_.empty()) {
                    int idx = proxy_.shard_map().shard_index(forced_shard_);
                    if (idx >= 0) shard = idx;
                }
                used_shape_ = false;
                co_await send_to_shard(shard, copy, "<function call>");
                break;
            }
            case 'X':
                cstart_ += f.size;
                co_return false;
            default:
                cstart_ += f.size;
                co_await fatal("08P01", fmt::format("unsupported frontend message type {}", describe_type(type)));
                co_return false;
        }
    }
}

}  // namespace sg::proxy
