// Figures the proxy owns (pools, shards, clients) that the statistics layer only displays:
// the proxy fills these when SHOW STATS or /metrics asks, so stats never reaches into pools.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sg::stats {

// One server pool (shard, server login).
struct PoolMetrics {
    std::string shard, user;
    int64_t active = 0, idle = 0, waiting = 0,
            total = 0;                     // current server connections / waiting clients
    uint64_t checkouts = 0, timeouts = 0;  // since start
    double wait_seconds = 0;               // total client wait for a connection
};

// One shard, since start.
struct ShardTotals {
    std::string shard;
    uint64_t queries = 0;  // statement legs sent to the shard (single-shard and fan-out)
    uint64_t errors = 0;   // ErrorResponses it returned
    uint64_t rows = 0;     // rows it returned or affected
    uint64_t bytes_in = 0, bytes_out = 0;
    double server_seconds = 0;     // first byte sent -> its ReadyForQuery
    double pool_wait_seconds = 0;  // legs waiting for a connection to it
};

struct ProxyMetrics {
    std::vector<PoolMetrics> pools;
    std::vector<ShardTotals> shards;
    uint64_t clients = 0;                  // connected now
    uint64_t clients_accepted = 0;         // since start
    uint64_t lookups_prepared = 0;         // statements run as prepared lookups, since start
    uint64_t clients_paused = 0;           // clients a pause (PAUSE, PAUSE BUCKETS) holds now
    uint64_t pauses_active = 0;            // pauses in force now
    uint64_t pause_expired = 0;            // pauses lifted because their lease ran out, since start
    uint64_t bytes_in = 0, bytes_out = 0;  // client side, since start
    double uptime_seconds = 0;
};

}  // namespace sg::stats
