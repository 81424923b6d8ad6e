// Result sets of the console's per-shard and refusal commands (see admin_tables.h for the
// encoding and the units: milliseconds with three decimals).
//
//   SHOW SHARD STATS   every shard's legs since the last reset (fingerprint "all"), then each
//                      statement's legs shard by shard, with its straggler marked
//   SHOW REFUSALS      statements the proxy refused, by shape and construct, most frequent first
#pragma once

#include <span>
#include <string>

#include "proxy/stats/admin_tables.h"
#include "proxy/stats/query_stats.h"

namespace sg::stats {

// `shard_names` are the configured shards in index order (legs name shards by index).
Table show_shard_stats(const QueryStats& stats, std::span<const std::string> shard_names);
Table show_refusals(const QueryStats& stats);

}  // namespace sg::stats
