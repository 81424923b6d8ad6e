// Transactions spanning shards (issue 18): BEGIN; statements on several shards; COMMIT.
//
// The session's attached server runs the current statement. When a statement of an open
// transaction routes to another shard, the attached server is parked (connection held,
// transaction open) and the other shard's connection joins: taken from the pool (a bounded
// wait: pool_timeout_ms, so two transactions holding what the other needs end in an error, not
// a deadlock) and started with the client's BEGIN and the open savepoints. Savepoint commands
// apply to every participant. COMMIT ends it on every participant through the commit protocol
// (txn/coordinator.h: one plain COMMIT when at most one shard wrote, else two-phase commit);
// ROLLBACK, or COMMIT of a failed transaction, rolls back everywhere.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

#include "common/sqlstate.h"
#include "proxy/pool.h"
#include "proxy/proxy.h"
#include "proxy/session.h"
#include "proxy/txn/conn_participants.h"
#include "proxy/txn/coordinator.h"
#include "proxy/txn/held.h"
#include "proxy/wire/frame_cursor.h"
#include "proxy/wire/messages/command_complete.h"
#include "proxy/wire/messages/error_response.h"
#include "proxy/wire/messages/extended_query.h"
#include "proxy/wire/messages/extended_replies.h"
#include "proxy/wire/messages/session_status.h"
#include "proxy/wire/reader.h"
#include "proxy/wire/writer.h"

namespace sg::proxy {

namespace txn {

HeldTransaction::~HeldTransaction() {
    // A session that ends mid-transaction: its parked connections' transactions die with them.
    for (auto& m : parked)
        if (m.conn) m.conn->close("the client left a transaction spanning shards");
}

}  // namespace txn

namespace {

size_t length_at(std::string_view frames, size_t pos) {
    return wire::load_be32(frames.data() + pos + 1);
}

// PREPARE TRANSACTION / COMMIT PREPARED / ROLLBACK PREPARED: the client's own two-phase commit.
bool client_two_phase(std::string_view sql) {
    std::string head;
    for (char c : sql.substr(0, 64))
        head += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    auto pos = head.find_first_not_of(" \t\r\n");
    head = pos == std::string::npos ? std::string() : head.substr(pos);
    return head.rfind("PREPARE", 0) == 0 || head.find(" PREPARED") != std::string::npos;
}

// Whether `sql` may be COMMIT/END/ROLLBACK/ABORT/PREPARE or a savepoint command (false
// positives are fine: the analysis decides).
bool maybe_transaction_control(std::string_view sql) {
    size_t i = 0;
    while (i < sql.size() && std::isspace(static_cast<unsigned char>(sql[i]))) ++i;
    if (i < sql.size() && (sql[i] == '/' || sql[i] == '-' || sql[i] == '('))
        return true;  // comments: analyse
    char buf[10];     // the first word, lower case (no allocation: this runs per statement)
    size_t n = 0;
    while (i < sql.size() && std::isalpha(static_cast<unsigned char>(sql[i])) && n < sizeof buf)
        buf[n++] = static_cast<char>(std::tolower(static_cast<unsigned char>(sql[i++])));
    const std::string_view word(buf, n);
    return word == "commit" || word == "end" || word == "rollback" || word == "abort" ||
           word == "prepare" || word == "savepoint" || word == "release";
}

}  // namespace

bool Session::multi_shard() const {
    return held_ && !held_->parked.empty();
}

bool Session::held_failed() const {
    return held_ && held_->failed;
}

void Session::begin_transaction(std::string_view sql) {
    txn_begin_.assign(sql);
    txn_savepoints_.clear();
    txn_wrote_.clear();
    held_.reset();
}

void Session::note_transaction_write(bool writes, int shard) {
    if (writes && std::find(txn_wrote_.begin(), txn_wrote_.end(), shard) == txn_wrote_.end())
        txn_wrote_.push_back(shard);
}

awaitable<bool> Session::join_shard(int shard, bool report_with_ready) {
    auto refuse = [&](std::string_view sqlstate, const std::string& msg) -> awaitable<void> {
        if (report_with_ready) {
            co_await error_and_ready(sqlstate, msg);
        } else {
            std::string out;
            wire::MessageWriter w(out);
            wire::ErrorBuilder(wire::Severity::Error, sqlstate, msg).encode_error(w);
            co_await send(out);
            client_.skip_to_sync();
        }
    };
    while (server_ && server_->outstanding() > 0) co_await released_.wait();
    if (!server_ || server_->tx_status() != 'T') {
        co_await refuse(
            sqlstate::kInFailedSqlTransaction,
            "current transaction is aborted, commands ignored until end of transaction block");
        co_return false;
    }
    if (!held_) held_ = std::make_shared<txn::HeldTransaction>();
    auto parked_here =
        std::find_if(held_->parked.begin(), held_->parked.end(),
                     [&](const txn::HeldMember& m) { return m.conn->target().shard == shard; });
    const int max = proxy_.config().transactions.max_participants;
    const size_t participants =
        held_->parked.size() + 1 + (parked_here == held_->parked.end() ? 1 : 0);
    if (max > 0 && participants > static_cast<size_t>(max)) {
        held_->failed = true;
        co_await refuse(
            sqlstate::kFeatureNotSupported,
            fmt::format("this transaction would span {} shards, more than [transactions] "
                        "max_participants = {}",
                        participants, max));
        co_return false;
    }
    // Park the attached server; its transaction stays open.
    held_->parked.push_back({server_, server_pool_});
    server_->detach();
    server_.reset();
    server_pool_ = nullptr;
    for (auto it = held_->parked.begin(); it != held_->parked.end(); ++it) {
        if (it->conn->target().shard != shard) continue;
        txn::HeldMember m = std::move(*it);
        held_->parked.erase(it);
        server_ = std::move(m.conn);
        server_pool_ = m.pool;
        server_->attach(this);
        if (!server_->usable()) break;
        co_return true;
    }
    if (!server_) {
        Pool& pool = proxy_.pool(shard, *user_);
        auto wait_start = net::Clock::now();
        auto got = co_await pool.acquire();
        pool_wait_ns_ +=
            std::chrono::duration_cast<std::chrono::nanoseconds>(net::Clock::now() - wait_start)
                .count();
        if (auto* err = std::get_if<PoolError>(&got)) {
            // The transaction cannot go on without that shard: it fails, as PostgreSQL's does
            // after an error. The previous shard becomes the attached one again.
            held_->failed = true;
            txn::HeldMember back = std::move(held_->parked.back());
            held_->parked.pop_back();
            server_ = std::move(back.conn);
            server_pool_ = back.pool;
            server_->attach(this);
            co_await refuse(err->sqlstate,
                            fmt::format("joining shard \"{}\" to the transaction: {}",
                                        proxy_.config().shards[shard].name, err->message));
            co_return false;
        }
        server_ = std::move(std::get<std::shared_ptr<ServerConn>>(got));
        server_pool_ = &pool;
        server_->attach(this);
        server_->take_rows();
        // Sent quietly before the statement (add_prelude), like a held-back BEGIN.
        // (A BEGIN the client sent inside an extended batch was not seen apart: plain BEGIN.)
        begin_.prelude((txn_begin_.empty() ? std::string("BEGIN") : txn_begin_) +
                       txn_savepoints_.replay());
        co_return true;
    }
    co_await refuse(sqlstate::kConnectionFailure,
                    fmt::format("the connection to shard \"{}\" held by this transaction was lost",
                                proxy_.config().shards[shard].name));
    held_->failed = true;
    co_return false;
}

awaitable<bool> Session::savepoint_on_parked(std::string_view sql) {
    co_await wait_replies_out();
    std::vector<std::shared_ptr<ServerConn>> conns;
    for (const auto& m : held_->parked) conns.push_back(m.conn);
    std::vector<txn::StepOutcome> out;
    {
        txn::ConnParticipants p(proxy_.io().get_executor(), conns,
                                proxy_.config().transactions.step_timeout_ms);
        out = co_await p.step(std::vector<std::string>(conns.size(), std::string(sql)));
    }
    for (size_t i = 0; i < out.size(); ++i) {
        if (out[i].ok) continue;
        held_->failed = true;
        co_await error_and_ready(
            out[i].lost ? sqlstate::kConnectionFailure : out[i].sqlstate,
            fmt::format("shard \"{}\": {}", conns[i]->target().shard_name, out[i].message));
        co_return false;
    }
    co_return true;
}

awaitable<std::string> Session::end_multi_shard(bool commit) {
    co_await wait_replies_out();
    std::vector<std::shared_ptr<ServerConn>> conns;
    std::vector<Pool*> pools;
    if (server_) {
        conns.push_back(server_);
        pools.push_back(server_pool_);
    }
    for (auto& m : held_->parked) {
        conns.push_back(std::move(m.conn));
        pools.push_back(m.pool);
    }
    held_->parked.clear();
    bool failed = held_->failed;
    for (const auto& c : conns) failed = failed || !c->usable() || c->tx_status() != 'T';
    std::string reply;
    {
        wire::MessageWriter w(reply);
        txn::ConnParticipants p(proxy_.io().get_executor(), conns,
                                proxy_.config().transactions.step_timeout_ms);
        if (commit && !failed) {
            std::vector<bool> wrote;
            for (const auto& c : conns)
                wrote.push_back(std::find(txn_wrote_.begin(), txn_wrote_.end(),
                                          c->target().shard) != txn_wrote_.end());
            txn::CommitResult r = co_await proxy_.txn().commit(p, wrote);
            listen_transaction_ended(r.committed());  // after every shard's answer (2PC too)
            if (r.committed()) {
                wire::encode(wire::CommandComplete{"COMMIT"}, w);
            } else {
                wire::ErrorBuilder b(wire::Severity::Error, r.sqlstate, r.message);
                if (!r.detail.empty()) b.detail(r.detail);
                b.encode_error(w);
            }
        } else {
            co_await proxy_.txn().rollback(p);
            listen_transaction_ended(false);
            // What PostgreSQL answers to COMMIT of a failed transaction too.
            wire::encode(wire::CommandComplete{"ROLLBACK"}, w);
        }
    }
    // Every connection back where it belongs (a broken one is dropped by its pool).
    const bool keep_attached = proxy_.config().proxy.pool_mode == PoolMode::Session;
    for (size_t i = 0; i < conns.size(); ++i) {
        if (server_ && conns[i] == server_) {
            if (keep_attached && server_->usable())
                server_->attach(this);
            else
                release_server();
            continue;
        }
        if (pools[i])
            pools[i]->release(std::move(conns[i]));
        else
            conns[i]->close("no pool");
    }
    held_.reset();
    txn_begin_.clear();
    txn_savepoints_.clear();
    txn_wrote_.clear();
    begin_.clear();
    last_status_ = 'I';
    forget_touched_buckets();
    ++proxy_.counters().transactions;
    if (state_ == SessionState::Busy && !server_) transition(SessionState::Ready);
    co_return reply;
}

awaitable<bool> Session::transaction_control(std::string_view sql) {
    using SK = router::StatementKind;
    // Most statements of a transaction are none of these: a look at the first word spares
    // them the analysis lookup.
    if (!(held_ && held_->failed) && !maybe_transaction_control(sql)) co_return false;
    auto a = analysis_of(sql);
    if (a->kind == SK::Savepoint) {
        auto cmd = txn::parse_savepoint(sql);
        if (multi_shard()) {
            if (!co_await savepoint_on_parked(sql)) co_return true;
            if (cmd && cmd->kind == txn::SavepointCommand::Kind::RollbackTo) held_->failed = false;
        }
        if (cmd) {
            txn_savepoints_.apply(*cmd);
            if (held_ && cmd->kind == txn::SavepointCommand::Kind::RollbackTo)
                held_->failed = false;
        }
        co_return false;  // the attached shard runs it and answers
    }
    // Ours to end: a transaction with parked participants, or one the proxy failed (a shard it
    // could not join): its attached shard alone must not commit.
    if (!multi_shard() && !held_failed()) co_return false;
    if (a->kind == SK::Commit || a->kind == SK::Rollback) {
        if (client_two_phase(sql)) {
            co_await error_and_ready(
                sqlstate::kFeatureNotSupported,
                "PREPARE TRANSACTION of a transaction spanning shards is not supported; "
                "shardgate commits it atomically itself at COMMIT");
            co_return true;
        }
        std::string reply = co_await end_multi_shard(a->kind == SK::Commit);
        wire::append_ready_for_query(reply, 'I');
        co_await send(reply);
        co_return true;
    }
    if (held_->failed) {
        co_await error_and_ready(
            sqlstate::kInFailedSqlTransaction,
            "current transaction is aborted, commands ignored until end of transaction block");
        co_return true;
    }
    co_return false;
}

awaitable<bool> Session::transaction_control_batch(std::string_view batch, bool sync) {
    using SK = router::StatementKind;
    // The batch's one statement, if it has exactly one Bind: its text, a view of the batch or of
    // the stored statement (neither changes while this runs). Only the names are read, not the
    // parameters: most batches of a transaction are plain statements, on the hot path.
    std::string_view query;
    int binds = 0;
    std::string_view last_parse_name;
    bool parse_seen = false;
    for (size_t pos = 0; pos + 5 <= batch.size();) {
        size_t len = length_at(batch, pos);
        std::string_view frame(batch.data() + pos, len + 1);
        pos += len + 1;
        wire::BodyReader r(wire::as_bytes(frame.substr(5)));
        std::string_view first, second;  // Parse: statement, query; Bind: portal, statement
        if (frame[0] == 'P') {
            if (r.cstr(first) && r.cstr(second)) {
                query = second;
                last_parse_name = first;
                parse_seen = true;
            }
        } else if (frame[0] == 'B') {
            ++binds;
            if (r.cstr(first) && r.cstr(second) && !(parse_seen && second == last_parse_name))
                query = statement_text(second);
        }
    }
    auto a = binds == 1 && !query.empty() && maybe_transaction_control(query) ? analysis_of(query)
                                                                              : nullptr;
    if (held_failed() &&
        !(a && (a->kind == SK::Commit || a->kind == SK::Rollback || a->kind == SK::Savepoint))) {
        // Failed in the proxy: only its end (or ROLLBACK TO) is accepted, as by PostgreSQL.
        co_await answer_failed_transaction(batch, sync);
        co_return true;
    }
    if (!a) co_return false;
    if (a->kind == SK::Savepoint) {
        auto cmd = txn::parse_savepoint(query);
        if (multi_shard()) {
            if (!co_await savepoint_on_parked(query)) co_return true;
            if (cmd && cmd->kind == txn::SavepointCommand::Kind::RollbackTo) held_->failed = false;
        }
        if (cmd) {
            txn_savepoints_.apply(*cmd);
            if (held_ && cmd->kind == txn::SavepointCommand::Kind::RollbackTo)
                held_->failed = false;
        }
        co_return false;
    }
    if ((!multi_shard() && !held_failed()) || !sync ||
        (a->kind != SK::Commit && a->kind != SK::Rollback))
        co_return false;
    if (client_two_phase(query)) co_return false;  // the attached shard refuses it in a transaction
    // Answered here: the replies each message calls for, with the end's outcome at Execute.
    std::string end = co_await end_multi_shard(a->kind == SK::Commit);
    std::string out;
    wire::MessageWriter w(out);
    bool failed = false;
    for (size_t pos = 0; pos + 5 <= batch.size();) {
        size_t len = length_at(batch, pos);
        std::string_view frame(batch.data() + pos, len + 1);
        pos += len + 1;
        if (failed && frame[0] != 'S') continue;  // skipped after an error, as by PostgreSQL
        switch (frame[0]) {
            case 'P': {
                wire::Parse p;
                if (wire::decode(wire::as_bytes(frame.substr(5)), p).ok()) register_parse(frame, p);
                w.empty_message('1');
                break;
            }
            case 'B':
                w.empty_message('2');
                break;
            case 'D':
                if (frame.size() > 5 && frame[5] == 'S') {
                    wire::encode(wire::ParameterDescription{}, w);
                }
                w.empty_message('n');
                break;
            case 'E':
                out += end;
                failed = end.empty() || end[0] != 'C';
                break;
            case 'C':
                w.empty_message('3');
                break;
            default:
                break;
        }
    }
    wire::append_ready_for_query(out, 'I');
    co_await send(out);
    co_return true;
}

}  // namespace sg::proxy
