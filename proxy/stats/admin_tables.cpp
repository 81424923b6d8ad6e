#include "proxy/stats/admin_tables.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <tuple>

namespace sg::stats {

namespace {

std::string upper(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

std::vector<std::string> words(std::string_view s) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
        size_t j = i;
        while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j]))) ++j;
        if (j > i) out.emplace_back(s.substr(i, j - i));
        i = j;
    }
    return out;
}

std::string errors_text(const Figures& f) {
    std::string out;
    for (const auto& e : f.errors_by_state) {
        if (!out.empty()) out += ',';
        out += fmt::format("{}={}", e.state(), e.count);
    }
    return out;
}

// One row of SHOW QUERIES before formatting: a group or an "other" row.
struct QueryRow {
    std::string fingerprint;
    std::string_view user, database;
    const Figures* f;
    std::string query;
    const RefusalRow* refused = nullptr;  // the same shape refused (by construct), if it was
};

double order_value(const QueryRow& r, QueryOrder o) {
    switch (o) {
        case QueryOrder::Total:  // the statement's own cost: time held by a pause is not
            return double(r.f->working_ns());
        case QueryOrder::TotalWithHeld:
            return double(r.f->total_ns());
        case QueryOrder::Held:
            return double(r.f->held_ns);
        case QueryOrder::Mean:
            return r.f->mean_ns();
        case QueryOrder::P99:
            return double(r.f->latency.percentile(0.99));
        case QueryOrder::Calls:
            return double(r.f->calls);
        case QueryOrder::Errors:
            return double(r.f->errors);
    }
    return 0;
}

std::string iso_time(std::chrono::system_clock::time_point t) {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() % 1000;
    return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03d}Z",
                       fmt::gmtime(std::chrono::system_clock::to_time_t(t)), ms);
}

}  // namespace

std::string format_ms(double ns) {
    return fmt::format("{:.3f}", ns / 1e6);
}

router::Expected<QueriesRequest, std::string> parse_show_queries(std::string_view tail) {
    while (!tail.empty() &&
           (tail.back() == ';' || std::isspace(static_cast<unsigned char>(tail.back()))))
        tail.remove_suffix(1);
    const auto w = words(tail);
    const std::string usage =
        "usage: SHOW QUERIES [ORDER BY total|total_with_held|held|mean|p99|calls|errors] [LIMIT n]";
    QueriesRequest req;
    size_t i = 0;
    if (i < w.size() && upper(w[i]) == "ORDER") {
        if (i + 2 >= w.size() || upper(w[i + 1]) != "BY") return usage;
        const std::string key = upper(w[i + 2]);
        if (key == "TOTAL")
            req.order = QueryOrder::Total;
        else if (key == "TOTAL_WITH_HELD")
            req.order = QueryOrder::TotalWithHeld;
        else if (key == "HELD")
            req.order = QueryOrder::Held;
        else if (key == "MEAN")
            req.order = QueryOrder::Mean;
        else if (key == "P99")
            req.order = QueryOrder::P99;
        else if (key == "CALLS")
            req.order = QueryOrder::Calls;
        else if (key == "ERRORS")
            req.order = QueryOrder::Errors;
        else
            return fmt::format("cannot order by \"{}\"; {}", w[i + 2], usage);
        i += 3;
    }
    if (i < w.size() && upper(w[i]) == "LIMIT") {
        if (i + 1 >= w.size()) return usage;
        size_t n = 0;
        const std::string& s = w[i + 1];
        auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
        if (ec != std::errc() || end != s.data() + s.size())
            return fmt::format("LIMIT needs a non-negative integer, not \"{}\"; {}", s, usage);
        req.limit = n;
        i += 2;
    }
    if (i != w.size()) return fmt::format("unexpected \"{}\"; {}", w[i], usage);
    return req;
}

Table show_queries(const QueryStats& stats, const QueriesRequest& request) {
    std::vector<QueryRow> rows;
    rows.reserve(stats.groups().size() + stats.other().size());
    for (const auto& [key, g] : stats.groups())
        rows.push_back({g.shape->hex, key.user, key.database, &g.figures, g.shape->normalized});
    for (const auto& [key, f] : stats.other())
        rows.push_back({"other", key.second, key.first, &f,
                        fmt::format("(statements evicted from the statistics: {} in all)",
                                    stats.evictions())});
    // Refused statements count here too (a user migrating an application asks "what does it
    // send that the proxy refuses" first): on their shape's row, or on a row of their own with
    // no executions. One shape refused for two constructs gets one row per construct.
    static const Figures kNotRun{};
    for (const auto& ref : stats.refusals().rows()) {
        QueryRow* same = nullptr;
        for (auto& r : rows)
            if (!r.refused && r.fingerprint == ref.shape->hex && r.user == ref.user &&
                r.database == ref.database)
                same = &r;
        if (same) {
            same->refused = &ref;
        } else {
            rows.push_back(
                {ref.shape->hex, ref.user, ref.database, &kNotRun, ref.shape->normalized, &ref});
        }
    }
    std::sort(rows.begin(), rows.end(), [&](const QueryRow& a, const QueryRow& b) {
        const double x = order_value(a, request.order), y = order_value(b, request.order);
        if (x != y) return x > y;
        return std::tie(a.fingerprint, a.user, a.database) <
               std::tie(b.fingerprint, b.user, b.database);
    });
    if (request.limit && rows.size() > *request.limit) rows.resize(*request.limit);

    Table t{{"fingerprint",  "user",
             "database",     "calls",
             "errors",       "errors_by_sqlstate",
             "rows",         "total_ms",
             "mean_ms",      "min_ms",
             "max_ms",       "p50_ms",
             "p95_ms",       "p99_ms",
             "pool_wait_ms", "shard_ms",
             "proxy_ms",     "held_ms",
             "local_calls",  "single_shard_calls",
             "fanout_calls", "avg_shards",
             "max_shards",   "bytes_in",
             "bytes_out",    "query",
             "refused",      "refused_construct"},
            {},
            {}};
    for (const auto& r : rows) {
        const Figures& f = *r.f;
        t.rows.push_back({r.fingerprint,
                          std::string(r.user),
                          std::string(r.database),
                          std::to_string(f.calls),
                          std::to_string(f.errors),
                          errors_text(f),
                          std::to_string(f.rows),
                          format_ms(double(f.total_ns())),
                          format_ms(f.mean_ns()),
                          format_ms(double(f.latency.min())),
                          format_ms(double(f.latency.max())),
                          format_ms(double(f.latency.percentile(0.50))),
                          format_ms(double(f.latency.percentile(0.95))),
                          format_ms(double(f.latency.percentile(0.99))),
                          format_ms(double(f.pool_wait_ns)),
                          format_ms(double(f.server_ns)),
                          format_ms(double(f.proxy_ns)),
                          format_ms(double(f.held_ns)),
                          std::to_string(f.local_calls),
                          std::to_string(f.single_shard),
                          std::to_string(f.fanout),
                          fmt::format("{:.2f}", f.shards_per_call()),
                          std::to_string(f.max_shards),
                          std::to_string(f.bytes_in),
                          std::to_string(f.bytes_out),
                          r.query,
                          std::to_string(r.refused ? r.refused->count : 0),
                          r.refused ? r.refused->construct : std::string()});
    }
    return t;
}

Table show_slow(const QueryStats& stats) {
    Table t{{"at", "fingerprint", "user", "database", "client_id", "duration_ms", "shard_ms",
             "pool_wait_ms", "shards", "rows", "sqlstate", "query", "params"},
            {},
            {}};
    const bool with_params = stats.slow().log_parameters();
    for (const auto& s : stats.slow().entries()) {
        t.rows.push_back({iso_time(s.at), s.shape->hex, s.user, s.database,
                          std::to_string(s.client_id), format_ms(double(s.latency_ns)),
                          format_ms(double(s.server_ns)), format_ms(double(s.pool_wait_ns)),
                          std::to_string(s.shards), std::to_string(s.rows), s.sqlstate,
                          s.shape->normalized, with_params ? format_params(s.params) : ""});
    }
    return t;
}

Table show_nplusone(const QueryStats& stats) {
    std::vector<const NPlusOneFinding*> all;
    for (const auto& [key, f] : stats.nplusone().findings()) all.push_back(&f);
    std::sort(all.begin(), all.end(), [](const NPlusOneFinding* a, const NPlusOneFinding* b) {
        if (a->fanout() != b->fanout()) return a->fanout();  // fan-out N+1s are worse: first
        if (a->total_ns != b->total_ns) return a->total_ns > b->total_ns;
        return a->repeated->hex < b->repeated->hex;
    });
    Table t{{"kind", "source_fingerprint", "repeated_fingerprint", "bursts", "fanout_bursts",
             "repeats", "avg_burst", "max_burst", "total_ms", "user", "database", "source_query",
             "repeated_query", "suggestion"},
            {},
            {}};
    for (const auto* f : all) {
        std::string advice = kNPlusOneAdvice;
        if (f->fanout())
            advice +=
                "; every repeat also runs on several shards, so add the shard key to its WHERE";
        t.rows.push_back(
            {f->fanout() ? "fan-out N+1" : "N+1", f->source ? f->source->hex : "", f->repeated->hex,
             std::to_string(f->bursts), std::to_string(f->fanout_bursts),
             std::to_string(f->repeats),
             fmt::format("{:.1f}", f->bursts ? double(f->repeats) / double(f->bursts) : 0.0),
             std::to_string(f->max_burst), format_ms(double(f->total_ns)), f->user, f->database,
             f->source ? f->source->normalized : "(none: the loop began the session)",
             f->repeated->normalized, std::move(advice)});
    }
    return t;
}

Table show_stats(const QueryStats& stats, std::span<const ShardTotals> shards) {
    Table t{
        {"scope", "database", "user", "shard", "queries", "errors", "rows", "bytes_in", "bytes_out",
         "total_ms", "avg_ms", "p99_ms", "shard_ms", "pool_wait_ms", "proxy_ms", "fanout_queries"},
        {},
        {}};
    for (const auto& [key, tot] : stats.totals()) {
        const Figures& f = tot.figures;
        t.rows.push_back({"user", key.first, key.second, "", std::to_string(f.calls),
                          std::to_string(f.errors), std::to_string(f.rows),
                          std::to_string(f.bytes_in), std::to_string(f.bytes_out),
                          format_ms(double(f.total_ns())), format_ms(f.mean_ns()),
                          format_ms(double(f.latency.percentile(0.99))),
                          format_ms(double(f.server_ns)), format_ms(double(f.pool_wait_ns)),
                          format_ms(double(f.proxy_ns)), std::to_string(f.fanout)});
    }
    for (const auto& s : shards) {
        t.rows.push_back({"shard", "", "", s.shard, std::to_string(s.queries),
                          std::to_string(s.errors), "", std::to_string(s.bytes_in),
                          std::to_string(s.bytes_out), "", "", "",
                          format_ms(s.server_seconds * 1e9), "", "", ""});
    }
    return t;
}

Table reset_queries(QueryStats& stats) {
    stats.reset();
    return Table{{}, {}, "RESET"};
}

}  // namespace sg::stats
