// Per-shard cost of statements: every leg a statement ran on a shard (the one leg of a
// single-shard statement, each leg of a fan-out) counts on that shard, so a shard's figures
// move whenever it works, and a fingerprint's legs can be compared shard by shard to find the
// straggler: the shard whose legs are slowest, and by how much over the median shard.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "proxy/stats/histogram.h"
#include "proxy/stats/proxy_metrics.h"

namespace sg::stats {

// One shard's part of one statement, as the proxy saw it.
struct ShardLeg {
    int shard = -1;            // index in the configuration's shard list
    int64_t server_ns = 0;     // request sent -> the shard's ReadyForQuery (its time in the shard)
    int64_t pool_wait_ns = 0;  // waiting for this leg's server connection
    uint64_t rows = 0;         // rows the shard returned or affected
    uint64_t bytes_sent = 0;   // request bytes sent to the shard
    uint64_t bytes_received = 0;  // reply bytes received from it
    bool error = false;           // the shard answered with an ErrorResponse (or was lost)
};

// The figures of many legs on one shard. Additive, like Figures.
struct ShardFigures {
    uint64_t calls = 0, errors = 0, rows = 0;
    uint64_t bytes_sent = 0, bytes_received = 0;
    uint64_t pool_wait_ns = 0;
    LogHistogram latency;  // of server_ns: the legs' time in the shard

    void add(const ShardLeg& leg);
    void merge(const ShardFigures& other);
    uint64_t total_ns() const { return latency.sum(); }
};

// A vector indexed by shard, grown on demand (shards a group never touched stay empty).
using PerShard = std::vector<ShardFigures>;
void add_legs(PerShard& per_shard, std::span<const ShardLeg> legs);

// The straggler among the shards a group's legs ran on: the shard of the highest median leg
// latency, compared with the median shard (the lower median of the shards' medians, so with
// two shards it is the other one). Needs legs on at least two shards.
struct Straggler {
    int shard = -1;
    int64_t p50_ns = 0;           // the straggler's median leg
    int64_t median_shard_ns = 0;  // the median shard's median leg
    double ratio() const {
        return median_shard_ns > 0 ? double(p50_ns) / double(median_shard_ns) : 0.0;
    }
    int64_t over_ns() const { return p50_ns - median_shard_ns; }
};
std::optional<Straggler> find_straggler(const PerShard& per_shard);

// A straggler worth reporting: at least kStragglerRatio times the median shard and
// kStragglerMinOverNs slower, so noise between equally fast shards is not called out.
inline constexpr double kStragglerRatio = 1.5;
inline constexpr int64_t kStragglerMinOverNs = 200'000;  // 0.2 ms
bool notable(const Straggler& s);

// A leg into the proxy's lifetime counters of its shard (never reset, for /metrics).
void add_leg(ShardTotals& t, const ShardLeg& leg);

}  // namespace sg::stats
