// N+1 detection: a client that runs one statement and then another statement again and again
// with different parameters (the ORM loop "for each order: SELECT ... WHERE id = $1").
//
// Deterministic by construction: whether a loop is found depends only on the sequence of the
// client's statements (and a generous idle limit between iterations), never on how long the
// client paused before the loop or what it ran before it. Per client:
//   - A run is the calls of one fingerprint with at most kMaxBody - 1 other statements between
//     consecutive calls (the loop body may hold several statements: "for each order: SELECT
//     its lines; UPDATE it") and at most the window between the end of one call and the start
//     of the next. Only a call with parameters different from the run's previous call counts
//     as another "N"; a statement without parameters can never repeat that way.
//   - A run that reaches min_repeats is one burst: flagged once; later calls add to it.
//   - The source of a run is the statement just before its first call, skipping the loop's
//     other members (statements called again since the run started): for "list; A; B; A; B"
//     both A's and B's source is "list". A run ends when its source runs again (the next
//     round of an outer loop starts a new burst), and when a statement new to the client's
//     recent past arrives after it repeated (a loop body's statements all appear in its first
//     iteration, so a new one means the loop is over).
//   - Transaction control (BEGIN, COMMIT, SET, ...) and COPY are transparent: they neither
//     extend, break nor start anything.
//   - A loop the client began with (no statement before it) is still a loop: its source is
//     empty.
// Findings are counted per repeated fingerprint (so one loop is one finding, whatever preceded
// it); a finding shows the source of its latest burst. A burst with a call that touched more
// than one shard is a fan-out N+1: every repeat costs a round trip to every shard.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "proxy/stats/query_event.h"
#include "proxy/stats/shape_cache.h"

namespace sg::stats {

inline constexpr const char* kNPlusOneAdvice =
    "fetch them in one statement with = ANY($1) or a join";

struct NPlusOneFinding {
    std::shared_ptr<const Shape> source;  // of the latest burst; null: the loop began the session
    std::shared_ptr<const Shape> repeated;
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
    static constexpr int64_t kDefaultWindowNs = 1'000'000'000;  // 1 s between iterations
    static constexpr uint64_t kMaxBody = 8;  // statements in one loop iteration, at most

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

    using Key = uint64_t;  // the repeated fingerprint
    const std::unordered_map<Key, NPlusOneFinding>& findings() const { return findings_; }
    // Bursts ever flagged (survives clear(), for counters that only go up).
    uint64_t bursts_total() const { return bursts_total_; }
    uint64_t dropped_findings() const { return dropped_; }
    size_t clients() const { return trails_.size(); }

private:
    struct Run {
        std::shared_ptr<const Shape> repeated;
        std::shared_ptr<const Shape> source;  // the statement before its first call (may be null)
        uint64_t start_seq = 0, last_seq = 0;
        int64_t last_end_ns = 0;
        uint64_t last_param = 0;
        uint64_t count = 0;    // calls with parameters differing from the call before
        uint64_t ns = 0;       // their client-visible time
        bool fanout = false;   // a counted call touched more than one shard
        bool flagged = false;  // the run is a counted burst
    };
    struct Trail {
        std::shared_ptr<const Shape> previous;  // the last statement that is not transparent
        uint64_t seq = 0;                       // statements that are not transparent
        int64_t last_end_ns = 0;
        bool last_in_tx = false;
        std::vector<Run> runs;  // at most kMaxBody, the most recent
    };
    static const Run* run_of(const Trail& t, uint64_t fingerprint);
    // The run's source, skipping the loop's other members (see the header comment).
    static std::shared_ptr<const Shape> resolved_source(const Trail& t, const Run& r);
    void count_call(Trail& t, Run& r, const QueryEvent& e);
    void flag_burst(Trail& t, Run& r, const QueryEvent& e);
    NPlusOneFinding* finding_for(const Run& r);
    void prune_idle(int64_t now_ns);

    int min_repeats_;
    int64_t window_ns_;
    size_t max_findings_;
    std::unordered_map<uint64_t, Trail> trails_;
    std::unordered_map<Key, NPlusOneFinding> findings_;
    uint64_t bursts_total_ = 0;
    uint64_t dropped_ = 0;
};

}  // namespace sg::stats
