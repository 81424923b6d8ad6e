// The cost of QueryStats::record() on the proxy's hot path, with the statement's shape
// already cached (the steady state): one text lookup, one group lookup, the figures, the N+1
// trail. Also the first-sight cost (libpg_query) and a /metrics render for scale.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "proxy/stats/prometheus.h"
#include "proxy/stats/query_stats.h"

namespace {

using sg::stats::QueryEvent;
using sg::stats::QueryStats;

QueryEvent event(std::string_view text, uint64_t client, int64_t i) {
    QueryEvent e;
    e.text = text;
    e.user = "app";
    e.database = "shop";
    e.client_id = client;
    e.latency_ns = 200'000 + (i % 97) * 1'000;
    e.server_ns = 150'000;
    e.pool_wait_ns = 1'000;
    e.rows = 1;
    e.bytes_in = 60;
    e.bytes_out = 120;
    e.param_hash = static_cast<uint64_t>(i) + 1;
    e.end_ns = 1'000'000'000 + i * 300'000;
    return e;
}

void BM_RecordCached(benchmark::State& state) {
    QueryStats stats{sg::StatsConfig{}};
    const std::string text = "SELECT abalance FROM pgbench_accounts WHERE aid = $1";
    int64_t i = 0;
    for (auto _ : state) {
        stats.record(event(text, 1, i++));
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RecordCached);

// pgbench's mix over 64 clients: five statements, interleaved.
void BM_RecordMixedClients(benchmark::State& state) {
    QueryStats stats{sg::StatsConfig{}};
    const std::vector<std::string> texts = {
        "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2",
        "SELECT abalance FROM pgbench_accounts WHERE aid = $1",
        "UPDATE pgbench_tellers SET tbalance = tbalance + $1 WHERE tid = $2",
        "UPDATE pgbench_branches SET bbalance = bbalance + $1 WHERE bid = $2",
        "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, $4, "
        "CURRENT_TIMESTAMP)"};
    int64_t i = 0;
    for (auto _ : state) {
        stats.record(event(texts[i % 5], static_cast<uint64_t>(i / 5) % 64, i));
        ++i;
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RecordMixedClients);

// A text never seen before: libpg_query fingerprint + normalize (the once-per-text cost).
void BM_RecordFirstSight(benchmark::State& state) {
    QueryStats stats{sg::StatsConfig{}};
    int64_t i = 0;
    std::string text;
    for (auto _ : state) {
        text = "SELECT * FROM accounts WHERE aid = " + std::to_string(i) + " AND note = 'x'";
        stats.record(event(text, 1, i++));
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RecordFirstSight);

void BM_RenderMetrics(benchmark::State& state) {
    QueryStats stats{sg::StatsConfig{}};
    for (int64_t i = 0; i < 200'000; ++i) {
        const std::string text =
            "SELECT * FROM t WHERE c" + std::string(1, char('a' + i % 26)) + " = $1";
        stats.record(event(text, static_cast<uint64_t>(i % 16), i));
    }
    for (auto _ : state) benchmark::DoNotOptimize(sg::stats::render_prometheus(stats, {}));
}
BENCHMARK(BM_RenderMetrics);

}  // namespace
