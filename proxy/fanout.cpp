#include "proxy/fanout.h"

#include "proxy/fanout_legs.h"
#include "proxy/notice_merge.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <optional>
#include <cstring>

#include "proxy/pool.h"
#include "proxy/proxy.h"
#include "proxy/server_conn.h"
#include "proxy/session_settings.h"
#include "proxy/txn/coordinator.h"
#include "proxy/txn/participants.h"
#include "proxy/txn/policy.h"
#include "proxy/wire/messages/error_response.h"
#include "proxy/wire/writer.h"
#include "proxy/spawn.h"

namespace sg::proxy {

namespace asio = net::asio;

namespace {

inline uint32_t be32(const uint8_t* p) {
    return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

// What one shard answered.
struct ShardReply {
    std::string shard_name;
    std::string row_description;  // the first RowDescription frame
    std::string rows;             // DataRow frames
    std::vector<std::string> tags;
    std::string notices;          // NoticeResponse frames
    std::string error;            // the first ErrorResponse frame
    std::string error_message;
    bool ready = false;
    bool lost = false;
    bool copy = false;
    std::string copy_response;    // the CopyInResponse / CopyOutResponse frame
    std::string head;             // extended protocol: ParseComplete, BindComplete, descriptions
    bool copy_in = false;
    std::string raw;              // every frame but ReadyForQuery, in order (batch pieces)
    // Statistics of this leg (steady-clock nanoseconds; bytes as framed on the wire).
    int shard = -1;
    int64_t pool_wait_ns = 0, sent_ns = 0, ready_ns = 0;
    uint64_t bytes_sent = 0, bytes_received = 0, data_rows = 0;
};

int64_t steady_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(net::Clock::now().time_since_epoch()).count();
}

// The rows of a leg: the counts of its command tags ("SELECT 3", "UPDATE 2", "INSERT 0 1"),
// else its DataRows (a tag without a count).
uint64_t leg_rows(const ShardReply& r) {
    uint64_t n = 0;
    bool counted = false;
    for (const auto& t : r.tags) {
        const size_t sp = t.rfind(' ');
        if (sp == std::string::npos) continue;
        uint64_t v = 0;
        auto [end, ec] = std::from_chars(t.data() + sp + 1, t.data() + t.size(), v);
        if (ec == std::errc() && end == t.data() + t.size()) {
            n += v;
            counted = true;
        }
    }
    return counted ? n : r.data_rows;
}

class Collector : public ServerSink {
public:
    // `budget`: the bytes of rows all shards' replies may hold together ([proxy] max_merge_bytes).
    Collector(asio::any_io_executor ex, size_t n, size_t budget) : done_(ex), replies_(n), budget_(budget) {}
    // The rows went past the budget: the rest are dropped and the statement fails.
    bool overflowed() const { return overflowed_; }

    void bind(ServerConn& s, size_t index) { index_of_[&s] = index; }
    std::vector<ShardReply>& replies() { return replies_; }
    bool all_ready() const { return ready_ == replies_.size(); }
    // Every shard either entered COPY IN or finished (with an error).
    bool all_copying_or_ready() const {
        for (const auto& r : replies_)
            if (!r.copy && !r.ready) return false;
        return true;
    }
    net::Event& done() { return done_; }
    // A reply emptied for the next request; which shard it is and a broken connection stay.
    static void forget_reply(ShardReply& r) {
        std::string name = std::move(r.shard_name);
        bool lost = r.lost;
        std::string why = lost ? r.error_message : std::string();
        r = ShardReply{};
        r.shard_name = std::move(name);
        r.lost = lost;
        r.error_message = std::move(why);
    }
    // Forgets the replies (not which shard is which, nor a broken connection) before the next
    // round of queries.
    void reset() {
        ready_ = 0;
        for (auto& r : replies_) forget_reply(r);
    }
    // Forgets shard i's reply before its next request (one shard at a time).
    void reset_one(size_t i) {
        ShardReply& r = replies_[i];
        if (r.ready) --ready_;
        forget_reply(r);
        if (r.lost) {
            r.ready = true;
            ++ready_;
        }
    }
    // A participant left out of a round (or broken) counts as answered.
    void mark_ready(size_t i) {
        if (!replies_[i].ready) {
            replies_[i].ready = true;
            ++ready_;
        }
    }

    awaitable<void> relay(ServerConn& s, const std::vector<asio::const_buffer>& frames, size_t) override {
        ShardReply& r = replies_[index_of_[&s]];
        for (const auto& b : frames) {
            const auto* p = static_cast<const uint8_t*>(b.data());
            size_t n = b.size(), pos = 0;
            r.bytes_received += n;
            while (pos + 5 <= n) {
                char type = static_cast<char>(p[pos]);
                size_t total = size_t(be32(p + pos + 1)) + 1;
                std::string_view frame(reinterpret_cast<const char*>(p + pos), total);
                if (type != 'Z') r.raw.append(frame);
                switch (type) {
                    case 'T':
                        if (r.row_description.empty()) r.row_description.assign(frame);
                        r.head.append(frame);
                        break;
                    case '1': case '2': case '3': case 't': case 'n': r.head.append(frame); break;
                    case 'D':
                    case 'd':  // COPY TO: concatenated like rows
                        if (overflowed_) break;
                        if (buffered_ + frame.size() > budget_) {
                            overflowed_ = true;
                            done_.notify_all();  // the set cancels the legs
                            break;
                        }
                        buffered_ += frame.size();
                        r.rows.append(frame);
                        if (frame[0] == 'D') ++r.data_rows;
                        break;
                    case 'C': r.tags.emplace_back(frame.substr(5, frame.size() - 6)); break;
                    case 'N': r.notices.append(frame); break;
                    case 'E':
                        if (r.error.empty()) {
                            r.error.assign(frame);
                            wire::ErrorResponse e;
                            if (wire::decode(wire::as_bytes(frame.substr(5)), e).ok()) r.error_message = e.message();
                        }
                        break;
                    case 'G': case 'H': case 'W':
                        r.copy = true;
                        r.copy_in = type == 'G';
                        if (r.copy_response.empty()) r.copy_response.assign(frame);
                        done_.notify_all();
                        break;
                    default: break;
                }
                pos += total;
            }
        }
        co_return;
    }
    void on_ready(ServerConn& s, char) override {
        ShardReply& r = replies_[index_of_[&s]];
        if (!r.ready) {
            r.ready = true;
            r.ready_ns = steady_ns();
            ++ready_;
        }
        done_.notify_all();  // waiters check their own condition (all, or one shard's)
    }
    void on_quiet_done(ServerConn&) override { done_.notify_all(); }
    void on_lost(ServerConn& s, const std::string& why) override {
        ShardReply& r = replies_[index_of_[&s]];
        r.lost = true;
        if (r.error.empty()) r.error_message = why;
        if (!r.ready) {
            r.ready = true;
            r.ready_ns = steady_ns();
            ++ready_;
        }
        if (all_ready()) done_.notify_all();
    }

private:
    net::Event done_;
    std::vector<ShardReply> replies_;
    std::map<const ServerConn*, size_t> index_of_;
    size_t ready_ = 0;
    size_t budget_ = SIZE_MAX, buffered_ = 0;
    bool overflowed_ = false;
};

std::string copy_fail_frame(std::string_view why) {
    std::string out;
    wire::MessageWriter w(out);
    w.begin('f');
    w.cstr(why);
    w.end();
    return out;
}

std::string error_reply(std::string_view sqlstate, const std::string& message, const std::string& detail = {}) {
    std::string out;
    wire::MessageWriter w(out);
    wire::ErrorBuilder b(wire::Severity::Error, sqlstate, message);
    if (!detail.empty()) b.detail(detail);
    b.encode_error(w);
    out.append({'Z', 0, 0, 0, 5, 'I'});
    return out;
}

}  // namespace

std::string merge_command_tags(const std::vector<std::string>& tags) {
    if (tags.empty()) return {};
    // "VERB [oid] count": sum the trailing number when every tag has one.
    const std::string& first = tags.front();
    size_t sp = first.rfind(' ');
    if (sp == std::string::npos) return first;
    std::string prefix = first.substr(0, sp + 1);
    uint64_t total = 0;
    for (const auto& t : tags) {
        size_t tsp = t.rfind(' ');
        if (tsp == std::string::npos || t.substr(0, tsp + 1) != prefix) return first;
        uint64_t v = 0;
        auto [ptr, ec] = std::from_chars(t.data() + tsp + 1, t.data() + t.size(), v);
        if (ec != std::errc() || ptr != t.data() + t.size()) return first;
        total += v;
    }
    return prefix + std::to_string(total);
}

// Server connections on several shards, all attached to one collector, given back on exit.
// As the participants of an atomic statement (each BEGIN'd), the commit protocol drives them.
class ShardSet : public txn::Participants {
public:
    ShardSet(Proxy& proxy, const UserConfig& user, size_t n)
        : proxy_(proxy),
          user_(user),
          sink_(proxy.io().get_executor(), n, static_cast<size_t>(proxy.config().proxy.max_merge_bytes)),
          legs_(FanoutLegs::take_armed()) {}
    ~ShardSet() { give_back(); }

    // Acquires in shard order: every multi-shard statement takes connections in the same
    // order, so two of them waiting on full pools cannot deadlock each other.
    awaitable<std::optional<PoolError>> acquire(const std::vector<uint16_t>& shards) {
        for (uint16_t shard : shards) {
            Pool& pool = proxy_.pool(shard, user_);
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

    // Sends `sql` as a simple Query to server i, after the session's settings (and, with
    // `begin`, inside a transaction the commit protocol ends).
    awaitable<void> query(size_t i, const std::string& sql, const std::map<std::string, std::string>& settings,
                          bool begin = false) {
        ServerConn& s = *servers_[i].second;
        std::string out;
        s.add_quiet_query(out, settings_sync_statements(s.applied_settings(), settings));
        if (begin) s.add_quiet_query(out, "BEGIN");
        wire::MessageWriter w(out);
        w.begin('Q');
        w.cstr(sql);
        w.end();
        s.expect(ServerConn::Expect::Ready);
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
            out.push_back({r.shard, r.sent_ns ? end - r.sent_ns : 0, r.pool_wait_ns, leg_rows(r), r.bytes_sent,
                           r.bytes_received, !r.error.empty() || r.lost});
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
            for (const auto& [name, statement] : sent[i].list) s.add_quiet_query(out, statement);
            sent[i].last = s.quiet_sent();
            co_await write(i, out);
        }
        if (!any) co_return std::string();
        const auto deadline = net::Clock::now() + std::chrono::seconds(10);
        for (;;) {
            bool waiting = false;
            for (size_t i = 0; i < servers_.size(); ++i)
                waiting = waiting || (servers_[i].second->usable() && servers_[i].second->quiet_done() < sent[i].last);
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
                    failure = error_reply("08006", fmt::format("shard \"{}\" did not confirm this session's settings",
                                                               s.target().shard_name));
            }
            for (const auto& f : s.quiet_failures_since(sent[i].first)) {
                if (f.number >= sent[i].last) continue;
                const auto& [name, statement] = sent[i].list[f.number - sent[i].first];
                spdlog::warn("shard {} refused the session setting \"{}\" when shardgate applied it for a multi-shard "
                             "statement ({}): {} [{}]; the statement did not run and the client gets the error",
                             s.target().shard_name, name.empty() ? "all" : name, statement, f.message, f.sqlstate);
                if (failure.empty())
                    failure = error_reply(f.sqlstate.empty() ? "XX000" : f.sqlstate,
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
    std::string shard_name(size_t i) const override { return servers_[i].second->target().shard_name; }
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
            wire::MessageWriter w(out);
            w.begin('Q');
            w.cstr(sql[i]);
            w.end();
            s.expect(ServerConn::Expect::Ready);
            co_await s.write(out);
        }
        // Bounded: a shard that does not answer is cut off and counts as broken (its part is
        // then resolved by recovery).
        const auto deadline = net::Clock::now() + std::chrono::milliseconds(proxy_.config().transactions.step_timeout_ms);
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
                                       send_cancel(proxy_.io().get_executor(), s->target(), s->backend_pid(),
                                                   s->backend_secret()),
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
        std::stable_sort(order.begin(), order.end(),
                         [&](size_t a, size_t b) { return servers_[a].second->target().shard < servers_[b].second->target().shard; });
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
            pool->release(std::move(s));
        }
        servers_.clear();
    }

    // The merged reply: the first failure (naming every failed shard), else one result.
    // `atomic`: the statement ran inside transactions that are rolled back on failure.
    std::string merged_reply(bool extended = false, bool atomic = false) {
        auto& replies = sink_.replies();
        if (sink_.overflowed())
            return error_reply("54000",
                               fmt::format("the rows of this multi-shard statement exceed [proxy] max_merge_bytes "
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
                atomic ? fmt::format("failed on shard(s): {}; no shard's change was kept", fmt::join(failed, ", "))
                       : fmt::format("failed on shard(s): {}; succeeded on {} of {} shard(s)", fmt::join(failed, ", "),
                                     replies.size() - failed.size(), replies.size());
            for (const auto& r : replies) {
                if (r.error.empty() && !r.lost) continue;
                if (r.lost) return error_reply("08006", fmt::format("shard \"{}\": {}", r.shard_name, r.error_message), detail);
                wire::ErrorResponse e;
                if (wire::decode(wire::as_bytes(std::string_view(r.error).substr(5)), e).ok()) {
                    std::string out;
                    wire::ErrorBuilder b(wire::Severity::Error, e.sqlstate(),
                                         fmt::format("shard \"{}\": {}", r.shard_name, e.message()));
                    b.detail(detail);
                    if (!e.hint().empty()) b.hint(std::string(e.hint()));
                    wire::MessageWriter w(out);
                    b.encode_error(w);
                    out.append({'Z', 0, 0, 0, 5, 'I'});
                    return out;
                }
                return error_reply("XX000", fmt::format("shard \"{}\" failed", r.shard_name), detail);
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
        if (copy_out) out += replies.front().copy_response;
        for (const auto& r : replies) out += r.rows;
        if (copy_out) out.append({'c', 0, 0, 0, 4});
        // Statement by statement (a Query may hold several): merge the i-th tag of every shard.
        size_t ntags = replies.front().tags.size();
        for (size_t i = 0; i < ntags; ++i) {
            std::vector<std::string> tags;
            for (const auto& r : replies)
                if (i < r.tags.size()) tags.push_back(r.tags[i]);
            wire::MessageWriter w(out);
            w.begin('C');
            w.cstr(merge_command_tags(tags));
            w.end();
        }
        if (ntags == 0 && !extended) out.append({'I', 0, 0, 0, 4});
        out.append({'Z', 0, 0, 0, 5, 'I'});
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

awaitable<std::string> run_fanout(Proxy& proxy, const UserConfig& user, const std::vector<ShardQuery>& queries,
                                  const std::map<std::string, std::string>& settings, bool replicated, bool atomic,
                                  std::vector<stats::ShardLeg>* legs) {
    ShardSet set(proxy, user, queries.size());
    std::vector<uint16_t> shards;
    for (const auto& q : queries) shards.push_back(q.shard);
    if (atomic) {
        if (auto refusal = txn::participants_refusal(proxy.config(), shards.size()))
            co_return error_reply(refusal->sqlstate, refusal->message);
    }
    if (auto err = co_await set.acquire(shards)) co_return error_reply(err->sqlstate, err->message);
    if (std::string failed = co_await set.apply_settings(settings); !failed.empty()) co_return failed;
    if (atomic) {
        co_await set.run_in_shard_order(
            [&](size_t i) -> awaitable<void> { co_await set.query(i, queries[i].sql, settings, true); });
    } else {
        for (size_t i = 0; i < queries.size(); ++i) co_await set.query(i, queries[i].sql, settings);
    }
    co_await set.wait_copying();
    bool copy_in = false;
    for (size_t i = 0; i < set.size(); ++i) {
        if (!set.sink().replies()[i].copy_in) continue;
        // A COPY FROM that was not recognised as one to split: end it on every shard.
        copy_in = true;
        co_await set.write(i, copy_fail_frame("COPY FROM STDIN to several shards needs a column list"));
    }
    co_await set.wait_ready();
    if (atomic) {
        if (copy_in) co_await proxy.txn().rollback(set);
        else if (std::string failed = co_await set.finish_atomic(false); !failed.empty()) co_return failed;
    }
    set.give_back();
    if (legs) set.legs(*legs);
    if (replicated) set.keep_first_reply_only();
    if (copy_in)
        co_return error_reply("0A000", "COPY FROM STDIN into a sharded table needs its column list, "
                                       "e.g. COPY items (id, name) FROM STDIN, so rows can be split by shard key");
    co_return set.merged_reply();
}

awaitable<std::string> run_fanout_frames(Proxy& proxy, const UserConfig& user, const std::vector<uint16_t>& shards,
                                         const std::map<std::string, std::string>& settings,
                                         const std::function<std::string(ServerConn&)>& build, bool atomic,
                                         std::vector<stats::ShardLeg>* legs, bool replicated) {
    ShardSet set(proxy, user, shards.size());
    if (atomic) {
        if (auto refusal = txn::participants_refusal(proxy.config(), shards.size()))
            co_return error_reply(refusal->sqlstate, refusal->message);
    }
    if (auto err = co_await set.acquire(shards)) co_return error_reply(err->sqlstate, err->message);
    if (std::string failed = co_await set.apply_settings(settings); !failed.empty()) co_return failed;
    auto send = [&](size_t i) -> awaitable<void> {
        ServerConn& s = set.server(i);
        std::string out;
        s.add_quiet_query(out, settings_sync_statements(s.applied_settings(), settings));
        if (atomic) s.add_quiet_query(out, "BEGIN");
        out += build(s);
        set.note_sent(i, out.size());
        co_await set.write(i, out);
    };
    if (atomic) {
        co_await set.run_in_shard_order(send);
    } else {
        for (size_t i = 0; i < set.size(); ++i) co_await send(i);
    }
    co_await set.wait_ready();
    if (atomic) {
        if (std::string failed = co_await set.finish_atomic(true); !failed.empty()) co_return failed;
    }
    set.give_back();
    if (legs) set.legs(*legs);
    if (replicated) set.keep_first_reply_only();
    co_return set.merged_reply(true);
}

awaitable<std::string> run_pieces_atomic(Proxy& proxy, const UserConfig& user, const std::vector<BatchPiece>& pieces,
                                         const std::map<std::string, std::string>& settings,
                                         const std::function<std::string(size_t, ServerConn&)>& build) {
    std::vector<uint16_t> shards;
    for (const auto& p : pieces) shards.push_back(p.shard);
    std::sort(shards.begin(), shards.end());
    shards.erase(std::unique(shards.begin(), shards.end()), shards.end());
    if (auto refusal = txn::participants_refusal(proxy.config(), shards.size()))
        co_return error_reply(refusal->sqlstate, refusal->message);
    ShardSet set(proxy, user, shards.size());
    if (auto err = co_await set.acquire(shards)) co_return error_reply(err->sqlstate, err->message);
    if (std::string failed = co_await set.apply_settings(settings); !failed.empty()) co_return failed;
    std::vector<bool> begun(shards.size(), false), wrote(shards.size(), false);
    std::string reply;
    bool failed = false;
    for (size_t i = 0; i < pieces.size() && !failed; ++i) {
        const size_t k = set.index_of_shard(pieces[i].shard);
        ServerConn& s = set.server(k);
        set.sink().reset_one(k);
        if (!s.usable()) {
            failed = true;
            break;
        }
        std::string out;
        if (!begun[k]) {
            s.add_quiet_query(out, settings_sync_statements(s.applied_settings(), settings));
            s.add_quiet_query(out, "BEGIN");
            begun[k] = true;
        }
        wrote[k] = wrote[k] || pieces[i].writes;
        out += build(i, s);
        // Our Sync ends the piece (inside the transaction: it commits nothing).
        wire::MessageWriter w(out);
        w.empty_message('S');
        s.expect(ServerConn::Expect::Ready);
        s.set_synced(true);
        co_await set.write(k, out);
        while (!set.sink().replies()[k].ready) co_await set.sink().done().wait();
        const ShardReply& r = set.sink().replies()[k];
        reply += r.raw;
        if (r.lost) {
            std::string e = error_reply("08006", fmt::format("shard \"{}\": {}", r.shard_name, r.error_message));
            reply += e.substr(0, e.size() - 6);  // without its ReadyForQuery
        }
        // As PostgreSQL skips the rest of a batch after an error, so do we.
        failed = r.lost || !r.error.empty();
    }
    if (failed) {
        co_await proxy.txn().rollback(set);
        reply.append({'Z', 0, 0, 0, 5, 'I'});
        co_return reply;
    }
    txn::CommitResult c = co_await proxy.txn().commit(set, wrote);
    if (!c.committed()) co_return reply + error_reply(c.sqlstate, c.message, c.detail);
    reply.append({'Z', 0, 0, 0, 5, 'I'});
    co_return reply;
}

struct CopyFanout::Impl {
    Impl(Proxy& p, const UserConfig& u) : proxy(p), user(u) {}
    Proxy& proxy;
    const UserConfig& user;
    std::unique_ptr<ShardSet> set;
    bool atomic = false;               // every shard's COPY runs in a transaction, committed as one
    std::vector<std::string> pending;  // CopyData bytes waiting per server
    static constexpr size_t kFlushBytes = 64 * 1024;

    awaitable<void> flush(size_t i) {
        if (pending[i].empty()) co_return;
        std::string msg;
        wire::MessageWriter w(msg);
        w.begin('d');
        w.bytes(pending[i]);
        w.end();
        pending[i].clear();
        co_await set->write(i, msg);
    }
};

CopyFanout::CopyFanout(Proxy& proxy, const UserConfig& user) : impl_(std::make_unique<Impl>(proxy, user)) {}
CopyFanout::~CopyFanout() = default;

awaitable<std::string> CopyFanout::start(const std::string& sql, const std::map<std::string, std::string>& settings,
                                         bool& failed) {
    auto& im = *impl_;
    size_t n = im.proxy.config().shards.size();
    im.set = std::make_unique<ShardSet>(im.proxy, im.user, n);
    im.pending.assign(n, {});
    std::vector<uint16_t> shards;
    for (size_t i = 0; i < n; ++i) shards.push_back(static_cast<uint16_t>(i));
    failed = true;
    im.atomic = txn::atomic_writes(im.proxy.config());
    if (im.atomic) {
        if (auto refusal = txn::participants_refusal(im.proxy.config(), n))
            co_return error_reply(refusal->sqlstate, refusal->message);
    }
    if (auto err = co_await im.set->acquire(shards)) co_return error_reply(err->sqlstate, err->message);
    if (std::string refused = co_await im.set->apply_settings(settings); !refused.empty()) co_return refused;
    for (size_t i = 0; i < n; ++i) co_await im.set->query(i, sql, settings, im.atomic);
    co_await im.set->wait_copying();
    bool all_copy = true;
    for (const auto& r : im.set->sink().replies()) all_copy = all_copy && r.copy && r.error.empty();
    if (!all_copy) {
        // Some shard refused the COPY: abort it on the others, report the refusal.
        std::string fail = copy_fail_frame("COPY refused by another shard");
        for (size_t i = 0; i < n; ++i)
            if (im.set->sink().replies()[i].copy) co_await im.set->write(i, fail);
        co_await im.set->wait_ready();
        if (im.atomic) co_await im.proxy.txn().rollback(*im.set);
        im.set->give_back();
        co_return im.set->merged_reply(false, im.atomic);
    }
    failed = false;
    co_return im.set->sink().replies().front().copy_response;
}

awaitable<void> CopyFanout::row(uint16_t shard, std::string_view data) {
    auto& im = *impl_;
    size_t i = im.set->index_of_shard(shard);
    im.pending[i].append(data);
    if (im.pending[i].size() >= Impl::kFlushBytes) co_await im.flush(i);
}

awaitable<void> CopyFanout::row_to_all(std::string_view data) {
    for (size_t i = 0; i < impl_->pending.size(); ++i) impl_->pending[i].append(data);
    co_return;
}

awaitable<std::string> CopyFanout::finish(bool ok, const std::string& fail_message) {
    auto& im = *impl_;
    for (size_t i = 0; i < im.set->size(); ++i) {
        if (ok) {
            co_await im.flush(i);
            static const char done[5] = {'c', 0, 0, 0, 4};
            co_await im.set->write(i, std::string_view(done, 5));
        } else {
            co_await im.set->write(i, copy_fail_frame(fail_message));
        }
    }
    co_await im.set->wait_ready();
    if (im.atomic) {
        if (std::string failed = co_await im.set->finish_atomic(false); !failed.empty()) co_return failed;
    }
    im.set->give_back();
    co_return im.set->merged_reply();
}

}  // namespace sg::proxy
