// The commit protocol of work spanning several shards (one proxy-wide instance).
//
// Every participant runs its part inside its own transaction (BEGIN; statements). Ending it:
//   * one participant that wrote (others only read): a plain COMMIT on each — nothing else to
//     agree on, no extra round trip;
//   * several that wrote: two-phase commit.
//       1. PREPARE TRANSACTION 'gid' on every writer (readers COMMIT at the same time). The
//          coordinator (the lowest-numbered writing shard) first inserts gid into
//          shardgate.commit_decisions, inside its own transaction.
//       2. COMMIT PREPARED on the coordinator. This is the decision: the decision row becomes
//          durable exactly when the coordinator's part commits, so "the coordinator's prepared
//          transaction committed" and "the decision is commit" are one fact, stored on a shard
//          (it survives the proxy and is shared by every proxy, no extra server needed).
//       3. COMMIT PREPARED on every other writer. A failure here (a shard down) does not change
//          the outcome: the decision stands and recovery (recovery.h) drives the commit forward.
//     Any failure before step 2 rolls every participant back; the client gets the first error.
//
// Recovery resolves a leftover prepared transaction from the coordinator alone: still prepared
// there means undecided (roll back everywhere, the coordinator first); gone with a decision row
// means commit; gone without one means roll back. It must never act on a transaction whose
// proxy is still running it, which the in-flight registry below (for this proxy) and the grace
// period (for other proxies; every protocol step is bounded by step_timeout_ms) guarantee.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/config.h"
#include "proxy/net.h"
#include "proxy/txn/latency_histogram.h"
#include "proxy/txn/participants.h"

namespace sg::proxy::txn {

struct CommitResult {
    enum class Kind { Committed, Failed, Unknown };
    Kind kind = Kind::Committed;
    std::string sqlstate, message, detail;
    bool committed() const { return kind == Kind::Committed; }
};

struct TxnCounters {
    std::atomic<uint64_t> single_shard_commits{0};
    std::atomic<uint64_t> two_phase_commits{0};
    std::atomic<uint64_t> aborts{0};
    std::atomic<uint64_t> unknown_outcomes{0};
    std::atomic<uint64_t> recovered_commits{0};
    std::atomic<uint64_t> recovered_rollbacks{0};
    std::atomic<uint64_t> deadlocks{0};  // deadlocks across shards broken (deadlock_detector.h)
    LatencyHistogram two_phase_latency;  // COMMIT of a transaction where several shards wrote
    LatencyHistogram single_latency;     // COMMIT where at most one participant wrote
};

// A two-phase commit this proxy is running (SHOW TRANSACTIONS).
struct InFlight {
    std::string gid;
    std::vector<std::string> shards;
    std::string phase;  // preparing, deciding, committing, rolling back
    net::Clock::time_point started;
};

// The decision table's DDL (idempotent), run on every shard before it coordinates.
extern const char* const kDecisionTableDdl;

class Coordinator {
public:
    explicit Coordinator(const Config& cfg);

    const std::string& instance() const { return instance_; }
    uint64_t epoch_us() const { return epoch_us_; }
    const TransactionsConfig& config() const { return cfg_; }
    void reconfigure(const TransactionsConfig& cfg) { cfg_ = cfg; }

    // Ends every participant's open transaction, all or nothing. wrote[i]: participant i may
    // have changed something (a reader commits without PREPARE).
    net::awaitable<CommitResult> commit(Participants& p, const std::vector<bool>& wrote);
    // ROLLBACK on every participant whose connection still works.
    net::awaitable<void> rollback(Participants& p);

    // Thread-safe (recovery runs on its own thread).
    bool in_flight(const std::string& gid) const;
    std::vector<InFlight> snapshot() const;
    TxnCounters& counters() { return counters_; }
    void mark_table_ready(int shard);
    bool table_ready(int shard) const;
    // Called when a transaction is left to recovery (a shard broke mid-protocol).
    void on_leftover(std::function<void()> f) { kick_ = std::move(f); }

private:
    std::string next_gid(int coordinator_shard);
    void begin_flight(const std::string& gid, Participants& p, const std::vector<size_t>& writers);
    void set_phase(const std::string& gid, const char* phase);
    void end_flight(const std::string& gid, bool leftover);

    TransactionsConfig cfg_;
    std::string instance_;
    uint64_t epoch_us_ = 0;
    uint64_t sequence_ = 0;
    TxnCounters counters_;
    mutable std::mutex mu_;  // guards the two maps below
    std::map<std::string, InFlight> in_flight_;
    std::map<int, bool> table_ready_;
    std::function<void()> kick_;
};

}  // namespace sg::proxy::txn
