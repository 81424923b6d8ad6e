// The HTML form of the report: one self-contained page (inline CSS, inline SVG, no scripts, no
// network), readable printed or on a phone.
#include <fmt/format.h>

#include <algorithm>

#include "proxy/stats/html_escape.h"
#include "proxy/stats/report.h"

namespace sg::stats::report {

namespace {

std::string shorten(std::string_view q, size_t n) {
    std::string s(q.substr(0, n));
    std::replace(s.begin(), s.end(), '\n', ' ');
    return q.size() > n ? s + "..." : s;
}

constexpr const char* kStyle = R"(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1200px;padding:0 1rem;color:#1d2430;background:#fff}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #dde2ea;padding-bottom:.3rem}
.summary{color:#4a5568}table{border-collapse:collapse;width:100%;font-size:13px}
th,td{padding:.35rem .5rem;border-bottom:1px solid #edf0f4;text-align:right;vertical-align:top}
th{background:#f4f6f9;font-weight:600}td.q,th.q{text-align:left}
code{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace;white-space:pre-wrap;word-break:break-word}
.finding{border-left:4px solid #d69e2e;background:#fffaf0;padding:.6rem .9rem;margin:.8rem 0;border-radius:4px}
.finding.sev0{border-color:#c53030;background:#fff5f5}.finding.sev1{border-color:#dd6b20;background:#fffaf0}
.finding.sev2{border-color:#2b6cb0;background:#ebf8ff}.kind{font-weight:700}.do{font-weight:600;color:#22543d}
.muted{color:#718096}svg text{font:12px system-ui,sans-serif;fill:#1d2430}
)";

std::string chart(const Report& r) {
    const int bar_h = 22, gap = 6, label_w = 330, bar_w = 560;
    const size_t n = r.top.size();
    double shown = 0;
    for (const auto& s : r.top) shown += s.pct_total;
    const bool rest = shown < 99.95 && n > 0;
    const int rows = static_cast<int>(n) + (rest ? 1 : 0);
    const int height = rows * (bar_h + gap) + 30;
    std::string svg = fmt::format(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"{}\" height=\"{}\" "
        "viewBox=\"0 0 {} {}\">"
        "<title>Share of total statement time</title>",
        label_w + bar_w + 90, height, label_w + bar_w + 90, height);
    int y = 0;
    auto bar = [&](const std::string& label, double pct, double shard_pct) {
        const double w = bar_w * pct / 100.0, ws = bar_w * shard_pct / 100.0;
        svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>", label_w - 8,
                           y + 15, html_escape(label));
        svg +=
            fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" fill=\"#90cdf4\"/>",
                        label_w, y, w, bar_h);
        svg +=
            fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" fill=\"#2b6cb0\"/>",
                        label_w, y, std::min(ws, w), bar_h);
        svg +=
            fmt::format("<text x=\"{:.1f}\" y=\"{}\">{:.1f}%</text>", label_w + w + 6, y + 15, pct);
        y += bar_h + gap;
    };
    int rank = 0;
    for (const auto& s : r.top) {
        const double shard_pct =
            s.total_ms > 0 ? s.pct_total * std::min(1.0, s.shard_ms / s.total_ms) : 0;
        bar(fmt::format("#{} {}", ++rank, shorten(s.query, 40)), s.pct_total, shard_pct);
    }
    if (rest) bar("all other statements", std::max(0.0, 100.0 - shown), 0);
    svg += fmt::format(
        "<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"#2b6cb0\"/><text x=\"{}\" "
        "y=\"{}\">in the "
        "shards</text><rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"#90cdf4\"/><text "
        "x=\"{}\" "
        "y=\"{}\">added by the proxy (incl. pool wait)</text></svg>",
        label_w, y + 6, label_w + 16, y + 16, label_w + 120, y + 6, label_w + 136, y + 16);
    return svg;
}

std::string statements_table(const Report& r) {
    std::string t =
        "<table class=\"sortable\" id=\"statements\"><thead><tr><th>#</th><th>time %</th><th>total "
        "ms</th><th>calls</th><th>mean "
        "ms</th><th>p50 ms</th><th>p95 ms</th>"
        "<th>p99 ms</th><th>rows/call</th><th>shards/call</th><th>error %</th><th>proxy "
        "%</th><th>held ms</th>"
        "<th class=\"q\">statement</th></tr></thead><tbody>";
    int rank = 0;
    for (const auto& s : r.top) {
        t += fmt::format(
            "<tr><td>{}</td><td>{:.1f}</td><td>{:.3f}</td><td>{}</td><td>{:.3f}</td><td>{:.3f}</"
            "td><td>{:.3f}</"
            "td><td>{:.3f}</td>"
            "<td>{:.1f}</td><td>{:.2f}</td><td>{:.1f}</td><td>{:.1f}</td><td>{:.3f}</td><td "
            "class=\"q\"><code>{}</code><br>"
            "<span class=\"muted\">{} &middot; {} @ {}</span></td></tr>",
            ++rank, s.pct_total, s.total_ms, s.calls, s.mean_ms, s.p50_ms, s.p95_ms, s.p99_ms,
            s.rows_per_call, s.avg_shards, s.error_rate, s.proxy_pct, s.held_ms,
            html_escape(s.query), html_escape(s.fingerprint), html_escape(s.user),
            html_escape(s.database));
    }
    return t + "</tbody></table>";
}

std::string findings_html(const Report& r) {
    if (r.findings.empty())
        return "<p>No N+1 loops, fan-out hot spots, error-prone statements or pool waits.</p>";
    std::string out;
    for (const auto& f : r.findings) {
        const int sev = f.kind == "fan-out N+1"                       ? 0
                        : (f.kind == "N+1" || f.kind == "slow shard") ? 1
                                                                      : 2;
        out += fmt::format(
            "<div class=\"finding sev{}\"><span class=\"kind\">{}</span> <span "
            "class=\"muted\">{}</span><br>"
            "<code>{}</code><br>{}<br><span class=\"do\">What to do:</span> {}</div>",
            sev, html_escape(f.kind), html_escape(f.fingerprint), html_escape(f.query),
            html_escape(f.detail), html_escape(f.advice));
    }
    return out;
}

std::string slow_table(const Report& r) {
    if (r.slow.empty()) return "<p>None recorded.</p>";
    std::string t =
        "<table class=\"sortable\" id=\"slow\"><thead><tr><th "
        "class=\"q\">at</th><th>ms</th><th>shards</th><th>rows</th><th>sqlstate</th>"
        "<th class=\"q\">statement</th></tr></thead><tbody>";
    for (const auto& s : r.slow) {
        t += fmt::format(
            "<tr><td class=\"q\">{}</td><td>{:.3f}</td><td>{}</td><td>{}</td><td>{}</td><td "
            "class=\"q\"><code>{}</code>"
            "</td></tr>",
            html_escape(s.at), s.duration_ms, s.shards, s.rows, html_escape(s.sqlstate),
            html_escape(s.query));
    }
    return t + "</tbody></table>";
}

}  // namespace

std::string html_style() {
    return kStyle;
}

std::string render_html_sections(const Report& r) {
    std::string page =
        fmt::format("<p class=\"summary\">{} statements, {} calls, {:.3f} ms in all.</p>",
                    r.statement_count, r.calls, r.total_ms);
    if (!r.covers_from.empty())
        page += fmt::format(
            "<p class=\"summary\" id=\"period\">Covers {} to {}{}; statistics last reset at "
            "{}{}.</p>",
            html_escape(r.covers_from), html_escape(r.covers_to),
            r.scope.empty() ? "" : " (" + html_escape(r.scope) + ")", html_escape(r.reset_at),
            html_escape(render_intervals_note(r)));
    page += "<h2>Where the time goes</h2>" + chart(r);
    page += "<h2>Top statements by total time</h2>" + statements_table(r);
    page += "<h2>Findings</h2>" + findings_html(r);
    page += render_windows_html(r);
    page += "<h2>Shards</h2>" + render_shards_html(r);
    page += "<h2>Refused statements, by construct, with a way around each</h2>" +
            render_refusals_html(r);
    page += "<h2>Recent slow statements</h2>" + slow_table(r);
    return page;
}

std::string render_html(const Report& r) {
    std::string page =
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<title>shardgate query cost report</title><style>";
    page += kStyle;
    page += "</style></head><body><h1>shardgate query cost report</h1>";
    page += render_html_sections(r);
    page += "</body></html>\n";
    return page;
}

}  // namespace sg::stats::report
