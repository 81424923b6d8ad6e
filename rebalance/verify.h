// `rebalance verify`: every row of every sharded table on every shard, its bucket recomputed
// with the router's hash, checked against the map; plus an order- and placement-independent
// checksum of each table's rows that must be equal before and after a rebalance.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/config.h"
#include "rebalance/pg.h"

namespace sg::rebalance {

struct ShardTableReport {
    std::string shard;
    uint64_t rows = 0;
    uint64_t misplaced = 0;  // rows whose bucket the map gives to another shard
    uint64_t checksum = 0;   // sum of XXH3 of each row's COPY text, mod 2^64
};

struct TableReport {
    std::string table;
    bool sharded = true;
    std::vector<ShardTableReport> shards;
    uint64_t rows = 0, misplaced = 0,
             checksum = 0;             // sharded: totals over shards; reference: rows of one copy
    bool reference_consistent = true;  // reference: every shard equal
};

struct VerifyReport {
    uint64_t map_version = 0;
    std::vector<TableReport> tables;
    bool ok() const;
};

// Reads with the rebalancer's shard login; a table missing on a shard that owns buckets is an
// error. Shards that own no buckets are checked for misplaced rows only (reference tables
// there are not kept current: proxies write them on shards that own buckets).
Expected<VerifyReport> verify_placement(const Config& cfg);

}  // namespace sg::rebalance
