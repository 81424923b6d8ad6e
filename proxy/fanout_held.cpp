#include "proxy/fanout_held.h"

#include "common/sqlstate.h"
#include "proxy/fanout_pieces.h"
#include "proxy/fanout_shard_set.h"
#include "proxy/wire/messages/session_status.h"

namespace sg::proxy {

using namespace fanout_detail;

namespace fanout_detail {

awaitable<std::string> prepare_held_legs(ShardSet& set, const std::vector<HeldLeg>& legs,
                                         const std::map<std::string, std::string>& settings) {
    // A joining connection comes from the pool and gets the settings before its BEGIN; a
    // participant already in the transaction carries them (the session checked).
    if (std::string failed = co_await set.apply_settings(settings); !failed.empty())
        co_return failed;
    bool joining = false;
    std::vector<std::string> joins;
    for (const auto& leg : legs) {
        joins.push_back(leg.join);
        joining = joining || !leg.join.empty();
    }
    if (!joining) co_return std::string();
    std::vector<txn::StepOutcome> joined = co_await set.step(joins);
    for (size_t i = 0; i < legs.size(); ++i) {
        const bool in_txn = legs[i].conn->usable() && legs[i].conn->tx_status() == 'T';
        if (joined[i].ok && (joins[i].empty() || in_txn)) continue;
        std::string why = joined[i].message.empty()
                              ? std::string("it did not start the transaction")
                              : joined[i].message;
        co_return error_reply(
            joined[i].lost
                ? sqlstate::kConnectionFailure
                : (joined[i].sqlstate.empty() ? sqlstate::kInternalError : joined[i].sqlstate),
            fmt::format("joining shard \"{}\" to the transaction: {}",
                        legs[i].conn->target().shard_name, why));
    }
    // The join's replies are not the statement's; which shard each leg is stays.
    set.sink().reset();
    for (size_t i = 0; i < legs.size(); ++i)
        set.sink().replies()[i].shard = legs[i].conn->target().shard;
    co_return std::string();
}

}  // namespace fanout_detail

awaitable<HeldFanoutResult> run_fanout_held(Proxy& proxy, const UserConfig& user,
                                            const std::vector<HeldLeg>& legs,
                                            const std::map<std::string, std::string>& settings,
                                            bool replicated, bool in_shard_order,
                                            std::vector<stats::ShardLeg>* leg_stats) {
    HeldFanoutResult out;
    ShardSet set(proxy, user, legs.size());
    for (const auto& leg : legs) set.adopt(leg.conn);
    if (std::string failed = co_await prepare_held_legs(set, legs, settings); !failed.empty()) {
        set.hand_back();
        co_return HeldFanoutResult{std::move(failed), true};
    }
    auto send = [&](size_t i) -> awaitable<void> {
        co_await set.query_after(i, std::string(), legs[i].sql);
    };
    if (in_shard_order) {
        co_await set.run_in_shard_order(send);
    } else {
        for (size_t i = 0; i < legs.size(); ++i) co_await send(i);
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
    out.failed = copy_in || !set.all_succeeded() || set.sink().overflowed();
    if (copy_in) {
        set.hand_back();
        co_return HeldFanoutResult{
            error_reply(
                sqlstate::kFeatureNotSupported,
                "COPY FROM STDIN into a sharded table needs its column list, e.g. COPY items (id, "
                "name) FROM STDIN, so rows can be split by shard key"),
            true};
    }
    if (leg_stats) set.legs(*leg_stats);
    if (replicated && !out.failed) set.keep_first_reply_only();
    // (atomic: a failed part fails the whole transaction; none of this statement's changes stay)
    out.reply = set.merged_reply(false, true);
    set.hand_back();
    co_return out;
}

awaitable<HeldFanoutResult> run_fanout_frames_held(
    Proxy& proxy, const UserConfig& user, const std::vector<HeldLeg>& legs,
    const std::map<std::string, std::string>& settings,
    const std::function<std::string(size_t, ServerConn&)>& build, bool in_shard_order,
    std::vector<stats::ShardLeg>* leg_stats, bool replicated) {
    ShardSet set(proxy, user, legs.size());
    for (const auto& leg : legs) set.adopt(leg.conn);
    if (std::string failed = co_await prepare_held_legs(set, legs, settings); !failed.empty()) {
        set.hand_back();
        co_return HeldFanoutResult{std::move(failed), true};
    }
    auto send = [&](size_t i) -> awaitable<void> {
        std::string out = build(i, set.server(i));
        set.note_sent(i, out.size());
        co_await set.write(i, out);
    };
    if (in_shard_order) {
        co_await set.run_in_shard_order(send);
    } else {
        for (size_t i = 0; i < set.size(); ++i) co_await send(i);
    }
    co_await set.wait_ready();
    HeldFanoutResult out;
    out.failed = !set.all_succeeded() || set.sink().overflowed();
    if (leg_stats) set.legs(*leg_stats);
    if (replicated && !out.failed) set.keep_first_reply_only();
    out.reply = set.merged_reply(true, true);
    set.hand_back();
    co_return out;
}

awaitable<HeldFanoutResult> run_pieces_held(
    Proxy& proxy, const UserConfig& user, const std::vector<HeldLeg>& legs,
    const std::map<std::string, std::string>& settings, const std::vector<BatchPiece>& pieces,
    const std::function<std::string(size_t, ServerConn&)>& build) {
    ShardSet set(proxy, user, legs.size());
    for (const auto& leg : legs) set.adopt(leg.conn);
    if (std::string failed = co_await prepare_held_legs(set, legs, settings); !failed.empty()) {
        set.hand_back();
        co_return HeldFanoutResult{std::move(failed), true};
    }
    // No prelude: the participants carry the session's settings and are in the transaction.
    PiecesOutcome o = co_await pipeline_pieces(set, pieces, build, {});
    set.hand_back();
    wire::append_ready_for_query(o.reply, 'T');
    HeldFanoutResult out;
    out.reply = std::move(o.reply);
    out.failed = o.failed;
    co_return out;
}

}  // namespace sg::proxy
