#include "rebalance/planner.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace sg::rebalance {
namespace {

Error plan_error(std::string message) {
    return Error{sqlstate::kInvalidParameterValue, std::move(message)};
}

// Quotas within one bucket of each share that keep the most buckets in place: every shard gets
// floor(share); the R buckets left over go, one each, to shards with a fractional share,
// preferring those that would otherwise have to give buckets away.
std::vector<uint32_t> quotas(uint32_t total, const std::vector<double>& weights,
                             const std::vector<uint32_t>& before) {
    const size_t n = weights.size();
    const long double sum = std::accumulate(weights.begin(), weights.end(), 0.0L);
    std::vector<uint32_t> q(n);
    std::vector<long double> frac(n);
    uint32_t assigned = 0;
    for (size_t i = 0; i < n; ++i) {
        long double share = total * static_cast<long double>(weights[i]) / sum;
        long double fl = std::floor(share + 1e-9L);
        q[i] = static_cast<uint32_t>(fl);
        frac[i] = std::max(0.0L, share - fl);
        assigned += q[i];
    }
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        bool fa = frac[a] > 1e-9L, fb = frac[b] > 1e-9L;
        if (fa != fb) return fa;  // only fractional shares may round up
        long long ka = static_cast<long long>(before[a]) - q[a];
        long long kb = static_cast<long long>(before[b]) - q[b];
        if (ka != kb) return ka > kb;
        return frac[a] > frac[b];
    });
    for (size_t k = 0; assigned < total; k = (k + 1) % n) {
        if (weights[order[k]] <= 0) continue;
        ++q[order[k]];
        ++assigned;
    }
    return q;
}

}  // namespace

uint32_t Plan::moved_buckets() const {
    uint32_t n = 0;
    for (const auto& m : moves) n += static_cast<uint32_t>(m.buckets.size());
    return n;
}

router::ShardMap Plan::apply(const router::ShardMap& current) const {
    std::vector<uint16_t> map = current.buckets();
    for (const auto& m : moves)
        for (uint32_t b : m.buckets) map[b] = m.target;
    return *router::ShardMap::from_parts(current.version() + 1, current.bucket_bits(),
                                         current.shard_names(), std::move(map), "plan");
}

Expected<Plan> plan_moves(const router::ShardMap& current, const PlanInput& input) {
    const auto& names = current.shard_names();
    for (const auto& [name, w] : input.weights) {
        if (current.shard_index(name) < 0)
            return plan_error("--weight " + name + ": no such shard in the config");
        if (!(w >= 0) || !std::isfinite(w))
            return plan_error("--weight " + name + ": must be a finite number >= 0");
    }
    for (const auto& name : input.drain) {
        if (current.shard_index(name) < 0)
            return plan_error("--drain " + name + ": no such shard in the config");
    }
    std::vector<double> weights(names.size(), 1.0);
    for (size_t i = 0; i < names.size(); ++i) {
        if (auto it = input.weights.find(names[i]); it != input.weights.end())
            weights[i] = it->second;
        if (input.drain.count(names[i])) weights[i] = 0;
    }
    if (std::all_of(weights.begin(), weights.end(), [](double w) { return w <= 0; }))
        return plan_error("every shard is drained or has weight 0: keep at least one shard");

    Plan plan;
    plan.shard_names = names;
    plan.before.assign(names.size(), 0);
    for (uint16_t s : current.buckets()) ++plan.before[s];
    plan.quota = quotas(current.bucket_count(), weights, plan.before);

    // Donors give away their highest-numbered surplus buckets; each bucket goes to the
    // receiver with the largest remaining deficit, which spreads a donor evenly.
    std::vector<long long> deficit(names.size());
    for (size_t i = 0; i < names.size(); ++i)
        deficit[i] = static_cast<long long>(plan.quota[i]) - plan.before[i];
    std::map<std::pair<uint16_t, uint16_t>, std::vector<uint32_t>> grouped;
    for (uint16_t src = 0; src < names.size(); ++src) {
        long long surplus = -deficit[src];
        for (uint32_t b = current.bucket_count(); b-- > 0 && surplus > 0;) {
            if (current.shard_of_bucket(b) != src) continue;
            auto best = std::max_element(deficit.begin(), deficit.end());
            uint16_t dst = static_cast<uint16_t>(best - deficit.begin());
            grouped[{src, dst}].push_back(b);
            --*best;
            --surplus;
        }
    }
    for (auto& [key, buckets] : grouped) {
        std::sort(buckets.begin(), buckets.end());
        plan.moves.push_back(Move{key.first, key.second, std::move(buckets)});
    }
    return plan;
}

std::vector<std::pair<uint32_t, uint32_t>> bucket_runs(const std::vector<uint32_t>& buckets) {
    std::vector<std::pair<uint32_t, uint32_t>> runs;
    for (uint32_t b : buckets) {
        if (!runs.empty() && runs.back().second + 1 == b)
            runs.back().second = b;
        else
            runs.emplace_back(b, b);
    }
    return runs;
}

std::string format_runs(const std::vector<uint32_t>& buckets) {
    std::string out;
    for (const auto& [a, b] : bucket_runs(buckets)) {
        if (!out.empty()) out += ',';
        out += std::to_string(a) + "-" + std::to_string(b);
    }
    return out;
}

}  // namespace sg::rebalance
