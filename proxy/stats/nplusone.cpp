#include "proxy/stats/nplusone.h"

#include <algorithm>
#include <array>

namespace sg::stats {

namespace {
// Beyond this many tracked clients, idle ones are dropped (the proxy also forgets a client at
// disconnect; this only bounds memory if it does not).
constexpr size_t kMaxTrails = 100'000;

uint64_t non_negative(int64_t v) {
    return v > 0 ? static_cast<uint64_t>(v) : 0;
}

// COPY moves data in bulk: it is neither a loop's source nor a member.
bool transparent(const Shape& s) {
    return s.control || s.normalized.starts_with("COPY ") || s.normalized.starts_with("copy ");
}
}  // namespace

NPlusOneDetector::NPlusOneDetector(int min_repeats, int64_t window_ns, size_t max_findings)
    : min_repeats_(min_repeats), window_ns_(window_ns), max_findings_(max_findings) {}

const NPlusOneDetector::Run* NPlusOneDetector::run_of(const Trail& t, uint64_t fingerprint) {
    for (const auto& r : t.runs)
        if (r.repeated->fingerprint == fingerprint) return &r;
    return nullptr;
}

std::shared_ptr<const Shape> NPlusOneDetector::resolved_source(const Trail& t, const Run& r) {
    std::shared_ptr<const Shape> src = r.source;
    uint64_t start = r.start_seq;
    // A source that was called again after the run started is a member of the same loop: the
    // loop's source is what came before it. At most kMaxBody steps (the runs are that many).
    for (size_t step = 0; src && step < kMaxBody; ++step) {
        const Run* member = run_of(t, src->fingerprint);
        if (!member || member->last_seq <= start || member == &r) break;
        src = member->source;
        start = member->start_seq;
    }
    return src;
}

bool NPlusOneDetector::observe(const QueryEvent& e, const std::shared_ptr<const Shape>& shape,
                               int64_t start_ns, int64_t end_ns) {
    if (trails_.size() >= kMaxTrails && !trails_.contains(e.client_id)) prune_idle(end_ns);
    Trail& t = trails_[e.client_id];
    t.last_end_ns = end_ns;
    t.last_in_tx = e.in_transaction;
    if (transparent(*shape)) return false;
    ++t.seq;
    const uint64_t fp = shape->fingerprint;
    // Runs that are over: too many statements or too long since their last call, or their
    // source runs again after they repeated (the next round of an outer loop).
    // A statement new to the client's recent past, arriving while a loop repeats, ends that
    // loop: a loop body's statements all appear in its first iteration.
    // (Decided for all runs first: resolving a source reads the other runs.)
    // At most kMaxBody runs (a new one replaces the oldest): no allocation per statement.
    std::array<bool, kMaxBody> over{};
    bool is_new = true;
    for (size_t i = 0; i < t.runs.size(); ++i) {
        const Run& r = t.runs[i];
        if (t.seq - r.last_seq > kMaxBody) {
            over[i] = true;
        } else if (r.repeated->fingerprint == fp) {
            over[i] = start_ns - r.last_end_ns > window_ns_;
            is_new = over[i];
        }
    }
    for (size_t i = 0; i < t.runs.size(); ++i) {
        const Run& r = t.runs[i];
        if (over[i] || r.repeated->fingerprint == fp || r.count < 2) continue;
        if (is_new) {
            over[i] = true;
        } else {
            const auto src = resolved_source(t, r);
            over[i] = src && src->fingerprint == fp;
        }
    }
    for (size_t i = t.runs.size(); i-- > 0;)
        if (over[i]) t.runs.erase(t.runs.begin() + std::ptrdiff_t(i));
    bool flagged = false;
    auto it = std::find_if(t.runs.begin(), t.runs.end(),
                           [&](const Run& r) { return r.repeated->fingerprint == fp; });
    if (it == t.runs.end()) {
        if (t.runs.size() >= kMaxBody) {
            auto oldest = std::min_element(
                t.runs.begin(), t.runs.end(),
                [](const Run& a, const Run& b) { return a.last_seq < b.last_seq; });
            t.runs.erase(oldest);
        }
        Run r;
        r.repeated = shape;
        r.source = t.previous;
        r.start_seq = r.last_seq = t.seq;
        r.last_end_ns = end_ns;
        r.last_param = e.param_hash;
        r.count = 1;
        r.ns = non_negative(e.latency_ns);
        r.fanout = e.shards > 1;
        t.runs.push_back(std::move(r));
    } else {
        Run& r = *it;
        // The same statement again: only a call with other parameters is another "N".
        const bool differs =
            shape->parameters > 0 && (e.param_hash == 0 || e.param_hash != r.last_param);
        r.last_param = e.param_hash;
        r.last_seq = t.seq;
        r.last_end_ns = end_ns;
        if (differs) {
            const bool was_flagged = r.flagged;
            count_call(t, r, e);
            flagged = !was_flagged && r.flagged;
        }
    }
    t.previous = shape;
    return flagged;
}

void NPlusOneDetector::count_call(Trail& t, Run& r, const QueryEvent& e) {
    ++r.count;
    r.ns += non_negative(e.latency_ns);
    const bool newly_fanout = e.shards > 1 && !r.fanout;
    r.fanout = r.fanout || e.shards > 1;
    if (!r.flagged) {
        if (r.count >= static_cast<uint64_t>(std::max(min_repeats_, 2))) flag_burst(t, r, e);
        return;
    }
    auto it = findings_.find(r.repeated->fingerprint);
    if (it == findings_.end()) return;  // reset (or dropped) while the burst went on
    NPlusOneFinding& f = it->second;
    ++f.repeats;
    f.total_ns += non_negative(e.latency_ns);
    f.max_burst = std::max(f.max_burst, r.count);
    if (newly_fanout) ++f.fanout_bursts;
}

void NPlusOneDetector::flag_burst(Trail& t, Run& r, const QueryEvent& e) {
    r.flagged = true;
    ++bursts_total_;
    NPlusOneFinding* f = finding_for(r);
    if (!f) return;
    ++f->bursts;
    f->repeats += r.count;
    f->total_ns += r.ns;
    f->max_burst = std::max(f->max_burst, r.count);
    if (r.fanout) ++f->fanout_bursts;
    f->source = resolved_source(t, r);
    if (f->user != e.user) f->user.assign(e.user);
    if (f->database != e.database) f->database.assign(e.database);
}

NPlusOneFinding* NPlusOneDetector::finding_for(const Run& r) {
    const Key key = r.repeated->fingerprint;
    if (auto it = findings_.find(key); it != findings_.end()) return &it->second;
    if (max_findings_ == 0) {
        ++dropped_;
        return nullptr;
    }
    if (findings_.size() >= max_findings_) {
        // The statement seen in the fewest bursts makes room: findings are bounded like
        // fingerprints.
        auto victim = std::min_element(
            findings_.begin(), findings_.end(),
            [](const auto& a, const auto& b) { return a.second.bursts < b.second.bursts; });
        findings_.erase(victim);
        ++dropped_;
    }
    NPlusOneFinding& f = findings_[key];
    f.repeated = r.repeated;
    return &f;
}

void NPlusOneDetector::clear() {
    findings_.clear();
    for (auto& [id, t] : trails_) t.runs.clear();
}

void NPlusOneDetector::prune_idle(int64_t now_ns) {
    std::erase_if(trails_, [&](const auto& kv) {
        return !kv.second.last_in_tx && now_ns - kv.second.last_end_ns > window_ns_;
    });
    if (trails_.size() >= kMaxTrails) trails_.clear();
}

}  // namespace sg::stats
