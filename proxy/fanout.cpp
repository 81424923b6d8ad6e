#include "proxy/fanout.h"

#include "common/sqlstate.h"
#include "proxy/fanout_pieces.h"
#include "proxy/fanout_shard_set.h"

#include "proxy/fanout_legs.h"
#include "proxy/notice_merge.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>
#include <optional>

#include "proxy/pool.h"
#include "proxy/proxy.h"
#include "proxy/server_conn.h"
#include "proxy/session_settings.h"
#include "proxy/shard_request.h"
#include "proxy/spawn.h"
#include "proxy/txn/coordinator.h"
#include "proxy/txn/participants.h"
#include "proxy/txn/policy.h"
#include "proxy/wire/messages/copy.h"
#include "proxy/wire/messages/error_response.h"
#include "proxy/wire/messages/session_status.h"
#include "proxy/wire/protocol.h"
#include "proxy/wire/writer.h"

namespace sg::proxy {

namespace asio = net::asio;
using namespace fanout_detail;

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

awaitable<std::string> run_fanout(Proxy& proxy, const UserConfig& user,
                                  const std::vector<ShardQuery>& queries,
                                  const std::map<std::string, std::string>& settings,
                                  bool replicated, bool atomic,
                                  std::vector<stats::ShardLeg>* legs) {
    ShardSet set(proxy, user, queries.size());
    std::vector<uint16_t> shards;
    std::vector<int> endpoints;
    for (const auto& q : queries) {
        shards.push_back(q.shard);
        endpoints.push_back(atomic ? -1
                                   : q.read_endpoint);  // (a write is never planned on a standby)
    }
    if (atomic) {
        if (auto refusal = txn::participants_refusal(proxy.config(), shards.size()))
            co_return error_reply(refusal->sqlstate, refusal->message);
    }
    if (auto err = co_await set.acquire(shards, &endpoints))
        co_return error_reply(err->sqlstate, err->message);
    if (std::string failed = co_await set.apply_settings(settings); !failed.empty())
        co_return failed;
    if (atomic) {
        co_await set.run_in_shard_order([&](size_t i) -> awaitable<void> {
            co_await set.query(i, queries[i].sql, settings, true);
        });
    } else {
        for (size_t i = 0; i < queries.size(); ++i) co_await set.query(i, queries[i].sql, settings);
    }
    co_await set.wait_copying();
    bool copy_in = false;
    for (size_t i = 0; i < set.size(); ++i) {
        if (!set.sink().replies()[i].copy_in) continue;
        // A COPY FROM that was not recognised as one to split: end it on every shard.
        copy_in = true;
        co_await set.write(
            i, copy_fail_frame("COPY FROM STDIN to several shards needs a column list"));
    }
    co_await set.wait_ready();
    if (atomic) {
        if (copy_in)
            co_await proxy.txn().rollback(set);
        else if (std::string failed = co_await set.finish_atomic(false); !failed.empty())
            co_return failed;
    }
    set.give_back();
    if (legs) set.legs(*legs);
    if (replicated) set.keep_first_reply_only();
    if (copy_in)
        co_return error_reply(
            sqlstate::kFeatureNotSupported,
            "COPY FROM STDIN into a sharded table needs its column list, "
            "e.g. COPY items (id, name) FROM STDIN, so rows can be split by shard key");
    co_return set.merged_reply();
}

awaitable<std::string> run_fanout_frames(Proxy& proxy, const UserConfig& user,
                                         const std::vector<uint16_t>& shards,
                                         const std::map<std::string, std::string>& settings,
                                         const std::function<std::string(ServerConn&)>& build,
                                         bool atomic, std::vector<stats::ShardLeg>* legs,
                                         bool replicated, const std::vector<int>* endpoints) {
    ShardSet set(proxy, user, shards.size());
    if (atomic) {
        if (auto refusal = txn::participants_refusal(proxy.config(), shards.size()))
            co_return error_reply(refusal->sqlstate, refusal->message);
    }
    // (a write is never planned on a standby; an atomic statement takes the primaries regardless)
    const std::vector<int>* legs_at =
        atomic || !endpoints || endpoints->size() != shards.size() ? nullptr : endpoints;
    if (auto err = co_await set.acquire(shards, legs_at))
        co_return error_reply(err->sqlstate, err->message);
    if (std::string failed = co_await set.apply_settings(settings); !failed.empty())
        co_return failed;
    auto send = [&](size_t i) -> awaitable<void> {
        ServerConn& s = set.server(i);
        std::string out;
        ShardRequest(out, s).quiet_query(settings_sync_statements(s.applied_settings(), settings));
        if (atomic) ShardRequest(out, s).quiet_query("BEGIN");
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
        if (std::string failed = co_await set.finish_atomic(true); !failed.empty())
            co_return failed;
    }
    set.give_back();
    if (legs) set.legs(*legs);
    if (replicated) set.keep_first_reply_only();
    co_return set.merged_reply(true);
}

awaitable<std::string> run_pieces_atomic(
    Proxy& proxy, const UserConfig& user, const std::vector<BatchPiece>& pieces,
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
    if (std::string failed = co_await set.apply_settings(settings); !failed.empty())
        co_return failed;
    // Each shard's part in a transaction of its own, ended below for all of them as one.
    PiecesOutcome o =
        co_await pipeline_pieces(set, pieces, build, [&](ServerConn& s, std::string& out) {
            ShardRequest(out, s).quiet_query(
                settings_sync_statements(s.applied_settings(), settings));
            ShardRequest(out, s).quiet_query("BEGIN");
        });
    if (o.failed) {
        co_await proxy.txn().rollback(set);
        wire::append_ready_for_query(o.reply, 'I');
        co_return o.reply;
    }
    txn::CommitResult c = co_await proxy.txn().commit(set, o.wrote);
    if (!c.committed()) co_return o.reply + error_reply(c.sqlstate, c.message, c.detail);
    wire::append_ready_for_query(o.reply, 'I');
    co_return o.reply;
}

struct CopyFanout::Impl {
    Impl(Proxy& p, const UserConfig& u) : proxy(p), user(u) {}
    Proxy& proxy;
    const UserConfig& user;
    std::unique_ptr<ShardSet> set;
    bool atomic = false;               // every shard's COPY runs in a transaction, committed as one
    bool held = false;                 // on a client transaction's participants (start_held)
    bool failed = false;               // some shard's COPY failed
    std::vector<std::string> pending;  // CopyData bytes waiting per server
    static constexpr size_t kFlushBytes = 64 * 1024;

    awaitable<void> flush(size_t i) {
        if (pending[i].empty()) co_return;
        std::string msg;
        wire::MessageWriter w(msg);
        wire::encode(wire::CopyData{wire::as_bytes(pending[i])}, w);
        pending[i].clear();
        co_await set->write(i, msg);
    }
};

CopyFanout::CopyFanout(Proxy& proxy, const UserConfig& user)
    : impl_(std::make_unique<Impl>(proxy, user)) {}
CopyFanout::~CopyFanout() = default;

awaitable<std::string> CopyFanout::start(const std::string& sql,
                                         const std::map<std::string, std::string>& settings,
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
    if (auto err = co_await im.set->acquire(shards))
        co_return error_reply(err->sqlstate, err->message);
    if (std::string refused = co_await im.set->apply_settings(settings); !refused.empty())
        co_return refused;
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

awaitable<std::string> CopyFanout::start_held(const std::vector<HeldLeg>& legs,
                                              const std::string& sql,
                                              const std::map<std::string, std::string>& settings,
                                              bool& failed) {
    auto& im = *impl_;
    im.held = true;
    im.set = std::make_unique<ShardSet>(im.proxy, im.user, legs.size());
    im.pending.assign(legs.size(), {});
    for (const auto& leg : legs) im.set->adopt(leg.conn);
    failed = true;
    im.failed = true;
    if (std::string refused = co_await prepare_held_legs(*im.set, legs, settings);
        !refused.empty()) {
        im.set->hand_back();
        co_return refused;
    }
    for (size_t i = 0; i < legs.size(); ++i) co_await im.set->query_after(i, std::string(), sql);
    co_await im.set->wait_copying();
    bool all_copy = true;
    for (const auto& r : im.set->sink().replies()) all_copy = all_copy && r.copy && r.error.empty();
    if (!all_copy) {
        std::string fail = copy_fail_frame("COPY refused by another shard");
        for (size_t i = 0; i < legs.size(); ++i)
            if (im.set->sink().replies()[i].copy) co_await im.set->write(i, fail);
        co_await im.set->wait_ready();
        im.set->hand_back();
        co_return im.set->merged_reply(false, true);
    }
    failed = false;
    im.failed = false;
    co_return im.set->sink().replies().front().copy_response;
}

bool CopyFanout::failed() const {
    return impl_->failed;
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
            std::string done;
            wire::MessageWriter(done).empty_message(wire::fe::kCopyDone);
            co_await im.set->write(i, done);
        } else {
            co_await im.set->write(i, copy_fail_frame(fail_message));
        }
    }
    co_await im.set->wait_ready();
    im.failed = !ok || !im.set->all_succeeded();
    if (im.held) {
        // The transaction's participants go back to it; a failure fails the transaction.
        im.set->hand_back();
        co_return im.set->merged_reply(false, true);
    }
    if (im.atomic) {
        if (std::string failed = co_await im.set->finish_atomic(false); !failed.empty())
            co_return failed;
    }
    im.set->give_back();
    co_return im.set->merged_reply();
}

}  // namespace sg::proxy
