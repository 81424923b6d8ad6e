// N+1 detection: a client that runs one statement and then the same other statement again and
// again with different parameters (the ORM loop "for each order: SELECT ... WHERE id = $1").
//
// Per client, a run is a sequence of calls of one fingerprint, each with parameters different
// from the call before it, that follows a different statement (the source) without a break.
// Calls are connected while both are inside a transaction, or when the gap between the end of
// one and the start of the next is at most the window (autocommit). A run that reaches
// min_repeats is one burst: flagged once, counted per (source, repeated) fingerprint pair;
// later calls of the same run add to that burst. A burst with a call that touched more than
// one shard is a fan-out N+1: every repeat costs a round trip to every shard.
// Transaction control (BEGIN, COMMIT, SET, ...) is transparent: it neither extends nor breaks
// a run. A statement without parameters can never repeat "with different parameters".
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>

#include "proxy/stats/query_event.h"
#include "proxy/stats/shape_cache.h"

namespace sg::stats {

inline constexpr const char* kNPlusOneAdvice =
    "fetch them in one statement with = ANY($1) or a join";

struct NPlusOneFinding {
    std::shared_ptr<const Shape> source, repeated;
    std::string user, database;  // of the latest burst
    uint64_t bursts = 0;         // flagged runs
    uint64_t fanout_bursts = 0;  // bursts in which a repeat touched more than one shard
    uint64_t repeats = 0;        // calls of `repeated` inside flagged bursts
    uint64_t max_burst = 0;      // the longest burst, in calls
    uint64_t total_ns = 0;       // client-visible time of those calls
    bool fanout() const { return fanout_bursts > 0; }
};

class NPlusOneDetector {
public:
    static constexpr int64_t kDefaultWindowNs = 100'000'000;  // 100 ms between statements

    NPlusOneDetector(int min_repeats, int64_t window_ns = kDefaultWindowNs,
                     size_t max_findings = 1000);

    void set_min_repeats(int n) { min_repeats_ = n; }
    void set_max_findings(size_t n) { max_findings_ = n; }
    // Feeds one statement of e.client_id that ran over [start_ns, end_ns]. True when it
    // completed a new burst (the moment a finding is counted).
    bool observe(const QueryEvent& e, const std::shared_ptr<const Shape>& shape, int64_t start_ns,
                 int64_t end_ns);
    // The client disconnected: its run state goes.
    void forget_client(uint64_t client_id) { trails_.erase(client_id); }
    // RESET QUERIES: findings go; runs in progress start over.
    void clear();

    using Key = std::pair<uint64_t, uint64_t>;  // (source fingerprint, repeated fingerprint)
    struct KeyHash {
        size_t operator()(const Key& k) const { return k.first * 0x9E3779B97F4A7C15ull ^ k.second; }
    };
    const std::unordered_map<Key, NPlusOneFinding, KeyHash>& findings() const { return findings_; }
    // Bursts ever flagged (survives clear(), for counters that only go up).
    uint64_t bursts_total() const { return bursts_total_; }
    uint64_t dropped_findings() const { return dropped_; }
    size_t clients() const { return trails_.size(); }

private:
    struct Trail {
        std::shared_ptr<const Shape> previous;  // the last application statement
        std::shared_ptr<const Shape> source;    // the statement before the current run
        int64_t last_end_ns = 0;
        bool last_in_tx = false;
        uint64_t last_param = 0;
        uint64_t run = 0;         // calls in the current run
        uint64_t run_ns = 0;      // their client-visible time
        bool run_fanout = false;  // a call of the run touched more than one shard
        bool flagged = false;     // the run is a counted burst
    };
    void start_run(Trail& t, const QueryEvent& e, const std::shared_ptr<const Shape>& shape,
                   bool connected);
    void extend_run(Trail& t, const QueryEvent& e);
    bool flag_burst(Trail& t, const QueryEvent& e);
    NPlusOneFinding* finding_for(const Trail& t, const QueryEvent& e);
    void prune_idle(int64_t now_ns);

    int min_repeats_;
    int64_t window_ns_;
    size_t max_findings_;
    std::unordered_map<uint64_t, Trail> trails_;
    std::unordered_map<Key, NPlusOneFinding, KeyHash> findings_;
    uint64_t bursts_total_ = 0;
    uint64_t dropped_ = 0;
};

}  // namespace sg::stats
