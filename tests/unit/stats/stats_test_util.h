// Events for the statistics tests: one statement of one client, with sensible defaults.
#pragma once

#include <string>

#include "common/config.h"
#include "proxy/stats/query_event.h"

namespace sg::stats::testing {

inline constexpr int64_t kMs = 1'000'000;

inline QueryEvent event(std::string_view text, int64_t latency_ns = kMs,
                        std::string_view sqlstate = {}) {
    QueryEvent e;
    e.text = text;
    e.user = "app";
    e.database = "shop";
    e.client_id = 1;
    e.latency_ns = latency_ns;
    e.server_ns = latency_ns * 3 / 4;
    e.pool_wait_ns = latency_ns / 10;
    e.rows = 1;
    e.bytes_in = 40;
    e.bytes_out = 100;
    e.sqlstate = sqlstate;
    return e;
}

inline StatsConfig config(int max_fingerprints = 100, int n_plus_one_min = 5) {
    StatsConfig c;
    c.max_fingerprints = max_fingerprints;
    c.n_plus_one_min = n_plus_one_min;
    c.slow_query_ms = 50;
    return c;
}

}  // namespace sg::stats::testing
