#include "proxy/stats/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "common/sqlstate.h"
#include "proxy/stats/report_rows.h"

namespace sg::stats::report {

namespace {

Statement read_statement(const RowReader& r) {
    Statement s;
    s.fingerprint = r.str("fingerprint");
    s.user = r.str("user");
    s.database = r.str("database");
    s.query = r.str("query");
    s.errors_by_sqlstate = r.str("errors_by_sqlstate");
    s.calls = r.count("calls");
    s.errors = r.count("errors");
    s.rows = r.count("rows");
    s.fanout_calls = r.count("fanout_calls");
    s.total_ms = r.num("total_ms");
    s.mean_ms = r.num("mean_ms");
    s.p95_ms = r.num("p95_ms");
    s.p99_ms = r.num("p99_ms");
    s.pool_wait_ms = r.num("pool_wait_ms");
    s.shard_ms = r.num("shard_ms");
    s.proxy_ms = r.num("proxy_ms");
    s.held_ms = r.num("held_ms");
    s.p50_ms = r.num("p50_ms");
    s.avg_shards = r.num("avg_shards");
    s.rows_per_call = s.calls ? double(s.rows) / double(s.calls) : 0;
    s.error_rate = s.calls ? 100.0 * double(s.errors) / double(s.calls) : 0;
    s.proxy_pct = s.total_ms > 0 ? 100.0 * s.proxy_ms / s.total_ms : 0;
    return s;
}

// What to do about a statement that fails, by SQLSTATE class.
std::string error_advice(const std::string& by_state) {
    const std::string first = by_state.substr(0, by_state.find('='));
    if (first.starts_with("23"))
        return "a constraint rejects these calls: check first or use INSERT ... ON CONFLICT";
    if (first == sqlstate::kSerializationFailure || first == sqlstate::kDeadlockDetected)
        return "serialization failures or deadlocks: keep transactions short, touch rows in one "
               "order, retry";
    if (first == sqlstate::kQueryCanceled)
        return "statements hit a timeout or were cancelled: narrow them or add an index";
    if (first.starts_with("42"))
        return "the statement itself is wrong (syntax or missing object): a bug to fix";
    if (first == sqlstate::kTooManyConnections)
        return "no server connection in time: raise [proxy] pool_size or shorten transactions";
    if (first.starts_with("0A"))
        return "shardgate cannot run it as written: see the error message for the rewrite";
    return "every failed call is a wasted round trip: fix the cause (see the SQLSTATE)";
}

void statement_findings(const Statement& s, double total_ms, std::vector<Finding>& out) {
    const double share = total_ms > 0 ? 100.0 * s.total_ms / total_ms : 0;
    if (s.fingerprint == "other") return;
    if (s.fanout_calls > 0 && 2 * s.fanout_calls >= s.calls && share >= 1.0) {
        out.push_back(
            {"fan-out", s.fingerprint, s.query,
             fmt::format("{} of {} calls ran on several shards ({:.1f} shards per call), {:.1f}% "
                         "of all time",
                         s.fanout_calls, s.calls, s.avg_shards, share),
             "filter on the table's shard key (= value or = ANY($1)) so it routes to one shard; "
             "if the table is small and read-mostly, make it a reference table",
             s.total_ms});
    }
    if (s.errors > 0 && s.error_rate >= 1.0) {
        out.push_back({"errors", s.fingerprint, s.query,
                       fmt::format("{} of {} calls failed ({:.1f}%): {}", s.errors, s.calls,
                                   s.error_rate, s.errors_by_sqlstate),
                       error_advice(s.errors_by_sqlstate), s.total_ms});
    }
    if (s.total_ms > 0 && s.pool_wait_ms >= 0.2 * s.total_ms && share >= 1.0) {
        out.push_back({"pool wait", s.fingerprint, s.query,
                       fmt::format("{:.1f}% of its time was spent waiting for a server connection",
                                   100.0 * s.pool_wait_ms / s.total_ms),
                       "raise [proxy] pool_size, or shorten the transactions that hold connections",
                       s.total_ms});
    }
}

int kind_rank(const std::string& kind) {
    static const char* order[] = {"fan-out N+1", "N+1",    "slow shard",
                                  "fan-out",     "errors", "pool wait"};
    for (int i = 0; i < 6; ++i)
        if (kind == order[i]) return i;
    return 6;
}

}  // namespace

Report build(const Table& queries, const Table& nplusone, const Table& slow, int top) {
    Inputs in;
    in.queries = queries;
    in.nplusone = nplusone;
    in.slow = slow;
    in.top = top;
    return build(in);
}

Report build(const Inputs& in) {
    const Table &queries = in.queries, &nplusone = in.nplusone, &slow = in.slow;
    const int top = in.top;
    Report r;
    r.include_held = in.include_held;
    std::vector<Statement> all;
    for (const auto& row : queries.rows) all.push_back(read_statement(RowReader(queries, row)));
    // Time held by a pause is the operator's (or the rebalancer's), not the statement's: it is
    // left out of the ranking and the shares unless asked for.
    auto ranked_ms = [&](const Statement& s) {
        return in.include_held ? s.total_ms : s.total_ms - s.held_ms;
    };
    for (const auto& s : all) {
        r.calls += s.calls;
        r.total_ms += ranked_ms(s);
        r.held_ms += s.held_ms;
    }
    r.statement_count = all.size();
    for (auto& s : all) s.pct_total = r.total_ms > 0 ? 100.0 * ranked_ms(s) / r.total_ms : 0;
    std::stable_sort(all.begin(), all.end(), [&](const Statement& a, const Statement& b) {
        return ranked_ms(a) > ranked_ms(b);
    });
    for (const auto& s : all) statement_findings(s, r.total_ms, r.findings);
    for (const auto& row : nplusone.rows) {
        RowReader n(nplusone, row);
        r.findings.push_back(
            {n.str("kind"), n.str("repeated_fingerprint"), n.str("repeated_query"),
             fmt::format("{} calls in {} bursts (about {} per burst, at most {}) right after "
                         "\"{}\"; {} ms in all",
                         n.str("repeats"), n.str("bursts"), n.str("avg_burst"), n.str("max_burst"),
                         n.str("source_query"), n.str("total_ms")),
             n.str("suggestion"), n.num("total_ms")});
    }
    add_shard_sections(r, in.shard_stats,
                       in.refusals);  // adds a "slow shard" finding per straggler
    add_window_sections(r, in.period, in.windows,
                        in.current.columns.empty() ? in.queries : in.current, in.previous,
                        in.scope);
    std::stable_sort(r.findings.begin(), r.findings.end(), [](const Finding& a, const Finding& b) {
        if (kind_rank(a.kind) != kind_rank(b.kind)) return kind_rank(a.kind) < kind_rank(b.kind);
        return a.total_ms > b.total_ms;
    });
    all.resize(std::min(all.size(), size_t(std::max(top, 0))));
    r.top = std::move(all);
    for (const auto& row : slow.rows) {
        RowReader s(slow, row);
        r.slow.push_back({s.str("at"), s.str("fingerprint"), s.str("user"), s.str("database"),
                          s.str("sqlstate"), s.str("query"), s.num("duration_ms"),
                          s.count("shards"), s.count("rows")});
    }
    return r;
}

std::string render_text(const Report& r) {
    std::string out = fmt::format(
        "shardgate query cost report\n{} statements, {} calls, {:.3f} ms in all{}\n",
        r.statement_count, r.calls, r.total_ms,
        r.held_ms > 0 ? fmt::format(" ({} {:.3f} ms held by pauses)",
                                    r.include_held ? "including" : "not counting", r.held_ms)
                      : std::string());
    out += render_period_text(r) + "\n";
    out += fmt::format(
        "{:>3} {:>6} {:>12} {:>9} {:>10} {:>10} {:>10} {:>10} {:>9} {:>7} {:>6} {:>7} {:>10}  {}\n",
        "#", "time%", "total_ms", "calls", "mean_ms", "p50_ms", "p95_ms", "p99_ms", "rows/call",
        "shards", "err%", "proxy%", "held_ms", "statement");
    int rank = 0;
    for (const auto& s : r.top) {
        std::string q = s.query.size() > 80 ? s.query.substr(0, 77) + "..." : s.query;
        std::replace(q.begin(), q.end(), '\n', ' ');
        out += fmt::format(
            "{:>3} {:>6.1f} {:>12.3f} {:>9} {:>10.3f} {:>10.3f} {:>10.3f} {:>10.3f} {:>9.1f} "
            "{:>7.2f} "
            "{:>6.1f} {:>7.1f} {:>10.3f}  {}\n",
            ++rank, s.pct_total, s.total_ms, s.calls, s.mean_ms, s.p50_ms, s.p95_ms, s.p99_ms,
            s.rows_per_call, s.avg_shards, s.error_rate, s.proxy_pct, s.held_ms, q);
        out += fmt::format("    fingerprint {} (user {}, database {})\n", s.fingerprint, s.user,
                           s.database);
    }
    out += "\nFindings\n";
    if (r.findings.empty())
        out += "  none: no N+1 loops, fan-out hot spots, error-prone statements or pool waits\n";
    for (const auto& f : r.findings) {
        out += fmt::format("- [{}] {}\n    statement: {}\n    seen: {}\n    do: {}\n", f.kind,
                           f.fingerprint, f.query, f.detail, f.advice);
    }
    out += render_slower_text(r);
    out += render_shards_text(r);
    out += render_refusals_text(r);
    out += "\nRecent slow statements\n";
    if (r.slow.empty()) out += "  none\n";
    for (const auto& s : r.slow) {
        out += fmt::format("  {} {:>10.3f} ms  shards {} rows {}{}  {}\n", s.at, s.duration_ms,
                           s.shards, s.rows, s.sqlstate.empty() ? "" : " sqlstate " + s.sqlstate,
                           s.query);
    }
    return out;
}

std::string render_json(const Report& r) {
    nlohmann::json j;
    j["summary"] = {
        {"statements", r.statement_count}, {"calls", r.calls}, {"total_ms", r.total_ms}};
    j["statements"] = nlohmann::json::array();
    for (const auto& s : r.top) {
        j["statements"].push_back({{"fingerprint", s.fingerprint},
                                   {"user", s.user},
                                   {"database", s.database},
                                   {"query", s.query},
                                   {"calls", s.calls},
                                   {"errors", s.errors},
                                   {"errors_by_sqlstate", s.errors_by_sqlstate},
                                   {"rows", s.rows},
                                   {"total_ms", s.total_ms},
                                   {"pct_total", s.pct_total},
                                   {"mean_ms", s.mean_ms},
                                   {"p50_ms", s.p50_ms},
                                   {"p95_ms", s.p95_ms},
                                   {"held_ms", s.held_ms},
                                   {"p99_ms", s.p99_ms},
                                   {"rows_per_call", s.rows_per_call},
                                   {"shards_per_call", s.avg_shards},
                                   {"fanout_calls", s.fanout_calls},
                                   {"error_rate_pct", s.error_rate},
                                   {"pool_wait_ms", s.pool_wait_ms},
                                   {"shard_ms", s.shard_ms},
                                   {"proxy_ms", s.proxy_ms},
                                   {"proxy_pct", s.proxy_pct}});
    }
    j["findings"] = nlohmann::json::array();
    for (const auto& f : r.findings) {
        j["findings"].push_back({{"kind", f.kind},
                                 {"fingerprint", f.fingerprint},
                                 {"query", f.query},
                                 {"detail", f.detail},
                                 {"advice", f.advice},
                                 {"total_ms", f.total_ms}});
    }
    j["slow"] = nlohmann::json::array();
    for (const auto& s : r.slow) {
        j["slow"].push_back({{"at", s.at},
                             {"fingerprint", s.fingerprint},
                             {"user", s.user},
                             {"database", s.database},
                             {"duration_ms", s.duration_ms},
                             {"shards", s.shards},
                             {"rows", s.rows},
                             {"sqlstate", s.sqlstate},
                             {"query", s.query}});
    }
    j["summary"]["held_ms"] = r.held_ms;
    j["period"] = {{"from", r.covers_from},
                   {"to", r.covers_to},
                   {"reset_at", r.reset_at},
                   {"scope", r.scope},
                   {"window_seconds", r.window_seconds},
                   {"window_count", r.window_count}};
    j["intervals"] = nlohmann::json::array();
    for (const auto& i : r.intervals)
        j["intervals"].push_back({{"start", i.start},
                                  {"calls", i.calls},
                                  {"total_ms", i.total_ms},
                                  {"p50_ms", i.p50_ms},
                                  {"p95_ms", i.p95_ms}});
    if (r.compared) {
        j["compared"] = {{"from", r.current_from},
                         {"to", r.current_to},
                         {"previous_from", r.previous_from},
                         {"previous_to", r.previous_to}};
        j["slower"] = nlohmann::json::array();
        for (const auto& s : r.slower)
            j["slower"].push_back({{"fingerprint", s.fingerprint},
                                   {"query", s.query},
                                   {"p95_before_ms", s.p95_before},
                                   {"p95_now_ms", s.p95_now},
                                   {"total_before_ms", s.total_before},
                                   {"total_now_ms", s.total_now},
                                   {"calls_before", s.calls_before},
                                   {"calls_now", s.calls_now}});
    }
    j["summary"]["include_held"] = r.include_held;
    j["shards"] = nlohmann::json::array();
    for (const auto& s : r.shards)
        j["shards"].push_back({{"shard", s.shard},
                               {"calls", s.calls},
                               {"errors", s.errors},
                               {"rows", s.rows},
                               {"bytes_sent", s.bytes_sent},
                               {"bytes_received", s.bytes_received},
                               {"total_ms", s.total_ms},
                               {"mean_ms", s.mean_ms},
                               {"p50_ms", s.p50_ms},
                               {"p95_ms", s.p95_ms},
                               {"max_ms", s.max_ms},
                               {"pool_wait_ms", s.pool_wait_ms}});
    j["stragglers"] = nlohmann::json::array();
    for (const auto& s : r.stragglers)
        j["stragglers"].push_back({{"shard", s.shard},
                                   {"fingerprint", s.fingerprint},
                                   {"query", s.query},
                                   {"calls", s.calls},
                                   {"p50_ms", s.p50_ms},
                                   {"over_median_ms", s.over_median_ms},
                                   {"ratio", s.ratio},
                                   {"rows_share_pct", s.rows_share},
                                   {"pool_wait_ms", s.pool_wait_ms},
                                   {"shard_ms", s.shard_ms}});
    j["refusals"] = nlohmann::json::array();
    for (const auto& f : r.refusals)
        j["refusals"].push_back({{"construct", f.construct},
                                 {"count", f.count},
                                 {"fingerprint", f.fingerprint},
                                 {"query", f.query},
                                 {"message", f.message},
                                 {"way_around", f.way_around}});
    // Replace, not throw, on text that is not UTF-8: a report must always come out.
    return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace sg::stats::report
