#include "proxy/stats/nplusone.h"

#include <algorithm>

namespace sg::stats {

namespace {
// Beyond this many tracked clients, idle ones are dropped (the proxy also forgets a client at
// disconnect; this only bounds memory if it does not).
constexpr size_t kMaxTrails = 100'000;

uint64_t non_negative(int64_t v) {
    return v > 0 ? static_cast<uint64_t>(v) : 0;
}
}  // namespace

NPlusOneDetector::NPlusOneDetector(int min_repeats, int64_t window_ns, size_t max_findings)
    : min_repeats_(min_repeats), window_ns_(window_ns), max_findings_(max_findings) {}

bool NPlusOneDetector::observe(const QueryEvent& e, const std::shared_ptr<const Shape>& shape,
                               int64_t start_ns, int64_t end_ns) {
    if (trails_.size() >= kMaxTrails && !trails_.contains(e.client_id)) prune_idle(end_ns);
    Trail& t = trails_[e.client_id];
    const bool connected = t.previous && ((e.in_transaction && t.last_in_tx) ||
                                          start_ns - t.last_end_ns <= window_ns_);
    t.last_end_ns = end_ns;
    t.last_in_tx = e.in_transaction;
    if (shape->control) {
        // Transparent inside a chain; after a break it must not link what follows to the past.
        if (!connected) {
            t = Trail{};
            t.last_end_ns = end_ns;
            t.last_in_tx = e.in_transaction;
        }
        return false;
    }
    if (!connected || shape->fingerprint != t.previous->fingerprint) {
        start_run(t, e, shape, connected);
        return false;
    }
    // The same statement again: only a call with other parameters is another "N".
    const bool differs =
        shape->parameters > 0 && (e.param_hash == 0 || e.param_hash != t.last_param);
    t.last_param = e.param_hash;
    if (!differs) return false;
    extend_run(t, e);
    if (t.flagged || !t.source || t.run < static_cast<uint64_t>(min_repeats_)) return false;
    return flag_burst(t, e);
}

void NPlusOneDetector::start_run(Trail& t, const QueryEvent& e,
                                 const std::shared_ptr<const Shape>& shape, bool connected) {
    if (connected)
        t.source = std::move(t.previous);
    else
        t.source.reset();
    t.previous = shape;
    t.last_param = e.param_hash;
    t.run = 1;
    t.run_ns = non_negative(e.latency_ns);
    t.run_fanout = e.shards > 1;
    t.flagged = false;
}

void NPlusOneDetector::extend_run(Trail& t, const QueryEvent& e) {
    ++t.run;
    t.run_ns += non_negative(e.latency_ns);
    const bool newly_fanout = e.shards > 1 && !t.run_fanout;
    t.run_fanout = t.run_fanout || e.shards > 1;
    if (!t.flagged) return;
    auto it = findings_.find(Key{t.source->fingerprint, t.previous->fingerprint});
    if (it == findings_.end()) return;  // reset (or dropped) while the burst went on
    NPlusOneFinding& f = it->second;
    ++f.repeats;
    f.total_ns += non_negative(e.latency_ns);
    f.max_burst = std::max(f.max_burst, t.run);
    if (newly_fanout) ++f.fanout_bursts;
}

bool NPlusOneDetector::flag_burst(Trail& t, const QueryEvent& e) {
    t.flagged = true;
    ++bursts_total_;
    NPlusOneFinding* f = finding_for(t, e);
    if (!f) return true;
    ++f->bursts;
    f->repeats += t.run;
    f->total_ns += t.run_ns;
    f->max_burst = std::max(f->max_burst, t.run);
    if (t.run_fanout) ++f->fanout_bursts;
    if (f->user != e.user) f->user.assign(e.user);
    if (f->database != e.database) f->database.assign(e.database);
    return true;
}

NPlusOneFinding* NPlusOneDetector::finding_for(const Trail& t, const QueryEvent& e) {
    const Key key{t.source->fingerprint, t.previous->fingerprint};
    if (auto it = findings_.find(key); it != findings_.end()) return &it->second;
    if (max_findings_ == 0) {
        ++dropped_;
        return nullptr;
    }
    if (findings_.size() >= max_findings_) {
        // The pair seen in the fewest bursts makes room: findings are bounded like fingerprints.
        auto victim = std::min_element(
            findings_.begin(), findings_.end(),
            [](const auto& a, const auto& b) { return a.second.bursts < b.second.bursts; });
        findings_.erase(victim);
        ++dropped_;
    }
    NPlusOneFinding& f = findings_[key];
    f.source = t.source;
    f.repeated = t.previous;
    return &f;
}

void NPlusOneDetector::clear() {
    findings_.clear();
    for (auto& [id, t] : trails_) {
        t.flagged = false;
        t.run = 0;
    }
}

void NPlusOneDetector::prune_idle(int64_t now_ns) {
    std::erase_if(trails_, [&](const auto& kv) {
        return !kv.second.last_in_tx && now_ns - kv.second.last_end_ns > window_ns_;
    });
    if (trails_.size() >= kMaxTrails) trails_.clear();
}

}  // namespace sg::stats
