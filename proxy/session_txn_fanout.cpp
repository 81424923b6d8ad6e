// A statement on several shards inside an open transaction (issue 18): fan-out reads (merged as
// in autocommit), fan-out UPDATE/DELETE, a multi-row INSERT split over shards, reference-table
// writes and DDL broadcast. Each shard's part runs on the transaction's participant there:
//  - the participants the transaction already has (the attached server, the parked ones) run
//    their part in their open transaction, so a read sees the transaction's own writes;
//  - a shard the transaction has not touched yet joins it now: connections are taken from the
//    pools in shard order (a bounded wait, as join_shard's), and each gets the client's BEGIN
//    and the open savepoints before the statement;
//  - a failed part fails the whole transaction (25P02 until ROLLBACK or ROLLBACK TO SAVEPOINT,
//    which session_txn.cpp applies on every participant), as one PostgreSQL does;
//  - only the shards a write ran on are noted as writers: a shard that only read commits
//    without PREPARE at COMMIT (txn::Coordinator::commit).
// Afterwards the attached server stays attached (or, when the BEGIN was still held back, the
// first participant becomes it) and the others are parked until the transaction ends.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "common/sqlstate.h"
#include "proxy/fanout.h"
#include "proxy/fanout_held.h"
#include "proxy/fanout_legs.h"
#include "proxy/pool.h"
#include "proxy/proxy.h"
#include "proxy/returning_order.h"
#include "proxy/session.h"
#include "proxy/session_settings.h"
#include "proxy/stats/query_event.h"
#include "proxy/txn/held.h"
#include "proxy/txn/policy.h"
#include "router/router.h"

namespace sg::proxy {

awaitable<std::optional<HeldFanoutResult>> Session::run_on_participants(
    const std::vector<uint16_t>& shards, bool writes, std::string_view sql,
    const std::function<awaitable<HeldFanoutResult>(const std::vector<HeldLeg>&)>& run) {
    co_await wait_replies_out();
    if (transaction_status() != 'T') {
        co_await error_and_ready(
            sqlstate::kInFailedSqlTransaction,
            "current transaction is aborted, commands ignored until end of transaction block");
        co_return std::nullopt;
    }
    if (writes && !txn::atomic_statement(proxy_.config(), true, sql)) {
        // Temporary objects (PREPARE TRANSACTION refuses them), VACUUM, CONCURRENTLY, ...
        co_await error_and_ready(
            sqlstate::kFeatureNotSupported,
            "this statement (temporary objects, VACUUM, CONCURRENTLY, database-level DDL) "
            "cannot run on several shards inside a transaction, which commits with "
            "PREPARE TRANSACTION");
        co_return std::nullopt;
    }
    // The transaction's participants now, by shard.
    std::map<int, std::pair<std::shared_ptr<ServerConn>, Pool*>> have;
    if (server_) have[server_->target().shard] = {server_, server_pool_};
    if (held_)
        for (const auto& m : held_->parked) have[m.conn->target().shard] = {m.conn, m.pool};
    std::set<int> needed, missing;
    for (uint16_t shard : shards) {
        needed.insert(shard);
        if (!have.count(shard)) missing.insert(shard);
    }
    const int max = proxy_.config().transactions.max_participants;
    const size_t participants = have.size() + missing.size();
    if (max > 0 && participants > static_cast<size_t>(max)) {
        co_await error_and_ready(
            sqlstate::kFeatureNotSupported,
            fmt::format("this transaction would span {} shards, more than [transactions] "
                        "max_participants = {}",
                        participants, max));
        co_return std::nullopt;
    }
    // A participant whose settings differ from the session's (a SET in the transaction ran on
    // another shard) would run its part with other settings: refused rather than guessed.
    for (int shard : needed) {
        auto it = have.find(shard);
        if (it == have.end()) continue;
        if (!it->second.first->usable()) {
            if (held_) held_->failed = true;  // (before the answer: its status is the failed one)
            co_await error_and_ready(
                sqlstate::kConnectionFailure,
                fmt::format("the connection to shard \"{}\" held by this transaction was lost",
                            it->second.first->target().shard_name));
            co_return std::nullopt;
        }
        auto applied = it->second.first->applied_settings();  // a copy: only compared
        if (!settings_sync_list(applied, settings_).empty()) {
            co_await error_and_ready(
                sqlstate::kFeatureNotSupported,
                fmt::format("a statement on several shards inside a transaction after a session "
                            "setting changed "
                            "in it (shard \"{}\" does not carry it) is not supported",
                            it->second.first->target().shard_name),
                "set it before BEGIN, or keep such a transaction's statements on one shard key");
            co_return std::nullopt;
        }
    }
    // The missing shards join in shard order (std::set), each wait bounded by the pool's.
    std::map<int, std::pair<std::shared_ptr<ServerConn>, Pool*>> joined;
    for (int shard : missing) {
        Pool& pool = proxy_.pool(shard, *user_);
        auto wait_start = net::Clock::now();
        auto got = co_await pool.acquire();
        pool_wait_ns_ +=
            std::chrono::duration_cast<std::chrono::nanoseconds>(net::Clock::now() - wait_start)
                .count();
        if (auto* err = std::get_if<PoolError>(&got)) {
            for (auto& [s, m] : joined) m.second->release(std::move(m.first));  // never began
            co_await error_and_ready(err->sqlstate,
                                     fmt::format("joining shard \"{}\" to the transaction: {}",
                                                 proxy_.config().shards[shard].name, err->message));
            co_return std::nullopt;
        }
        auto conn = std::move(std::get<std::shared_ptr<ServerConn>>(got));
        conn->take_rows();
        joined[shard] = {std::move(conn), &pool};
    }
    // What a joining shard runs first: the BEGIN still held back (with what was queued behind
    // it), else the client's BEGIN and the open savepoints.
    const bool begin_held = !server_ && begin_.held();
    const std::string join_sql =
        begin_held
            ? begin_.text()
            : (txn_begin_.empty() ? std::string("BEGIN") : txn_begin_) + txn_savepoints_.replay();
    std::vector<HeldLeg> legs;
    for (uint16_t shard : shards) {
        auto j = joined.find(shard);
        if (j != joined.end())
            legs.push_back({j->second.first, join_sql, std::string()});
        else
            legs.push_back({have.at(shard).first, std::string(), std::string()});
    }
    if (state_ == SessionState::Ready) transition(SessionState::Busy);
    std::shared_ptr<ServerConn> attached = server_;
    if (attached) attached->detach();
    FanoutLegs::arm(fanout_legs_);  // taken by the fan-out at once (see fanout_legs.h)
    HeldFanoutResult res = co_await run(legs);
    // Every connection back in the transaction: the attached one stays, the rest are parked.
    if (!held_) held_ = std::make_shared<txn::HeldTransaction>();
    if (attached) {
        attached->attach(this);
    } else if (!joined.empty()) {
        auto first = joined.begin();
        server_ = first->second.first;
        server_pool_ = first->second.second;
        server_->attach(this);
        joined.erase(first);
    }
    for (auto& [shard, m] : joined) held_->parked.push_back({std::move(m.first), m.second});
    if (begin_held) begin_.clear();
    for (int shard : needed) note_transaction_write(writes, shard);
    if (res.failed) {
        held_->failed = true;
        spdlog::debug(
            "client {}: a statement on {} shards failed inside a transaction; the transaction is "
            "failed",
            peer_, shards.size());
    }
    // The reply ends with a ReadyForQuery: the transaction's status (failed or not).
    if (res.reply.size() >= 6 && res.reply[res.reply.size() - 6] == 'Z')
        res.reply.back() = transaction_status();
    co_return res;
}

awaitable<void> Session::fanout_in_transaction(const router::Analysis& a, const router::Route& r,
                                               std::string_view sql) {
    // Each shard's part, in the order the merge expects (a split INSERT: its parts' order).
    std::vector<uint16_t> shards;
    std::vector<std::string> texts;
    if (!r.insert_rows.empty()) {
        for (const auto& part : r.insert_rows) {
            shards.push_back(part.shard);
            texts.push_back(router::render_insert_subset(a, sql, part.rows).sql);
        }
    } else {
        const bool rewritten = a.merge && !a.merge->shard_sql.empty() && r.shards.size() > 1;
        for (uint16_t shard : r.shards) {
            shards.push_back(shard);
            texts.push_back(rewritten ? a.merge->shard_sql : std::string(sql));
        }
    }
    const bool replicated = a.placement == router::Placement::Reference;
    const bool writes = a.is_write || a.kind != router::StatementKind::Select;
    auto res = co_await run_on_participants(
        shards, writes, sql, [&](const std::vector<HeldLeg>& given) -> awaitable<HeldFanoutResult> {
            std::vector<HeldLeg> legs = given;
            for (size_t i = 0; i < legs.size(); ++i) legs[i].sql = texts[i];
            auto awaited = co_await run_fanout_held(proxy_, *user_, legs, settings_, replicated,
                                                    writes, &leg_stats_);
            co_return awaited;
        });
    if (!res) co_return;
    std::string reply = std::move(res->reply);
    if (!res->failed) {
        if (a.returning && r.insert_rows.size() > 1)
            reply = returning_in_values_order(reply, r.insert_rows);
        if (a.merge && shards.size() > 1) reply = co_await merge_rows(a, reply, shards.front());
    }
    stats_merged(sql, stats::text_hash(sql), static_cast<uint32_t>(shards.size()), reply);
    co_await send(reply);
}

awaitable<std::optional<std::string>> Session::frames_in_transaction(
    const std::vector<uint16_t>& shards, bool writes, std::string_view sql,
    const std::function<std::string(ServerConn&)>& build, bool replicated) {
    auto res = co_await run_on_participants(
        shards, writes, sql, [&](const std::vector<HeldLeg>& legs) -> awaitable<HeldFanoutResult> {
            auto awaited = co_await run_fanout_frames_held(
                proxy_, *user_, legs, settings_, [&](size_t, ServerConn& s) { return build(s); },
                writes, &leg_stats_, replicated);
            co_return awaited;
        });
    if (!res) co_return std::nullopt;
    co_return std::move(res->reply);
}

std::shared_ptr<ServerConn> Session::participant_on(uint16_t shard) {
    std::shared_ptr<ServerConn> conn;
    if (server_ && server_->target().shard == shard) conn = server_;
    if (!conn && held_)
        for (const auto& m : held_->parked)
            if (m.conn->target().shard == shard) conn = m.conn;
    if (!conn || !conn->usable() || conn->tx_status() != 'T') return nullptr;
    // Only one carrying the session's settings (nothing is SET inside the transaction here).
    auto applied = conn->applied_settings();
    if (!settings_sync_list(applied, settings_).empty()) return nullptr;
    return conn;
}

CombineRunner Session::transaction_combine_runner() {
    // On a participant: its part runs inside the transaction; an error there fails the
    // transaction, as the same error would in one PostgreSQL. Elsewhere: a pooled connection.
    auto on_held = [this](
                       std::shared_ptr<ServerConn> conn,
                       std::function<awaitable<HeldFanoutResult>(const std::vector<HeldLeg>&)> run)
        -> awaitable<std::string> {
        const bool attached = conn == server_;
        if (attached) conn->detach();
        std::vector<HeldLeg> legs(1);
        legs[0].conn = conn;
        HeldFanoutResult res = co_await run(legs);
        if (attached && conn == server_) conn->attach(this);
        if (res.failed && held_) held_->failed = true;
        co_return std::move(res.reply);
    };
    CombineRunner r;
    r.query = [this, on_held](uint16_t shard, const std::string& sql) -> awaitable<std::string> {
        auto conn = participant_on(shard);
        if (!conn) {
            std::vector<ShardQuery> q{{shard, sql}};
            auto awaited = co_await run_fanout(proxy_, *user_, q, settings_);
            co_return awaited;
        }
        auto awaited = co_await on_held(
            conn, [&](const std::vector<HeldLeg>& legs) -> awaitable<HeldFanoutResult> {
                std::vector<HeldLeg> l = legs;
                l[0].sql = sql;
                auto awaited =
                    co_await run_fanout_held(proxy_, *user_, l, settings_, false, false, nullptr);
                co_return awaited;
            });
        co_return awaited;
    };
    r.frames = [this, on_held](
                   uint16_t shard,
                   const std::function<std::string(ServerConn&)>& build) -> awaitable<std::string> {
        auto conn = participant_on(shard);
        if (!conn) {
            const std::vector<uint16_t> target{shard};
            auto awaited = co_await run_fanout_frames(proxy_, *user_, target, settings_, build);
            co_return awaited;
        }
        auto awaited = co_await on_held(
            conn, [&](const std::vector<HeldLeg>& legs) -> awaitable<HeldFanoutResult> {
                auto awaited = co_await run_fanout_frames_held(
                    proxy_, *user_, legs, settings_,
                    [&](size_t, ServerConn& s) { return build(s); }, false, nullptr);
                co_return awaited;
            });
        co_return awaited;
    };
    return r;
}

}  // namespace sg::proxy
