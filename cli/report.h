// `shardgate report`: the query cost report of a running proxy, read from its admin console.
#pragma once

#include <string>

namespace sg::cli {

// Connects with libpq to `admin_dsn` (e.g. "host=127.0.0.1 port=6432 dbname=shardgate
// user=admin password=..."), reads SHOW QUERIES, SHOW NPLUSONE, SHOW SLOW, SHOW SHARD STATS and
// SHOW REFUSALS, and prints the report to stdout. format: text|json|html; top: statements
// listed; include_held: rank with pause-held time. Returns the exit code: 0 printed, 1 the
// proxy could not be read, 2 bad arguments.
// since: report only the last DURATION ("10m"); window: the last DURATION compared with the
// DURATION before it ("what got slower").
int run_report(const std::string& admin_dsn, const std::string& format, int top,
               bool include_held = false, const std::string& since = {},
               const std::string& window = {});

}  // namespace sg::cli
