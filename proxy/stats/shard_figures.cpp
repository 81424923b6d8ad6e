#include "proxy/stats/shard_figures.h"

#include <algorithm>

namespace sg::stats {

void ShardFigures::add(const ShardLeg& leg) {
    ++calls;
    errors += leg.error;
    rows += leg.rows;
    bytes_sent += leg.bytes_sent;
    bytes_received += leg.bytes_received;
    pool_wait_ns += uint64_t(std::max<int64_t>(leg.pool_wait_ns, 0));
    latency.record(leg.server_ns);
}

void ShardFigures::merge(const ShardFigures& o) {
    calls += o.calls;
    errors += o.errors;
    rows += o.rows;
    bytes_sent += o.bytes_sent;
    bytes_received += o.bytes_received;
    pool_wait_ns += o.pool_wait_ns;
    latency.merge(o.latency);
}

void add_legs(PerShard& per_shard, std::span<const ShardLeg> legs) {
    for (const auto& leg : legs) {
        if (leg.shard < 0) continue;
        if (size_t(leg.shard) >= per_shard.size()) per_shard.resize(size_t(leg.shard) + 1);
        per_shard[size_t(leg.shard)].add(leg);
    }
}

std::optional<Straggler> find_straggler(const PerShard& per_shard) {
    std::vector<std::pair<int64_t, int>> medians;  // (median leg, shard)
    for (size_t i = 0; i < per_shard.size(); ++i)
        if (per_shard[i].calls > 0)
            medians.emplace_back(per_shard[i].latency.percentile(0.5), int(i));
    if (medians.size() < 2) return std::nullopt;
    std::sort(medians.begin(), medians.end());
    Straggler s;
    s.shard = medians.back().second;
    s.p50_ns = medians.back().first;
    s.median_shard_ns = medians[(medians.size() - 1) / 2].first;
    return s;
}

bool notable(const Straggler& s) {
    return s.over_ns() >= kStragglerMinOverNs &&
           double(s.p50_ns) >= kStragglerRatio * double(s.median_shard_ns);
}

void add_leg(ShardTotals& t, const ShardLeg& leg) {
    ++t.queries;
    t.errors += leg.error;
    t.rows += leg.rows;
    t.bytes_in += leg.bytes_received;
    t.bytes_out += leg.bytes_sent;
    t.server_seconds += double(std::max<int64_t>(leg.server_ns, 0)) / 1e9;
    t.pool_wait_seconds += double(std::max<int64_t>(leg.pool_wait_ns, 0)) / 1e9;
}

}  // namespace sg::stats
