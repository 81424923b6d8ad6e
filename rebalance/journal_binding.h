// A journal is resumed only against the map and the shards it was written for (issue 22): a
// map created afresh can repeat the version number the journal started from, and replaying
// the old plan over it moves buckets "from" shards that no longer own them. The journal
// records the content hash of its start map and every shard's system identifier; a resumed
// run checks both and refuses a mismatch, naming both sides.
#pragma once

#include <map>
#include <string>

#include "rebalance/journal.h"
#include "rebalance/pg.h"
#include "router/shard_map.h"

namespace sg::rebalance {

// Each configured shard's PostgreSQL system identifier (pg_control_system()); a shard whose
// identifier cannot be read (no privilege) is left out, and the check skips it.
Expected<std::map<std::string, std::string>> read_system_ids(const Config& cfg);

// The content hash the journal's start map would have, given `current`: every bucket of a
// move that `current` assigns to the move's target is put back on its source (the switches
// this run made, a decided pending one included).
std::string start_hash_from(const Journal& j, const router::ShardMap& current);

// Ok when `j` belongs to `current` and `ids`; otherwise an error naming both and what to do.
// Journals written before the binding existed (no start_hash) pass.
Status check_binding(const Journal& j, const router::ShardMap& current,
                     const std::map<std::string, std::string>& ids,
                     const std::string& journal_path);

}  // namespace sg::rebalance
