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
    double p50_ms = 0;
    double held_ms = 0;    // held by a pause: its own component, neither shard nor proxy time
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

// One refused statement shape (SHOW REFUSALS).
struct Refused {
    std::string construct, fingerprint, query, message, way_around;
    uint64_t count = 0;
};

// One shard's legs (SHOW SHARD STATS, fingerprint "all").
struct ShardSummary {
    std::string shard;
    uint64_t calls = 0, errors = 0, rows = 0, bytes_sent = 0, bytes_received = 0;
    double total_ms = 0, mean_ms = 0, p50_ms = 0, p95_ms = 0, max_ms = 0, pool_wait_ms = 0;
};

// A statement whose legs on one shard are slowest, by how much, and what explains it.
struct Straggler {
    std::string shard, fingerprint, query;
    uint64_t calls = 0;         // legs on the straggler shard
    double p50_ms = 0;          // its median leg there
    double over_median_ms = 0;  // over the median shard's median leg
    double ratio = 0;
    double rows_share = 0;  // percent of the statement's rows on this shard (skew by key)
    double pool_wait_ms = 0, shard_ms = 0;  // on this shard: waiting for a connection vs in it
};

// A statement whose p95 or total time grew between two windows.
struct Slower {
    std::string fingerprint, query;
    double p95_before = 0, p95_now = 0, total_before = 0, total_now = 0;  // ms, without held time
    uint64_t calls_before = 0, calls_now = 0;
};

// One interval's totals, for the per-window chart.
struct IntervalPoint {
    std::string start;
    uint64_t calls = 0;
    double total_ms = 0, p50_ms = 0, p95_ms = 0;
};

struct Report {
    size_t statement_count = 0;  // groups in SHOW QUERIES (the "other" row included)
    uint64_t calls = 0;
    double total_ms = 0;
    std::vector<Statement> top;  // by total time, at most `top`
    std::vector<Finding> findings;
    std::vector<SlowStatement> slow;
    std::vector<Refused> refusals;  // most frequent first
    std::vector<ShardSummary> shards;
    std::vector<Straggler> stragglers;  // the worst first
    bool include_held = false;          // ranked with pause-held time
    double held_ms = 0;                 // all statements' pause-held time
    // The period: what the figures cover, and when the statistics were last reset.
    std::string covers_from, covers_to, reset_at, generated_at, scope;
    long window_seconds = 0,
         window_count = 0;  // the proxy's intervals ([stats] window_*); 0: unknown
    std::vector<IntervalPoint> intervals;
    bool compared = false;  // --window: the window against the one before it
    std::string current_from, current_to, previous_from, previous_to;
    std::vector<Slower> slower;  // the most grown first
};

// What the report is built from: the console's result sets, read by column name (an absent
// table is simply empty).
struct Inputs {
    Table queries, nplusone, slow, shard_stats, refusals;
    Table period, windows;  // SHOW STATS_PERIOD, SHOW WINDOWS
    Table previous;     // the window before (SHOW WINDOW n OFFSET n): compared when it has columns
    Table current;      // what `previous` is compared with; no columns: `queries`
    std::string scope;  // e.g. "the last 10 minutes" when `queries` is a window
    int top = 10;
    bool include_held = false;  // rank statements by their time including pause-held time
};

Report build(const Inputs& in);
Report build(const Table& queries, const Table& nplusone, const Table& slow, int top);

// The "shards" and "refused statements" sections (report_shards.cpp).
void add_shard_sections(Report& r, const Table& shard_stats, const Table& refusals);
std::string render_shards_text(const Report& r);
std::string render_shards_html(const Report& r);
std::string render_refusals_text(const Report& r);
std::string render_refusals_html(const Report& r);

// The period, the per-window chart and "what got slower" (report_windows.cpp).
void add_window_sections(Report& r, const Table& period, const Table& windows, const Table& current,
                         const Table& previous, const std::string& scope);
std::string render_period_text(const Report& r);
std::string render_intervals_note(const Report& r);  // "; intervals of 60 s, the last 60 kept"
std::string render_slower_text(const Report& r);
std::string render_windows_html(const Report& r);

std::string render_text(const Report& r);
std::string render_json(const Report& r);
std::string render_html(const Report& r);
// The pieces of render_html the live page (report_live_html.cpp) wraps: the page's CSS and
// every section, from the summary to the slow statements.
std::string html_style();
std::string render_html_sections(const Report& r);
// The live page of the HTTP listener: render_html's sections inside <main id="report">, with
// sortable tables and a refresh every `refresh_seconds` that fetches the page again and swaps
// the sections in (a meta refresh without JavaScript). `status` is a line about the build.
std::string render_live_html(const Report& r, int refresh_seconds, const std::string& status);

}  // namespace sg::stats::report
