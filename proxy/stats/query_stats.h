// Query cost statistics of one event loop: per (fingerprint, user, database) figures, totals
// per (database, user), the slow-query log and the N+1 detector. Single-threaded by design
// (each event loop owns one); record() is the hot path: one hash lookup of the text, one of
// the group, no libpg_query call except the first time a text is seen, and no allocation in
// steady state.
//
// Bounded memory: at most [stats] max_fingerprints groups. When a new group needs room, the
// least-used groups go (usage = calls, decayed by 1% at every eviction round, as in
// pg_stat_statements) and their figures fold into the "other" row of their (database, user),
// so the groups plus the other rows always add up to the totals.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "common/config.h"
#include "proxy/stats/figures.h"
#include "proxy/stats/nplusone.h"
#include "proxy/stats/query_event.h"
#include "proxy/stats/refusals.h"
#include "proxy/stats/shape_cache.h"
#include "proxy/stats/shard_figures.h"
#include "proxy/stats/slow_log.h"
#include "proxy/stats/windows.h"

namespace sg::stats {

// Upper bounds (seconds) of the Prometheus duration histogram buckets; +Inf is implied.
inline constexpr double kDurationBuckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                              0.1,    0.25,  0.5,    1,     2.5,  5,     10};
inline constexpr size_t kDurationBucketCount = std::size(kDurationBuckets);

// Lifetime totals of one (database, user): never reset (Prometheus counters only go up).
struct Totals {
    Figures figures;
    std::array<uint64_t, kDurationBucketCount> le{};  // calls with latency <= kDurationBuckets[i]
    void add(const QueryEvent& e);
};

struct Group {
    std::shared_ptr<const Shape> shape;
    Figures figures;
    PerShard shards;           // its legs, shard by shard
    Totals* totals = nullptr;  // of its (database, user); totals are never erased
    double usage = 0;          // decayed call count: what eviction ranks by
    uint64_t last = 0;  // sequence number of the latest call: ties go least recently used first
};

class QueryStats {
public:
    explicit QueryStats(const StatsConfig& cfg);
    // RELOAD: limits and thresholds apply at once; shrinking max_fingerprints evicts now.
    void reconfigure(const StatsConfig& cfg);
    const StatsConfig& config() const { return cfg_; }
    bool enabled() const { return cfg_.enabled; }

    void record(const QueryEvent& e);
    // A statement the proxy refused (0A000): counted as a statement that failed with that
    // SQLSTATE (SHOW QUERIES) and as a refusal of its construct (SHOW REFUSALS, /metrics).
    void record_refusal(const QueryEvent& e, std::string_view message);
    // The client disconnected (its N+1 run state goes).
    void forget_client(uint64_t client_id) { nplusone_.forget_client(client_id); }
    // RESET QUERIES: groups, other rows, evictions, the slow ring and N+1 findings start over.
    // Totals and the *_total counters for Prometheus keep counting.
    void reset();

    struct Key {
        uint64_t fingerprint = 0;
        std::string user, database;
    };
    // What record() looks a group up by, without building strings.
    struct KeyView {
        uint64_t fingerprint;
        std::string_view user, database;
    };
    struct KeyHash {
        using is_transparent = void;
        size_t operator()(const KeyView& k) const;
        size_t operator()(const Key& k) const {
            return (*this)(KeyView{k.fingerprint, k.user, k.database});
        }
    };
    struct KeyEq {
        using is_transparent = void;
        static KeyView view(const KeyView& k) { return k; }
        static KeyView view(const Key& k) { return {k.fingerprint, k.user, k.database}; }
        template <class A, class B>
        bool operator()(const A& a, const B& b) const {
            const KeyView x = view(a), y = view(b);
            return x.fingerprint == y.fingerprint && x.user == y.user && x.database == y.database;
        }
    };
    using GroupMap = std::unordered_map<Key, Group, KeyHash, KeyEq>;

    const GroupMap& groups() const { return groups_; }
    // (database, user) -> figures of evicted groups.
    const std::map<std::pair<std::string, std::string>, Figures>& other() const { return other_; }
    uint64_t evictions() const { return evictions_; }
    uint64_t evictions_total() const { return evictions_total_; }
    // (database, user) -> lifetime totals.
    const std::map<std::pair<std::string, std::string>, Totals>& totals() const { return totals_; }
    const SlowLog& slow() const { return slow_; }
    const NPlusOneDetector& nplusone() const { return nplusone_; }
    const ShapeCache& shapes() const { return shapes_; }
    const RefusalLog& refusals() const { return refusals_; }
    // Every leg of every statement since the last reset, shard by shard.
    const PerShard& shard_figures() const { return shard_figures_; }
    // When counting started: at start, then at each RESET QUERIES.
    std::chrono::system_clock::time_point since() const { return since_; }
    std::chrono::system_clock::time_point started() const { return started_; }
    // The same statistics in fixed intervals ([stats] window_count of window_seconds each).
    const Windows& windows() const { return windows_; }
    // The console's SET WINDOW_SECONDS: another width starts the intervals over (until a
    // RELOAD that changes [stats] window_seconds).
    void set_window_width(std::chrono::seconds width) {
        windows_.configure(width, windows_.count(), size_t(std::max(cfg_.max_fingerprints, 1)));
    }

private:
    Group& group_for(const std::shared_ptr<const Shape>& shape, const QueryEvent& e);
    Totals& totals_for(std::string_view database, std::string_view user);
    void evict_round(size_t keep);

    StatsConfig cfg_;
    ShapeCache shapes_;
    GroupMap groups_;
    std::map<std::pair<std::string, std::string>, Figures> other_;
    std::map<std::pair<std::string, std::string>, Totals> totals_;
    SlowLog slow_;
    NPlusOneDetector nplusone_;
    RefusalLog refusals_;
    PerShard shard_figures_;
    std::chrono::system_clock::time_point since_ = std::chrono::system_clock::now();
    std::chrono::system_clock::time_point started_ = since_;
    Windows windows_;
    uint64_t evictions_ = 0, evictions_total_ = 0;
    uint64_t seq_ = 0;
};

}  // namespace sg::stats
