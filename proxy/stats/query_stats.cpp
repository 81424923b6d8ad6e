#include "proxy/stats/query_stats.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <tuple>
#include <vector>

namespace sg::stats {

namespace {

// Distinct texts outnumber fingerprints (one shape per literal-free text, but exact texts too
// when the proxy has no shape), so the text cache is larger, and bounded in bytes as well.
size_t shape_entries(const StatsConfig& c) {
    return std::max<size_t>(1024, size_t(c.max_fingerprints) * 4);
}
constexpr size_t kShapeBytes = 32u << 20;

// Refused shapes are few in a working application; the bound keeps a hostile one cheap.
size_t refusal_rows(const StatsConfig& c) {
    return std::clamp<size_t>(size_t(std::max(c.max_fingerprints, 1)), 1, 1000);
}

// pg_stat_statements' decay: uniform within a round, it lets fresh groups (usage 1) outrank
// groups that were busy long ago.
constexpr double kUsageDecay = 0.99;

int64_t steady_now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

}  // namespace

void Totals::add(const QueryEvent& e) {
    figures.add(e);
    const double seconds = double(std::max<int64_t>(e.latency_ns, 0)) / 1e9;
    for (size_t i = 0; i < kDurationBucketCount; ++i)
        if (seconds <= kDurationBuckets[i]) ++le[i];
}

size_t QueryStats::KeyHash::operator()(const KeyView& k) const {
    const size_t h =
        std::hash<std::string_view>{}(k.user) * 31 + std::hash<std::string_view>{}(k.database);
    return (k.fingerprint * 0x9E3779B97F4A7C15ull) ^ h;
}

QueryStats::QueryStats(const StatsConfig& cfg)
    : cfg_(cfg),
      shapes_(shape_entries(cfg), kShapeBytes),
      slow_(cfg.slow_query_ms, cfg.log_parameters),
      nplusone_(cfg.n_plus_one_min, NPlusOneDetector::kDefaultWindowNs,
                size_t(cfg.max_fingerprints)),
      refusals_(refusal_rows(cfg)),
      windows_(std::chrono::seconds(cfg.window_seconds), size_t(cfg.window_count),
               size_t(std::max(cfg.max_fingerprints, 1))) {}

void QueryStats::reconfigure(const StatsConfig& cfg) {
    // A width set at the console (SET WINDOW_SECONDS) stays until the file's width changes.
    const bool width_changed = cfg.window_seconds != cfg_.window_seconds;
    cfg_ = cfg;
    shapes_.resize(shape_entries(cfg), kShapeBytes);
    slow_.configure(cfg.slow_query_ms, cfg.log_parameters);
    nplusone_.set_min_repeats(cfg.n_plus_one_min);
    nplusone_.set_max_findings(size_t(cfg.max_fingerprints));
    refusals_.set_max_rows(refusal_rows(cfg));
    windows_.configure(width_changed ? std::chrono::seconds(cfg.window_seconds) : windows_.width(),
                       size_t(cfg.window_count), size_t(std::max(cfg.max_fingerprints, 1)));
    if (groups_.size() > size_t(cfg.max_fingerprints)) evict_round(size_t(cfg.max_fingerprints));
}

void QueryStats::record(const QueryEvent& e) {
    if (!cfg_.enabled) return;
    const int64_t end_ns = e.end_ns ? e.end_ns : steady_now_ns();
    const std::shared_ptr<const Shape>& shape =
        e.shape && *e.shape ? *e.shape : shapes_.get(e.text);
    Group& g = group_for(shape, e);
    g.figures.add(e);
    g.usage += 1;
    g.last = ++seq_;
    g.totals->add(e);
    if (!e.legs.empty()) {
        add_legs(g.shards, e.legs);
        add_legs(shard_figures_, e.legs);
    }
    windows_.record(e, shape, end_ns);
    if (slow_.is_slow(e.latency_ns)) slow_.record(e, shape);
    nplusone_.observe(e, shape, end_ns - std::max<int64_t>(e.latency_ns, 0), end_ns);
}

Group& QueryStats::group_for(const std::shared_ptr<const Shape>& shape, const QueryEvent& e) {
    const KeyView view{shape->fingerprint, e.user, e.database};
    if (auto it = groups_.find(view); it != groups_.end()) return it->second;
    const size_t cap = size_t(std::max(cfg_.max_fingerprints, 1));
    if (groups_.size() >= cap) evict_round(cap - 1);
    auto [it, inserted] =
        groups_.try_emplace(Key{shape->fingerprint, std::string(e.user), std::string(e.database)});
    it->second.shape = shape;
    it->second.totals = &totals_for(e.database, e.user);
    return it->second;
}

Totals& QueryStats::totals_for(std::string_view database, std::string_view user) {
    return totals_[{std::string(database), std::string(user)}];
}

void QueryStats::evict_round(size_t keep) {
    // A round frees 5% at once, so a stream of one-off statements does not pay a scan per call.
    const size_t n =
        std::max({groups_.size() / 20, size_t{1}, groups_.size() - std::min(keep, groups_.size())});
    std::vector<GroupMap::iterator> all;
    all.reserve(groups_.size());
    for (auto it = groups_.begin(); it != groups_.end(); ++it) {
        it->second.usage *= kUsageDecay;
        all.push_back(it);
    }
    const size_t victims = std::min(n, all.size());
    auto least_used = [](GroupMap::iterator a, GroupMap::iterator b) {
        return std::tie(a->second.usage, a->second.last) <
               std::tie(b->second.usage, b->second.last);
    };
    std::nth_element(all.begin(), all.begin() + victims, all.end(), least_used);
    for (size_t i = 0; i < victims; ++i) {
        auto it = all[i];
        other_[{it->first.database, it->first.user}].merge(it->second.figures);
        groups_.erase(it);
        ++evictions_;
        ++evictions_total_;
    }
}

void QueryStats::record_refusal(const QueryEvent& e, std::string_view message) {
    if (!cfg_.enabled) return;
    record(e);
    refusals_.record(e.shape && *e.shape ? *e.shape : shapes_.get(e.text), e.user, e.database,
                     message);
}

void QueryStats::reset() {
    since_ = std::chrono::system_clock::now();
    refusals_.clear();
    shard_figures_.clear();
    windows_.clear();
    groups_.clear();
    other_.clear();
    evictions_ = 0;
    slow_.clear();
    nplusone_.clear();
}

}  // namespace sg::stats
