// Deadlocks that span shards: the pure part (no I/O). Each PostgreSQL detects the deadlocks
// among its own backends; a cycle whose waits lie on two or more shards goes through a
// transaction that holds backends on several of them, which no single PostgreSQL sees as one.
// The proxy knows which backends are one transaction: it joins the shards' lock waits through
// those transactions and finds such cycles.
//
// Nodes are this proxy's transactions spanning shards (every backend of one is one node) and,
// for every other backend, the backend itself (shard, pid). An edge "a waits for b on shard s"
// comes from pg_blocking_pids() on s. A cycle must change shards, and it can only do so at a
// node that has backends on both: a transaction of this proxy. So a strongly connected set of
// nodes whose edges lie on two or more shards and that holds one of this proxy's transactions
// is a deadlock no PostgreSQL will break. (A set that is strongly connected only through
// single-shard cycles joined at one transaction waiting on two shards at once, in a fan-out,
// also passes; PostgreSQL breaks those itself within its deadlock_timeout, before the proxy
// looks, so they are gone by then.)
//
// Across proxies: another proxy's transaction appears here as unrelated backends, so a cycle
// through transactions of two proxies is not seen (it ends at lock_timeout/statement_timeout).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sg::proxy::txn {

// One backend of one of this proxy's transactions spanning shards.
struct TxnBackend {
    uint64_t txn = 0;  // the transaction's id (the session's)
    int shard = 0;
    int32_t pid = 0;
};

// One waiting backend on a shard and the backends it waits for (pg_blocking_pids). A zero pid
// stands for a prepared transaction, which waits for nothing and is finished by its coordinator.
struct LockWait {
    int shard = 0;
    int32_t pid = 0;
    std::vector<int32_t> blockers;
};

// A transaction to cancel, and the backends of it that wait inside the cycle.
struct DeadlockVictim {
    uint64_t txn = 0;
    std::vector<std::pair<int, int32_t>> waiting;  // (shard, pid)
    std::vector<uint64_t> cycle;                   // this proxy's transactions in the cycle
    std::vector<int> shards;                       // the shards its waits lie on
};

// The deadlocks in `waits`, one victim each: of the cycle's transactions, the one that started
// last (`started`: each transaction's start, any monotonic unit; ties: the larger id), so the
// oldest work survives. `backends` lists the backends of each of this proxy's transactions.
std::vector<DeadlockVictim> find_deadlocks(const std::vector<TxnBackend>& backends,
                                           const std::vector<std::pair<uint64_t, int64_t>>& started,
                                           const std::vector<LockWait>& waits);

// "{12,34}" (pg_blocking_pids as text) -> {12, 34}; empty on anything else.
std::vector<int32_t> parse_pid_array(const std::string& text);

}  // namespace sg::proxy::txn
