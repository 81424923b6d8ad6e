// How shard health is shown: Prometheus series for /metrics, the /readyz answer, and the
// health columns of SHOW SHARDS / SHOW SERVERS.
#pragma once

#include <string>
#include <vector>

#include "proxy/health/monitor.h"
#include "proxy/http/http_server.h"

namespace sg::proxy::health {

// shardgate_shard_up, shardgate_shard_breaker_state, shardgate_shard_check_seconds (last and
// total), shardgate_shard_checks_total, shardgate_shard_check_failures_total,
// shardgate_shard_connect_failures_total, shardgate_shard_query_timeouts_total,
// shardgate_shard_breaker_opens_total: one series per shard, labelled shard and endpoint.
// Shards with replicas add shardgate_failovers_total{shard}, and per endpoint (labelled shard,
// endpoint, role) shardgate_endpoint_up, shardgate_replica_lag_seconds and
// shardgate_endpoint_check_failures_total.
std::string render_prometheus(const Monitor& m);
void render_endpoints(const Monitor& m, std::string& out);

// 200 "ready" when every breaker is closed; else 503 listing each degraded shard, its
// endpoint, state, reason and since when. Costs no I/O (the checks run in the background).
http::Readiness readiness(const Monitor& m);

// SHOW SHARDS' health columns, in this order, for shard `i` (empty values when unknown).
std::vector<std::string> shard_health_columns();
std::vector<std::string> shard_health_values(const Monitor& m, int i);
// Each endpoint of a shard with replicas: address, role, state, since, lag, last error.
std::string endpoints_summary(const ShardHealth& h);

}  // namespace sg::proxy::health
