// The query cost report of `shardgate report`: built from the admin console's SHOW QUERIES,
// SHOW NPLUSONE and SHOW SLOW result sets (read by column name, all text, as any client gets
// them), then rendered as text, JSON or a self-contained HTML page.
//
// The report answers "which statements should I fix first": statements ranked by total time
// with their share of it, and findings (N+1 loops, fan-out, errors, pool waits), each with what
// to do about it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "proxy/stats/admin_tables.h"

namespace sg::stats::report {

struct Statement {
    std::string fingerprint, user, database, query, errors_by_sqlstate;
    uint64_t calls = 0, errors = 0, rows = 0, fanout_calls = 0;
    double total_ms = 0, mean_ms = 0, p95_ms = 0, p99_ms = 0;
    double pool_wait_ms = 0, shard_ms = 0, proxy_ms = 0, avg_shards = 0;
    double pct_total = 0;  // share of all statements' time, in percent
    double rows_per_call = 0;
    double error_rate = 0;  // percent of calls
    double proxy_pct = 0;   // proxy-added share of this statement's time, in percent
};

struct Finding {
    std::string kind;         // "fan-out N+1", "N+1", "fan-out", "errors", "pool wait"
    std::string fingerprint;  // the statement to change
    std::string query;
    std::string detail;   // what was seen, with the figures
    std::string advice;   // what to do about it
    double total_ms = 0;  // time at stake
};

struct SlowStatement {
    std::string at, fingerprint, user, database, sqlstate, query;
    double duration_ms = 0;
    uint64_t shards = 0, rows = 0;
};

struct Report {
    size_t statement_count = 0;  // groups in SHOW QUERIES (the "other" row included)
    uint64_t calls = 0;
    double total_ms = 0;
    std::vector<Statement> top;  // by total time, at most `top`
    std::vector<Finding> findings;
    std::vector<SlowStatement> slow;
};

Report build(const Table& queries, const Table& nplusone, const Table& slow, int top);

std::string render_text(const Report& r);
std::string render_json(const Report& r);
std::string render_html(const Report& r);

}  // namespace sg::stats::report
