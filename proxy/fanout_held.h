// One simple-protocol statement on several shards inside a client's open transaction: each
// shard's part runs on the transaction's own server connection there (its participant), so a
// read sees the transaction's uncommitted writes and a write stays open until the client's
// COMMIT (the commit protocol, txn/coordinator.h) or ROLLBACK ends it on every participant.
// The replies are merged exactly as the autocommit fan-out merges them (fanout.h).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "proxy/fanout.h"
#include "proxy/net.h"
#include "proxy/stats/shard_figures.h"

namespace sg::proxy {

class Proxy;
class ServerConn;

struct HeldLeg {
    std::shared_ptr<ServerConn> conn;  // the caller's; handed back detached
    // A shard joining the transaction now: its BEGIN (and the open savepoints), run and
    // checked before the statement; empty for a participant already in the transaction.
    std::string join;
    std::string sql;  // this shard's part of the statement
};

struct HeldFanoutResult {
    // The merged reply up to and including a ReadyForQuery whose status byte the caller sets.
    std::string reply;
    // Some part failed (an error, a lost connection, a join or settings failure): the
    // transaction is failed, as PostgreSQL's is after any error in it.
    bool failed = false;
};

// `in_shard_order`: run the parts one shard after another in shard order, stopping at the
// first failure (writes: two such transactions then take row locks in the same order);
// otherwise all at once (reads). `replicated`: a reference-table write, reported once.
// Every wait is bounded: the join by [transactions] step_timeout_ms, the settings by 10 s;
// the statement itself as any statement (statement_timeout, the client's cancel).
net::awaitable<HeldFanoutResult> run_fanout_held(Proxy& proxy, const UserConfig& user,
                                                 const std::vector<HeldLeg>& legs,
                                                 const std::map<std::string, std::string>& settings,
                                                 bool replicated, bool in_shard_order,
                                                 std::vector<stats::ShardLeg>* leg_stats);

// The extended-protocol form: `build(i, server)` returns leg i's frames (translated for that
// server, ending with Sync, its replies expected); the reply keeps the first leg's
// ParseComplete/BindComplete/descriptions, every leg's rows and one merged CommandComplete.
net::awaitable<HeldFanoutResult> run_fanout_frames_held(
    Proxy& proxy, const UserConfig& user, const std::vector<HeldLeg>& legs,
    const std::map<std::string, std::string>& settings,
    const std::function<std::string(size_t, ServerConn&)>& build, bool in_shard_order,
    std::vector<stats::ShardLeg>* leg_stats, bool replicated = false);

// An extended-protocol batch whose Binds go to several shards, inside the transaction: its
// pieces pipelined on the participants (fanout_pieces.h), replies in batch order up to the
// first failed piece, which fails the transaction (what other shards ran beyond it is undone
// with the failed transaction, by ROLLBACK or ROLLBACK TO SAVEPOINT). `legs`: one per shard
// the pieces go to. The reply ends with a ReadyForQuery whose status byte the caller sets.
net::awaitable<HeldFanoutResult> run_pieces_held(
    Proxy& proxy, const UserConfig& user, const std::vector<HeldLeg>& legs,
    const std::map<std::string, std::string>& settings, const std::vector<BatchPiece>& pieces,
    const std::function<std::string(size_t, ServerConn&)>& build);

}  // namespace sg::proxy
