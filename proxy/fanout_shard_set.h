// The server connections of one multi-shard statement, taken in shard order, attached to one
// collector and given back on exit; as the participants of an atomic statement, the commit
// protocol drives them. Internal to proxy/fanout.cpp.
#pragma once

#include "common/sqlstate.h"
#include "proxy/copy_out_binary.h"
#include "proxy/fanout.h"
#include "proxy/fanout_collector.h"
#include "proxy/fanout_held.h"
#include "proxy/shard_request.h"
#include "proxy/wire/messages/command_complete.h"
#include "proxy/wire/messages/session_status.h"
#include "proxy/wire/protocol.h"
#include "proxy/wire/writer.h"

namespace sg::proxy::fanout_detail {

// Server connections on several shards, all attached to one collector, given back on exit.
// As the participants of an atomic statement (each BEGIN'd), the commit protocol drives them.
class ShardSet : public txn::Participants {
public:
    ShardSet(Proxy& proxy, const UserConfig& user, size_t n)
        : proxy_(proxy),
          user_(user),
          sink_(proxy.io().get_executor(), n,
                static_cast<size_t>(proxy.config().proxy.max_merge_bytes)),
          legs_(FanoutLegs::take_armed()) {}
    ~ShardSet() { give_back(); }

    // Acquires in shard order: every multi-shard statement takes connections in the same
    // order, so two of them waiting on full pools cannot deadlock each other.
    // `endpoints` (when given, one per shard): a read's standby endpoint, -1 the primary.
    awaitable<std::optional<PoolError>> acquire(const std::vector<uint16_t>& shards,
                                                const std::vector<int>* endpoints = nullptr) {
        for (size_t k = 0; k < shards.size(); ++k) {
            const uint16_t shard = shards[k];
            const int endpoint = endpoints ? (*endpoints)[k] : -1;
            Pool& pool = endpoint >= 0 ? proxy_.read_or_primary_pool(shard, endpoint, user_)
                                       : proxy_.pool(shard, user_);
            const int64_t wait_start = steady_ns();
            auto got = co_await pool.acquire();
            if (auto* err = std::get_if<PoolError>(&got)) {
                give_back();
                co_return *err;
            }
            auto s = std::move(std::get<std::shared_ptr<ServerConn>>(got));
            sink_.bind(*s, servers_.size());
            ShardReply& reply = sink_.replies()[servers_.size()];
            reply.shard_name = s->target().shard_name;
            reply.shard = shard;
            reply.pool_wait_ns = steady_ns() - wait_start;
            s->attach(&sink_);
            if (legs_) legs_->add(s);  // a cancel of the client's statement reaches every leg
            shard_index_[shard] = servers_.size();
            servers_.emplace_back(&pool, std::move(s));
        }
        co_return std::nullopt;
    }

    // Takes a connection the caller holds (a transaction's participant) into the set, in the
    // order given; hand_back() returns it detached, never to a pool (the caller owns it).
    void adopt(std::shared_ptr<ServerConn> s) {
        sink_.bind(*s, servers_.size());
        ShardReply& reply = sink_.replies()[servers_.size()];
        reply.shard_name = s->target().shard_name;
        reply.shard = s->target().shard;
        s->attach(&sink_);
        if (legs_) legs_->add(s);
        shard_index_[static_cast<uint16_t>(s->target().shard)] = servers_.size();
        servers_.emplace_back(nullptr, std::move(s));
    }
    // Detaches every connection and forgets them (adopted ones stay with their owner).
    void hand_back() {
        if (legs_) legs_->clear();
        for (auto& [pool, s] : servers_)
            if (s->sink() == &sink_) s->detach();
        servers_.clear();
    }

    // Sends `sql` as a simple Query to server i after `prelude` (quiet, e.g. a joining
    // participant's BEGIN and savepoints; empty: none). Settings are applied before.
    awaitable<void> query_after(size_t i, const std::string& prelude, const std::string& sql) {
        ServerConn& s = *servers_[i].second;
        std::string out;
        ShardRequest req(out, s);
        req.quiet_query(prelude);
        req.query(sql);
        s.count_query();
        s.unnamed_owner() = {0, 0};
        note_sent(i, out.size());
        co_await s.write(out);
    }

    // Sends `sql` as a simple Query to server i, after the session's settings (and, with
    // `begin`, inside a transaction the commit protocol ends).
    awaitable<void> query(size_t i, const std::string& sql,
                          const std::map<std::string, std::string>& settings, bool begin = false) {
        ServerConn& s = *servers_[i].second;
        std::string out;
        ShardRequest req(out, s);
        req.quiet_query(settings_sync_statements(s.applied_settings(), settings));
        if (begin) req.quiet_query("BEGIN");
        req.query(sql);
        s.count_query();
        s.unnamed_owner() = {0, 0};
        note_sent(i, out.size());
        co_await s.write(out);
    }

    // Statistics: request bytes sent to server i, and when its leg started (the first send).
    void note_sent(size_t i, size_t bytes) {
        ShardReply& r = sink_.replies()[i];
        if (r.sent_ns == 0) r.sent_ns = steady_ns();
        r.bytes_sent += bytes;
    }

    // Each server's leg, for the statistics.
    void legs(std::vector<stats::ShardLeg>& out) {
        out.clear();
        for (const auto& r : sink_.replies()) {
            if (r.shard < 0) continue;
            const int64_t end = r.ready_ns ? r.ready_ns : steady_ns();
            out.push_back({r.shard, r.sent_ns ? end - r.sent_ns : 0, r.pool_wait_ns, leg_rows(r),
                           r.bytes_sent, r.bytes_received, !r.error.empty() || r.lost});
        }
    }

    ServerConn& server(size_t i) { return *servers_[i].second; }

    // The session's settings on every leg first, each in a query of its own, waited for: the
    // statement never runs on a leg with settings other than the client's, and a setting a
    // shard refuses fails the statement, naming it, instead of being skipped quietly. Returns
    // the error reply, empty when every leg carries the settings.
    awaitable<std::string> apply_settings(const std::map<std::string, std::string>& settings) {
        struct Sent {
            std::vector<std::pair<std::string, std::string>> list;
            uint64_t first = 0, last = 0;
        };
        std::vector<Sent> sent(servers_.size());
        bool any = false;
        for (size_t i = 0; i < servers_.size(); ++i) {
            ServerConn& s = *servers_[i].second;
            sent[i].list = settings_sync_list(s.applied_settings(), settings);
            if (sent[i].list.empty()) continue;
            any = true;
            sent[i].first = s.quiet_sent();
            std::string out;
            for (const auto& [name, statement] : sent[i].list)
                ShardRequest(out, s).quiet_query(statement);
            sent[i].last = s.quiet_sent();
            co_await write(i, out);
        }
        if (!any) co_return std::string();
        const auto deadline = net::Clock::now() + std::chrono::seconds(10);
        for (;;) {
            bool waiting = false;
            for (size_t i = 0; i < servers_.size(); ++i)
                waiting = waiting || (servers_[i].second->usable() &&
                                      servers_[i].second->quiet_done() < sent[i].last);
            const auto now = net::Clock::now();
            if (!waiting || now >= deadline) break;
            co_await sink_.done().wait_for(deadline - now);
        }
        std::string failure;
        for (size_t i = 0; i < servers_.size(); ++i) {
            ServerConn& s = *servers_[i].second;
            if (sent[i].list.empty()) continue;
            std::string why;
            if (!s.usable() || s.quiet_done() < sent[i].last) {
                why = "the shard did not confirm them";
                if (failure.empty())
                    failure = error_reply(
                        sqlstate::kConnectionFailure,
                        fmt::format("shard \"{}\" did not confirm this session's settings",
                                    s.target().shard_name));
            }
            for (const auto& f : s.quiet_failures_since(sent[i].first)) {
                if (f.number >= sent[i].last) continue;
                const auto& [name, statement] = sent[i].list[f.number - sent[i].first];
                spdlog::warn(
                    "shard {} refused the session setting \"{}\" when shardgate applied it for a "
                    "multi-shard "
                    "statement ({}): {} [{}]; the statement did not run and the client gets the "
                    "error",
                    s.target().shard_name, name.empty() ? "all" : name, statement, f.message,
                    f.sqlstate);
                if (failure.empty())
                    failure = error_reply(
                        f.sqlstate.empty() ? sqlstate::kInternalError : f.sqlstate,
                        fmt::format("shardgate could not apply the session setting \"{}\" on shard "
                                    "\"{}\": {}; the statement did not run",
                                    name, s.target().shard_name, f.message));
                why = f.message;
            }
            // What that server carries is not known now: reset before its next use.
            if (!why.empty()) {
                s.applied_settings().clear();
                s.applied_settings()[kUnknownSettings] = std::string();
            }
        }
        co_return failure;
    }

    // txn::Participants
    size_t count() const override { return servers_.size(); }
    int shard(size_t i) const override { return servers_[i].second->target().shard; }
    std::string shard_name(size_t i) const override {
        return servers_[i].second->target().shard_name;
    }
    awaitable<std::vector<txn::StepOutcome>> step(const std::vector<std::string>& sql) override {
        sink_.reset();
        for (size_t i = 0; i < servers_.size(); ++i) {
            ServerConn& s = *servers_[i].second;
            if (sql[i].empty() || !s.usable() || s.sink() != &sink_) {
                if (!sql[i].empty() && !sink_.replies()[i].lost) {
                    sink_.replies()[i].lost = true;
                    sink_.replies()[i].error_message = "connection closed";
                }
                sink_.mark_ready(i);
                continue;
            }
            std::string out;
            ShardRequest(out, s).query(sql[i]);
            co_await s.write(out);
        }
        // Bounded: a shard that does not answer is cut off and counts as broken (its part is
        // then resolved by recovery).
        const auto deadline = net::Clock::now() + std::chrono::milliseconds(
                                                      proxy_.config().transactions.step_timeout_ms);
        while (!sink_.all_ready()) {
            auto left = deadline - net::Clock::now();
            if (left <= net::Clock::duration::zero() || !co_await sink_.done().wait_for(left)) {
                if (sink_.all_ready()) break;
                for (size_t i = 0; i < servers_.size(); ++i) {
                    auto& r = sink_.replies()[i];
                    if (r.ready) continue;
                    r.lost = true;
                    r.error_message = "no answer within [transactions] step_timeout_ms";
                    servers_[i].second->close("commit step timed out");
                    sink_.mark_ready(i);
                }
                break;
            }
        }
        std::vector<txn::StepOutcome> out(servers_.size());
        for (size_t i = 0; i < servers_.size(); ++i) {
            const ShardReply& r = sink_.replies()[i];
            txn::StepOutcome& o = out[i];
            o.lost = !sql[i].empty() && r.lost;
            o.ok = sql[i].empty() || (!r.lost && r.error.empty());
            o.message = r.error_message;
            if (!r.error.empty()) {
                wire::ErrorResponse e;
                if (wire::decode(wire::as_bytes(std::string_view(r.error).substr(5)), e).ok())
                    o.sqlstate = std::string(e.sqlstate());
            }
        }
        co_return out;
    }
    // Whether every shard ran its part without an error.
    bool all_succeeded() const {
        for (const auto& r : const_cast<ShardSet*>(this)->sink_.replies())
            if (!r.error.empty() || r.lost) return false;
        return true;
    }
    // Ends the participants' transactions: commit when every part succeeded, else roll back.
    // Returns the reply to send instead of the merged one, or empty.
    awaitable<std::string> finish_atomic(bool extended) {
        if (!all_succeeded()) {
            std::string reply = merged_reply(extended, true);
            co_await proxy_.txn().rollback(*this);
            co_return reply;
        }
        // The statement's own replies are kept for the client; the commit rounds reuse the sink.
        std::vector<ShardReply> kept = sink_.replies();
        std::vector<bool> wrote(servers_.size(), true);
        txn::CommitResult r = co_await proxy_.txn().commit(*this, wrote);
        sink_.replies() = std::move(kept);
        if (r.committed()) co_return std::string();
        co_return error_reply(r.sqlstate, r.message, r.detail);
    }

    // Replicated writes: when every copy succeeded, the client sees the first copy's reply.
    void keep_first_reply_only() {
        auto& replies = sink_.replies();
        for (const auto& r : replies)
            if (!r.error.empty() || r.lost) return;
        replies.resize(1);
    }

    awaitable<void> write(size_t i, std::string_view bytes) {
        if (servers_[i].second->usable()) co_await servers_[i].second->write(bytes);
    }
    size_t index_of_shard(uint16_t shard) const { return shard_index_.at(shard); }
    size_t size() const { return servers_.size(); }
    Collector& sink() { return sink_; }

    awaitable<void> wait_ready() {
        bool cancelled = false;
        while (!sink_.all_ready()) {
            if (sink_.overflowed() && !cancelled) {
                // Nothing more of it can reach the client: stop the shards' work.
                cancelled = true;
                for (auto& [pool, s] : servers_)
                    if (s->usable() && s->outstanding() > 0)
                        asio::co_spawn(proxy_.io(),
                                       send_cancel(proxy_.io().get_executor(), s->target(),
                                                   s->backend_pid(), s->backend_secret()),
                                       LogUnhandled("fan-out cancel"));
            }
            co_await sink_.done().wait();
        }
    }
    // Until server i answered (or entered COPY).
    awaitable<void> wait_one(size_t i) {
        while (!sink_.replies()[i].ready && !sink_.replies()[i].copy) co_await sink_.done().wait();
    }
    // Indexes of the servers in shard order.
    std::vector<size_t> shard_order() const {
        std::vector<size_t> order(servers_.size());
        for (size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
            return servers_[a].second->target().shard < servers_[b].second->target().shard;
        });
        return order;
    }
    // An atomic multi-shard write runs on one shard after another, in shard order, each
    // holding its locks until the commit: two such writes then wait for each other's locks in
    // shard order, so they cannot deadlock across shards (a wait on one shard is PostgreSQL's
    // to resolve, deadlock detector included). Run in parallel, each could hold one shard's
    // rows while waiting for the other's on another shard, forever. `send(i)` starts server
    // i's part; the rest is skipped after the first failure (those servers count as answered).
    awaitable<void> run_in_shard_order(const std::function<awaitable<void>(size_t)>& send) {
        auto order = shard_order();
        size_t k = 0;
        for (; k < order.size(); ++k) {
            co_await send(order[k]);
            co_await wait_one(order[k]);
            const ShardReply& r = sink_.replies()[order[k]];
            if (r.copy || r.lost || !r.error.empty()) break;
        }
        for (size_t j = k + 1; j < order.size(); ++j) sink_.mark_ready(order[j]);
    }

    awaitable<void> wait_copying() {
        while (!sink_.all_copying_or_ready()) co_await sink_.done().wait();
    }

    void give_back() {
        if (legs_) legs_->clear();
        for (auto& [pool, s] : servers_) {
            if (s->sink() == &sink_) s->detach();
            if (pool) pool->release(std::move(s));  // (adopted ones: their owner's)
        }
        servers_.clear();
    }

    // The merged reply: the first failure (naming every failed shard), else one result.
    // `atomic`: the statement ran inside transactions that are rolled back on failure.
    std::string merged_reply(bool extended = false, bool atomic = false) {
        auto& replies = sink_.replies();
        if (sink_.overflowed())
            return error_reply(
                sqlstate::kProgramLimitExceeded,
                fmt::format(
                    "the rows of this multi-shard statement exceed [proxy] max_merge_bytes "
                    "({} bytes), what shardgate may buffer to merge them; the statement was "
                    "cancelled on every shard",
                    proxy_.config().proxy.max_merge_bytes),
                "add a LIMIT or narrower conditions, or raise max_merge_bytes");
        std::vector<std::string> failed;
        for (const auto& r : replies)
            if (!r.error.empty() || r.lost) failed.push_back(r.shard_name);
        if (!failed.empty()) {
            // Without a transaction around it, the others ran (and committed) their part: say so.
            std::string detail =
                atomic ? fmt::format("failed on shard(s): {}; no shard's change was kept",
                                     fmt::join(failed, ", "))
                       : fmt::format("failed on shard(s): {}; succeeded on {} of {} shard(s)",
                                     fmt::join(failed, ", "), replies.size() - failed.size(),
                                     replies.size());
            for (const auto& r : replies) {
                if (r.error.empty() && !r.lost) continue;
                if (r.lost)
                    return error_reply(
                        sqlstate::kConnectionFailure,
                        fmt::format("shard \"{}\": {}", r.shard_name, r.error_message), detail);
                wire::ErrorResponse e;
                if (wire::decode(wire::as_bytes(std::string_view(r.error).substr(5)), e).ok()) {
                    std::string out;
                    wire::ErrorBuilder b(
                        wire::Severity::Error, e.sqlstate(),
                        fmt::format("shard \"{}\": {}", r.shard_name, e.message()));
                    b.detail(detail);
                    if (!e.hint().empty()) b.hint(std::string(e.hint()));
                    wire::MessageWriter w(out);
                    b.encode_error(w);
                    wire::append_ready_for_query(out, 'I');
                    return out;
                }
                return error_reply(sqlstate::kInternalError,
                                   fmt::format("shard \"{}\" failed", r.shard_name), detail);
            }
        }
        std::string out;
        std::vector<std::string_view> notices;  // each distinct one once, not once per shard
        for (const auto& r : replies) notices.emplace_back(r.notices);
        out += merge_notices(notices);
        if (extended) {
            out += replies.front().head;
        } else {
            for (const auto& r : replies)
                if (!r.row_description.empty()) {
                    out += r.row_description;
                    break;
                }
        }
        bool copy_out = !replies.front().copy_response.empty() && !replies.front().copy_in;
        if (copy_out && copy_out_is_binary(replies.front().copy_response)) {
            // Binary COPY: one header and one trailer, not one per shard (copy_out_binary.h).
            std::vector<std::string_view> streams;
            for (const auto& r : replies) streams.emplace_back(r.rows);
            auto joined = join_binary_copy_out(streams);
            if (!joined) return error_reply(joined.error().sqlstate, joined.error().message);
            out += replies.front().copy_response;
            out += *joined;
        } else {
            if (copy_out) out += replies.front().copy_response;
            for (const auto& r : replies) out += r.rows;
        }
        if (copy_out) wire::MessageWriter(out).empty_message(wire::be::kCopyDone);
        // Statement by statement (a Query may hold several): merge the i-th tag of every shard.
        size_t ntags = replies.front().tags.size();
        for (size_t i = 0; i < ntags; ++i) {
            std::vector<std::string> tags;
            for (const auto& r : replies)
                if (i < r.tags.size()) tags.push_back(r.tags[i]);
            wire::MessageWriter w(out);
            wire::encode(wire::CommandComplete{merge_command_tags(tags)}, w);
        }
        if (ntags == 0 && !extended)
            wire::MessageWriter(out).empty_message(wire::be::kEmptyQueryResponse);
        wire::append_ready_for_query(out, 'I');
        return out;
    }

private:
    Proxy& proxy_;
    const UserConfig& user_;
    Collector sink_;
    std::vector<std::pair<Pool*, std::shared_ptr<ServerConn>>> servers_;
    std::map<uint16_t, size_t> shard_index_;
    FanoutLegs* legs_ = nullptr;  // the client's, when it armed them
};

// The legs of a statement inside a transaction (fanout_held.cpp), adopted into `set`: the
// session's settings on every one, then the joining legs' BEGIN, each confirmed, so no part ever
// runs on a shard outside the transaction. Returns the error reply, or empty.
awaitable<std::string> prepare_held_legs(ShardSet& set, const std::vector<HeldLeg>& legs,
                                         const std::map<std::string, std::string>& settings);

}  // namespace sg::proxy::fanout_detail
