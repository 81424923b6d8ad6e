// Running one simple-protocol statement on several shards and merging the replies into the
// single reply the client expects: one RowDescription, every shard's rows, one CommandComplete
// with the summed count. Only used outside transactions (each shard commits on its own), and
// only for statements the router says may be answered by concatenation.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/config.h"
#include "proxy/net.h"
#include "proxy/stats/shard_figures.h"

namespace sg::proxy {

struct HeldLeg;  // fanout_held.h

class Proxy;

struct ShardQuery {
    uint16_t shard = 0;
    std::string sql;
    // A read's standby endpoint on that shard (Proxy::read_or_primary_pool); -1: the primary.
    int read_endpoint = -1;
};

// Returns the complete reply for the client, up to and including ReadyForQuery ('I').
// `settings` are the session's settings, applied on each server first.
// `replicated`: the shards hold copies of one table (reference tables): the reply is one
// shard's, not the sum.
// `atomic`: every shard runs its part in a transaction, and they commit as one (two-phase
// commit, proxy/txn/coordinator.h) or all roll back; the client gets the first error.
// `legs` (statistics), when given, is set to each shard's part: its time, rows, bytes, error.
net::awaitable<std::string> run_fanout(Proxy& proxy, const UserConfig& user,
                                       const std::vector<ShardQuery>& queries,
                                       const std::map<std::string, std::string>& settings,
                                       bool replicated = false, bool atomic = false,
                                       std::vector<stats::ShardLeg>* legs = nullptr);

// One extended-protocol batch (Parse/Bind/Describe/Execute/Sync of one statement) on several
// shards: `build` returns the frames for one server (translated for it, ending with Sync and
// with its replies expected). The reply keeps the first shard's ParseComplete/BindComplete/
// descriptions, every shard's rows and one merged CommandComplete; `replicated` as above
// (a reference-table write reports one copy's count, as the one table's would be).
// `endpoints` (one per shard, when given): a read's standby endpoint on that shard, -1 the
// primary, as ShardQuery::read_endpoint; ignored for an atomic statement.
net::awaitable<std::string> run_fanout_frames(
    Proxy& proxy, const UserConfig& user, const std::vector<uint16_t>& shards,
    const std::map<std::string, std::string>& settings,
    const std::function<std::string(class ServerConn&)>& build, bool atomic = false,
    std::vector<stats::ShardLeg>* legs = nullptr, bool replicated = false,
    const std::vector<int>* endpoints = nullptr);

// An extended-protocol batch whose Binds go to several shards, outside a transaction: its
// pieces (consecutive messages for one shard) run in order, each shard inside one transaction,
// and the shards commit as one at the batch's Sync (two-phase commit when several wrote) or all
// roll back after the first error, as PostgreSQL does with the implicit transaction of a
// batch. `build(i, server)` returns piece i's translated frames (without Sync). The reply holds
// every piece's replies in order and one ReadyForQuery.
struct BatchPiece {
    uint16_t shard = 0;
    bool writes = true;  // false: only reads (its shard may commit without PREPARE)
};
net::awaitable<std::string> run_pieces_atomic(
    Proxy& proxy, const UserConfig& user, const std::vector<BatchPiece>& pieces,
    const std::map<std::string, std::string>& settings,
    const std::function<std::string(size_t, class ServerConn&)>& build);

// COPY ... FROM STDIN split by row: every shard gets the COPY statement, the client one
// CopyInResponse, and each row goes to the shard owning its key. Built by the session, which
// owns the client's byte stream. With [transactions] two_phase_commit the shards' COPYs commit
// as one or not at all.
class CopyFanout {
public:
    CopyFanout(Proxy& proxy, const UserConfig& user);
    ~CopyFanout();
    // Starts COPY on every shard. Returns the CopyInResponse to relay, or (on failure) the
    // complete error reply up to ReadyForQuery, with `failed` set.
    net::awaitable<std::string> start(const std::string& sql,
                                      const std::map<std::string, std::string>& settings,
                                      bool& failed);
    // The same inside a transaction, on its participants (`legs`, one per shard, in shard
    // order; fanout_held.h): no transaction of the COPY's own; it commits or rolls back with
    // the client's transaction, and a failure fails that transaction.
    net::awaitable<std::string> start_held(const std::vector<HeldLeg>& legs, const std::string& sql,
                                           const std::map<std::string, std::string>& settings,
                                           bool& failed);
    // After finish(): whether some shard's COPY failed (inside a transaction: it is failed).
    bool failed() const;
    // Queues a row for `shard`; sends it once enough is buffered.
    net::awaitable<void> row(uint16_t shard, std::string_view data);
    // A row every shard needs (the CSV header).
    net::awaitable<void> row_to_all(std::string_view data);
    // CopyDone (ok) or CopyFail (with the client's message): returns the merged reply.
    net::awaitable<std::string> finish(bool ok, const std::string& fail_message);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Merges CommandComplete tags of the same command from several shards ("UPDATE 3" +
// "UPDATE 4" = "UPDATE 7"; "INSERT 0 2" + "INSERT 0 1" = "INSERT 0 3"; "CREATE TABLE" stays).
std::string merge_command_tags(const std::vector<std::string>& tags);

}  // namespace sg::proxy
