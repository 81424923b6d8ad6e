#include "proxy/stats/live_report.h"

#include <fmt/format.h>

#include <algorithm>

#include "proxy/stats/admin_shards.h"
#include "proxy/stats/admin_tables.h"
#include "proxy/stats/admin_windows.h"

namespace sg::stats::live {

namespace {

void cut(std::string& s, size_t n) {
    if (s.size() <= n) return;
    // Cut on a UTF-8 character boundary, so the JSON and HTML stay valid text.
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    s.resize(n);
    s += "...";
}

template <class T>
void cap(std::vector<T>& v, size_t n) {
    if (v.size() > n) v.resize(n);
}

}  // namespace

report::Report build(const QueryStats& stats, std::span<const std::string> shard_names,
                     const Options& options) {
    report::Inputs in;
    in.top = std::max(1, options.top);
    in.queries = show_queries(stats, QueriesRequest{});
    in.nplusone = show_nplusone(stats);
    in.slow = show_slow(stats);
    in.shard_stats = show_shard_stats(stats, shard_names);
    in.refusals = show_refusals(stats);
    in.period = show_stats_period(stats);
    in.windows = show_windows(stats);
    if (const size_t n = options.compare_intervals; n > 0 && 2 * n <= stats.windows().count()) {
        in.current = show_window(stats, WindowRequest{n, 0});
        in.previous = show_window(stats, WindowRequest{n, n});
    }
    report::Report r = report::build(in);
    bound(r, options);
    return r;
}

void bound(report::Report& r, const Options& o) {
    cap(r.top, size_t(std::max(1, o.top)));
    cap(r.findings, o.max_rows);
    cap(r.slow, o.max_rows);
    cap(r.refusals, o.max_rows);
    cap(r.stragglers, o.max_rows);
    cap(r.slower, o.max_rows);
    // Intervals and shards are bounded by the configuration ([stats] window_count, [[shards]]).
    for (auto& s : r.top) cut(s.query, o.max_query_chars);
    for (auto& f : r.findings) cut(f.query, o.max_query_chars);
    for (auto& s : r.slow) cut(s.query, o.max_query_chars);
    for (auto& f : r.refusals) {
        cut(f.query, o.max_query_chars);
        cut(f.message, o.max_query_chars);
    }
    for (auto& s : r.stragglers) cut(s.query, o.max_query_chars);
    for (auto& s : r.slower) cut(s.query, o.max_query_chars);
}

void Pages::refresh() {
    const auto now = std::chrono::steady_clock::now();
    if (builds_ > 0 && now - built_at_ < options_.max_age) return;
    report_ = builder_();
    html_.clear();
    json_.clear();
    built_at_ = now;
    ++builds_;
}

std::string Pages::html() {
    refresh();
    if (html_.empty())
        html_ =
            report::render_live_html(report_, options_.refresh_seconds,
                                     fmt::format("built {} (at most every {} ms)",
                                                 report_.generated_at, options_.max_age.count()));
    return html_;
}

std::string Pages::json() {
    refresh();
    if (json_.empty()) json_ = report::render_json(report_);
    return json_;
}

}  // namespace sg::stats::live
