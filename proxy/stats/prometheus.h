// The Prometheus text exposition (format 0.0.4) of the query statistics and of the proxy
// figures the caller passes in. Names follow the conventions: base units (seconds, bytes),
// counters end in _total, histograms have _bucket{le}/_sum/_count.
//
// Label cardinality is bounded: per-statement series (label `fingerprint`, with user and
// database) exist only for the top [stats] top_k_metrics groups by total time; everything
// else is per (database, user), per shard or per pool.
#pragma once

#include <string>
#include <string_view>

#include "proxy/stats/proxy_metrics.h"
#include "proxy/stats/query_stats.h"

namespace sg::stats {

// The body of GET /metrics (Content-Type: text/plain; version=0.0.4).
std::string render_prometheus(const QueryStats& stats, const ProxyMetrics& proxy);

// A label value escaped as the format requires: backslash, double quote and newline.
std::string escape_label_value(std::string_view v);

inline constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

// Longest statement text put into the `query` label of shardgate_fingerprint_info.
inline constexpr size_t kMaxQueryLabel = 200;

}  // namespace sg::stats
