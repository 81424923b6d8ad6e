#include "proxy/stats/admin_windows.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>
#include <tuple>
#include <vector>

namespace sg::stats {

namespace {

std::vector<std::string> words(std::string_view s) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : s) {
        if (std::isspace(static_cast<unsigned char>(c)) || c == ';') {
            if (!cur.empty()) out.push_back(std::move(cur));
            cur.clear();
        } else {
            cur += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        }
    }
    if (!cur.empty()) out.push_back(std::move(cur));
    return out;
}

bool parse_count(const std::string& s, size_t& out) {
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && end == s.data() + s.size();
}

// The figures columns shared with SHOW QUERIES (same names, so the report reads either).
void figure_cells(std::vector<std::string>& row, const Figures& f) {
    row.insert(row.end(), {std::to_string(f.calls), std::to_string(f.errors),
                           std::to_string(f.rows), format_ms(double(f.total_ns())),
                           format_ms(f.mean_ns()), format_ms(double(f.latency.percentile(0.50))),
                           format_ms(double(f.latency.percentile(0.95))),
                           format_ms(double(f.latency.percentile(0.99))),
                           format_ms(double(f.pool_wait_ns)), format_ms(double(f.server_ns)),
                           format_ms(double(f.proxy_ns)), format_ms(double(f.held_ns)),
                           std::to_string(f.fanout), fmt::format("{:.2f}", f.shards_per_call())});
}

const std::vector<std::string> kFigureColumns{
    "calls",  "errors",       "rows",     "total_ms", "mean_ms", "p50_ms",       "p95_ms",
    "p99_ms", "pool_wait_ms", "shard_ms", "proxy_ms", "held_ms", "fanout_calls", "avg_shards"};

}  // namespace

std::string iso_time(std::chrono::system_clock::time_point t) {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() % 1000;
    return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03d}Z",
                       fmt::gmtime(std::chrono::system_clock::to_time_t(t)), ms);
}

router::Expected<WindowRequest, std::string> parse_show_window(std::string_view tail) {
    const auto w = words(tail);
    const std::string usage = "usage: SHOW WINDOW [intervals] [OFFSET intervals]";
    WindowRequest r;
    size_t i = 0;
    if (i < w.size() && w[i] != "OFFSET") {
        if (!parse_count(w[i], r.intervals) || r.intervals == 0)
            return fmt::format("\"{}\" is not a positive number of intervals; {}", w[i], usage);
        ++i;
    }
    if (i < w.size() && w[i] == "OFFSET") {
        if (i + 1 >= w.size() || !parse_count(w[i + 1], r.offset))
            return fmt::format("OFFSET needs a non-negative number of intervals; {}", usage);
        i += 2;
    }
    if (i != w.size()) return fmt::format("unexpected \"{}\"; {}", w[i], usage);
    return r;
}

Table show_window(const QueryStats& stats, const WindowRequest& request) {
    const Windows& win = stats.windows();
    const int64_t last = win.current_index() - int64_t(request.offset);
    const int64_t n = int64_t(request.intervals ? request.intervals : win.count());
    const int64_t first = last - n + 1;
    // Merged over the intervals, by (fingerprint, user, database).
    struct Merged {
        std::shared_ptr<const Shape> shape;
        Figures figures;
    };
    std::map<std::tuple<uint64_t, std::string, std::string>, Merged> merged;
    for (const auto* w : win.between(first, last))
        for (const auto& [fp, cells] : w->cells)
            for (const auto& c : cells) {
                Merged& m = merged[{fp, c.user, c.database}];
                m.shape = c.shape;
                m.figures.merge(c.figures);
            }
    std::vector<std::pair<const std::tuple<uint64_t, std::string, std::string>*, const Merged*>>
        rows;
    for (const auto& [k, m] : merged) rows.emplace_back(&k, &m);
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
        if (a.second->figures.working_ns() != b.second->figures.working_ns())
            return a.second->figures.working_ns() > b.second->figures.working_ns();
        return *a.first < *b.first;
    });
    Table t{{"window_start", "window_end", "fingerprint", "user", "database"}, {}, {}};
    t.columns.insert(t.columns.end(), kFigureColumns.begin(), kFigureColumns.end());
    t.columns.push_back("query");
    const std::string start = iso_time(win.start_of(first)), end = iso_time(win.start_of(last + 1));
    for (const auto& [k, m] : rows) {
        std::vector<std::string> row{start, end, m->shape->hex, std::get<1>(*k), std::get<2>(*k)};
        figure_cells(row, m->figures);
        row.push_back(m->shape->normalized);
        t.rows.push_back(std::move(row));
    }
    return t;
}

Table show_windows(const QueryStats& stats) {
    const Windows& win = stats.windows();
    const int64_t now = win.current_index();
    Table t{{"window_start", "window_end"}, {}, {}};
    t.columns.insert(t.columns.end(), kFigureColumns.begin(), kFigureColumns.end());
    for (const auto* w : win.between(now - int64_t(win.count()) + 1, now)) {
        std::vector<std::string> row{iso_time(win.start_of(w->index)),
                                     iso_time(win.start_of(w->index + 1))};
        figure_cells(row, w->total);
        t.rows.push_back(std::move(row));
    }
    return t;
}

Table show_stats_period(const QueryStats& stats) {
    const Windows& win = stats.windows();
    return Table{{"started_at", "reset_at", "now", "window_seconds", "windows_kept"},
                 {{iso_time(stats.started()), iso_time(stats.since()),
                   iso_time(std::chrono::system_clock::now()), std::to_string(win.width().count()),
                   std::to_string(win.count())}},
                 {}};
}

}  // namespace sg::stats
