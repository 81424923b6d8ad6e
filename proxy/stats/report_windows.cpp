// The report's period ("covers ... to ...; statistics last reset at ..."), its per-window
// chart, and the comparison of two windows: "what got slower".
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "proxy/stats/html_escape.h"
#include "proxy/stats/report.h"
#include "proxy/stats/report_rows.h"

namespace sg::stats::report {

namespace {

struct Figures3 {
    std::string query;
    uint64_t calls = 0;
    double total_ms = 0, p95_ms = 0;
};

std::map<std::string, Figures3> by_statement(const Table& t) {
    std::map<std::string, Figures3> out;
    for (const auto& row : t.rows) {
        RowReader x(t, row);
        auto& f = out[x.str("fingerprint") + '\0' + x.str("user") + '\0' + x.str("database")];
        f.query = x.str("query");
        f.calls += x.count("calls");
        f.total_ms += x.num("total_ms") - x.num("held_ms");
        f.p95_ms = std::max(f.p95_ms, x.num("p95_ms"));
    }
    return out;
}

// The window compared against; a window without calls has no bounds to show.
std::string previous_window(const Report& r) {
    if (r.previous_from.empty()) return "the window before it (no calls)";
    return r.previous_from + " to " + r.previous_to;
}

}  // namespace

void add_window_sections(Report& r, const Table& period, const Table& windows, const Table& current,
                         const Table& previous, const std::string& scope) {
    if (!period.rows.empty()) {
        RowReader p(period, period.rows.front());
        r.reset_at = p.str("reset_at");
        r.generated_at = p.str("now");
        r.covers_from = p.str("reset_at");
        r.covers_to = p.str("now");
        r.window_seconds = long(p.count("window_seconds"));
        r.window_count = long(p.count("windows_kept"));
    }
    if (!current.rows.empty() && !scope.empty()) {
        RowReader c(current, current.rows.front());
        r.covers_from = c.str("window_start");
        r.covers_to = c.str("window_end");
    }
    r.scope = scope;
    for (const auto& row : windows.rows) {
        RowReader x(windows, row);
        r.intervals.push_back({x.str("window_start"), x.count("calls"),
                               x.num("total_ms") - x.num("held_ms"), x.num("p50_ms"),
                               x.num("p95_ms")});
    }
    if (previous.columns.empty()) return;
    r.compared = true;
    r.current_from = r.covers_from;
    r.current_to = r.covers_to;
    if (!current.rows.empty()) {
        RowReader c(current, current.rows.front());
        r.current_from = c.str("window_start");
        r.current_to = c.str("window_end");
    }
    if (!previous.rows.empty()) {
        RowReader p(previous, previous.rows.front());
        r.previous_from = p.str("window_start");
        r.previous_to = p.str("window_end");
    }
    const auto now = by_statement(current), before = by_statement(previous);
    for (const auto& [key, f] : now) {
        auto it = before.find(key);
        if (it == before.end()) continue;  // new: nothing to compare with
        const Figures3& b = it->second;
        const double p95_growth = f.p95_ms - b.p95_ms, total_growth = f.total_ms - b.total_ms;
        if (p95_growth <= 0 && total_growth <= 0) continue;
        r.slower.push_back({key.substr(0, key.find('\0')), f.query, b.p95_ms, f.p95_ms, b.total_ms,
                            f.total_ms, b.calls, f.calls});
    }
    std::stable_sort(r.slower.begin(), r.slower.end(), [](const Slower& a, const Slower& b) {
        const double ga = std::max(a.p95_now - a.p95_before, 0.0) * double(a.calls_now) +
                          std::max(a.total_now - a.total_before, 0.0);
        const double gb = std::max(b.p95_now - b.p95_before, 0.0) * double(b.calls_now) +
                          std::max(b.total_now - b.total_before, 0.0);
        return ga > gb;
    });
}

std::string render_period_text(const Report& r) {
    std::string out;
    if (!r.covers_from.empty())
        out += fmt::format("covers {} to {}{}; statistics last reset at {}{}\n", r.covers_from,
                           r.covers_to, r.scope.empty() ? "" : " (" + r.scope + ")", r.reset_at,
                           render_intervals_note(r));
    return out;
}

std::string render_intervals_note(const Report& r) {
    if (r.window_seconds <= 0) return {};
    return fmt::format("; intervals of {} s, the last {} kept", r.window_seconds, r.window_count);
}

std::string render_slower_text(const Report& r) {
    if (!r.compared) return {};
    std::string out = fmt::format("\nWhat got slower: {} to {} against {}\n", r.current_from,
                                  r.current_to, previous_window(r));
    if (r.slower.empty()) return out + "  nothing: no statement's p95 or total time grew\n";
    for (const auto& s : r.slower)
        out += fmt::format(
            "  p95 {:.3f} -> {:.3f} ms, total {:.3f} -> {:.3f} ms, calls {} -> {}  {}\n",
            s.p95_before, s.p95_now, s.total_before, s.total_now, s.calls_before, s.calls_now,
            s.query.substr(0, 100));
    return out;
}

std::string render_windows_html(const Report& r) {
    std::string out;
    if (r.compared) {
        out += fmt::format("<h2>What got slower</h2><p class=\"muted\">{} to {} against {}</p>",
                           html_escape(r.current_from), html_escape(r.current_to),
                           html_escape(previous_window(r)));
        if (r.slower.empty()) {
            out += "<p>No statement's p95 or total time grew.</p>";
        } else {
            out +=
                "<table class=\"sortable\" id=\"slower\"><thead><tr><th>p95 before ms</th><th>p95 "
                "now ms</th>"
                "<th>total before ms</th><th>total now ms</th><th>calls before</th><th>calls "
                "now</th>"
                "<th class=\"q\">statement</th></tr></thead><tbody>";
            for (const auto& s : r.slower)
                out += fmt::format(
                    "<tr><td>{:.3f}</td><td>{:.3f}</td><td>{:.3f}</td><td>{:.3f}</td><td>{}</"
                    "td><td>{}</td>"
                    "<td class=\"q\"><code>{}</code></td></tr>",
                    s.p95_before, s.p95_now, s.total_before, s.total_now, s.calls_before,
                    s.calls_now, html_escape(s.query));
            out += "</tbody></table>";
        }
    }
    if (r.intervals.empty()) return out;
    double top = 0;
    for (const auto& i : r.intervals) top = std::max(top, i.total_ms);
    const int bar_w = 14, gap = 4, h = 140;
    const int width = int(r.intervals.size()) * (bar_w + gap) + 60;
    out += fmt::format(
        "<h2>Time per interval</h2><svg id=\"window-chart\" xmlns=\"http://www.w3.org/2000/svg\" "
        "role=\"img\" width=\"{}\" height=\"{}\"><title>Statement time per interval</title>",
        width, h + 40);
    int x = 50;
    for (const auto& i : r.intervals) {
        const double bh = top > 0 ? h * i.total_ms / top : 0;
        out += fmt::format(
            "<rect x=\"{}\" y=\"{:.1f}\" width=\"{}\" height=\"{:.1f}\" "
            "fill=\"#2b6cb0\"><title>{}: "
            "{:.3f} ms in {} calls, p95 {:.3f} ms</title></rect>",
            x, h - bh, bar_w, bh, html_escape(i.start), i.total_ms, i.calls, i.p95_ms);
        x += bar_w + gap;
    }
    out += fmt::format(
        "<text x=\"0\" y=\"12\">{:.0f} ms</text><text x=\"50\" y=\"{}\">{}</text></svg>", top,
        h + 16, html_escape(r.intervals.front().start));
    return out;
}

}  // namespace sg::stats::report
