// `shardgate report`: the query cost report of a running proxy, read from its admin console.
#pragma once

#include <string>

namespace sg::cli {

// Connects with libpq to `admin_dsn` (e.g. "host=127.0.0.1 port=6432 dbname=shardgate
// user=admin password=..."), reads SHOW QUERIES, SHOW NPLUSONE and SHOW SLOW, and prints the
// report to stdout. format: text|json|html; top: statements listed. Returns the exit code:
// 0 printed, 1 the proxy could not be read, 2 bad arguments.
int run_report(const std::string& admin_dsn, const std::string& format, int top);

}  // namespace sg::cli
