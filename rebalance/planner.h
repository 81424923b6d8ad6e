// The rebalance planner: a pure function from the current shard map and the wanted shard
// weights to the bucket moves (rebalance.md, invariant 1).
//
// Invariants of every plan:
// - Only buckets whose owner changes are listed, each exactly once.
// - Every shard ends with a quota q_i where |q_i - share_i| < 1, share_i = B * w_i / sum(w)
//   (B = 2^bucket_bits): "within one bucket of its share".
// - Among such quotas the planner picks the one that moves the fewest buckets (ceilings go to
//   the shards that already hold the most), so N -> M equal shards moves at most
//   ceil(B * (M - N) / M) buckets.
// - A donor's buckets are dealt to receivers one at a time, to the one with the largest
//   remaining deficit, so a drained shard spreads evenly.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "router/result.h"
#include "router/shard_map.h"

namespace sg::rebalance {

using router::Error;
using router::Expected;

// Buckets moving from one shard to another (indexes into the map's shard_names()).
struct Move {
    uint16_t source = 0;
    uint16_t target = 0;
    std::vector<uint32_t> buckets;  // ascending
    bool operator==(const Move&) const = default;
};

struct Plan {
    std::vector<std::string> shard_names;  // the map's shard order
    std::vector<uint32_t> before;          // buckets owned per shard now
    std::vector<uint32_t> quota;           // buckets owned per shard after the plan
    std::vector<Move> moves;               // sorted by (source, target)

    uint32_t moved_buckets() const;
    // The map once every move is applied (version + 1).
    router::ShardMap apply(const router::ShardMap& current) const;
};

struct PlanInput {
    std::map<std::string, double> weights;  // shard name -> weight; absent = 1.0
    std::set<std::string> drain;            // shards that must end with no bucket
};

// Fails when a weight is negative, a weight or drain names a shard the map does not know, or
// every shard would get weight zero.
Expected<Plan> plan_moves(const router::ShardMap& current, const PlanInput& input);

// Contiguous runs of a sorted bucket list, as [first, last] pairs.
std::vector<std::pair<uint32_t, uint32_t>> bucket_runs(const std::vector<uint32_t>& buckets);

// "0-3,7,9-12": the textual form used by PAUSE BUCKETS, the journal and the terminal.
std::string format_runs(const std::vector<uint32_t>& buckets);

}  // namespace sg::rebalance
