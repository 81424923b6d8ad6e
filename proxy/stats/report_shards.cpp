// The report's "shards" section (which shard is slow, for which statements, and why) and its
// "refused statements" section, built from SHOW SHARD STATS and SHOW REFUSALS.
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "proxy/stats/html_escape.h"
#include "proxy/stats/report.h"
#include "proxy/stats/report_rows.h"

namespace sg::stats::report {

namespace {

std::string one_line(std::string_view q, size_t n) {
    std::string s(q.substr(0, n));
    std::replace(s.begin(), s.end(), '\n', ' ');
    return q.size() > n ? s + "..." : s;
}

// Why a straggler is slow, as far as the figures tell.
std::string explain(const Straggler& s, size_t shards) {
    std::string why;
    const double even = shards ? 100.0 / double(shards) : 0;
    if (shards > 1 && s.rows_share >= 1.5 * even)
        why = fmt::format(
            "it holds {:.0f}% of this statement's rows (an even spread is {:.0f}%): the data is "
            "skewed by shard key; a hot key or tenant lives there",
            s.rows_share, even);
    else if (s.pool_wait_ms > 0.5 * s.shard_ms)
        why = fmt::format(
            "its legs waited {:.3f} ms for a connection against {:.3f} ms in the shard: raise its "
            "pool size or shorten what holds its connections",
            s.pool_wait_ms, s.shard_ms);
    else
        why =
            "its rows are not skewed and its legs did not wait for a connection: the time is spent "
            "in the "
            "shard itself (look at its plan, indexes, load and hardware)";
    return why;
}

}  // namespace

void add_shard_sections(Report& r, const Table& shard_stats, const Table& refusals) {
    // Rows per (fingerprint, shard), to tell skew by key.
    std::map<std::string, uint64_t> rows_of_statement;
    std::map<std::string, size_t> shards_of_statement;
    for (const auto& row : shard_stats.rows) {
        RowReader x(shard_stats, row);
        const std::string fp = x.str("fingerprint");
        if (fp == "all") {
            r.shards.push_back({x.str("shard"), x.count("calls"), x.count("errors"),
                                x.count("rows"), x.count("bytes_sent"), x.count("bytes_received"),
                                x.num("total_ms"), x.num("mean_ms"), x.num("p50_ms"),
                                x.num("p95_ms"), x.num("max_ms"), x.num("pool_wait_ms")});
            continue;
        }
        const std::string key = fp + '\0' + x.str("user") + '\0' + x.str("database");
        rows_of_statement[key] += x.count("rows");
        ++shards_of_statement[key];
    }
    for (const auto& row : shard_stats.rows) {
        RowReader x(shard_stats, row);
        if (x.str("straggler") != "yes") continue;
        const std::string key =
            x.str("fingerprint") + '\0' + x.str("user") + '\0' + x.str("database");
        const uint64_t all_rows = rows_of_statement[key];
        Straggler s{x.str("shard"),
                    x.str("fingerprint"),
                    x.str("query"),
                    x.count("calls"),
                    x.num("p50_ms"),
                    x.num("over_median_ms"),
                    x.num("over_median_ratio"),
                    all_rows ? 100.0 * double(x.count("rows")) / double(all_rows) : 0.0,
                    x.num("pool_wait_ms"),
                    x.num("total_ms")};
        r.findings.push_back({"slow shard", s.fingerprint, s.query,
                              fmt::format("on shard \"{}\" its median leg takes {:.3f} ms, {:.3f} "
                                          "ms ({:.1f}x) over the median "
                                          "shard, in {} calls; {}",
                                          s.shard, s.p50_ms, s.over_median_ms, s.ratio, s.calls,
                                          explain(s, shards_of_statement[key])),
                              fmt::format("fix shard \"{}\" for this statement: spread a hot key "
                                          "over more keys (or move its "
                                          "buckets with `shardgate rebalance`), or tune that shard",
                                          s.shard),
                              s.over_median_ms * double(s.calls)});
        r.stragglers.push_back(std::move(s));
    }
    std::stable_sort(
        r.stragglers.begin(), r.stragglers.end(), [](const Straggler& a, const Straggler& b) {
            return a.over_median_ms * double(a.calls) > b.over_median_ms * double(b.calls);
        });
    for (const auto& row : refusals.rows) {
        RowReader x(refusals, row);
        r.refusals.push_back({x.str("construct"), x.str("fingerprint"), x.str("query"),
                              x.str("message"), x.str("way_around"), x.count("count")});
    }
    std::stable_sort(r.refusals.begin(), r.refusals.end(),
                     [](const Refused& a, const Refused& b) { return a.count > b.count; });
}

std::string render_shards_text(const Report& r) {
    std::string out = "\nShards (every statement leg: single-shard and fan-out)\n";
    if (r.shards.empty()) return out + "  none\n";
    out += fmt::format("  {:<16} {:>9} {:>12} {:>10} {:>10} {:>10} {:>12} {:>8} {:>10}\n", "shard",
                       "legs", "total_ms", "mean_ms", "p50_ms", "p95_ms", "pool_wait_ms", "errors",
                       "rows");
    for (const auto& s : r.shards)
        out += fmt::format(
            "  {:<16} {:>9} {:>12.3f} {:>10.3f} {:>10.3f} {:>10.3f} {:>12.3f} {:>8} {:>10}\n",
            s.shard, s.calls, s.total_ms, s.mean_ms, s.p50_ms, s.p95_ms, s.pool_wait_ms, s.errors,
            s.rows);
    out += "  Statements that make a shard slow (straggler: slowest shard vs the median shard)\n";
    if (r.stragglers.empty())
        out += "    none: no statement's legs are markedly slower on one shard\n";
    for (const auto& s : r.stragglers)
        out += fmt::format(
            "    shard {}: +{:.3f} ms ({:.1f}x) median leg {:.3f} ms, {} legs, {:.0f}% of rows, "
            "pool wait {:.3f} ms vs {:.3f} ms in the shard  {}\n",
            s.shard, s.over_median_ms, s.ratio, s.p50_ms, s.calls, s.rows_share, s.pool_wait_ms,
            s.shard_ms, one_line(s.query, 80));
    return out;
}

std::string render_refusals_text(const Report& r) {
    std::string out = "\nRefused statements, by construct, with a way around each\n";
    if (r.refusals.empty()) return out + "  none\n";
    std::map<std::string, uint64_t> by_construct;
    for (const auto& f : r.refusals) by_construct[f.construct] += f.count;
    for (const auto& [construct, n] : by_construct) {
        out += fmt::format("- {} ({} refused)\n", construct, n);
        for (const auto& f : r.refusals) {
            if (f.construct != construct) continue;
            out += fmt::format("    {:>6}x {}\n", f.count, one_line(f.query, 100));
        }
        for (const auto& f : r.refusals)
            if (f.construct == construct) {
                out += fmt::format("    do: {}\n", f.way_around);
                break;
            }
    }
    return out;
}

std::string render_shards_html(const Report& r) {
    if (r.shards.empty()) return "<p>No shard legs recorded.</p>";
    // Per-shard latency: a bar per shard for its median and p95 leg.
    double top = 0;
    for (const auto& s : r.shards) top = std::max(top, s.p95_ms);
    const int bar_h = 20, gap = 8, label_w = 160, bar_w = 520;
    const int height = int(r.shards.size()) * (2 * bar_h + gap) + 30;
    std::string svg = fmt::format(
        "<svg id=\"shard-chart\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"{}\" "
        "height=\"{}\">"
        "<title>Leg latency per shard (p50, p95)</title>",
        label_w + bar_w + 120, height);
    int y = 0;
    for (const auto& s : r.shards) {
        const double w50 = top > 0 ? bar_w * s.p50_ms / top : 0,
                     w95 = top > 0 ? bar_w * s.p95_ms / top : 0;
        svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>", label_w - 8,
                           y + 24, html_escape(s.shard));
        svg +=
            fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" fill=\"#2b6cb0\"/>",
                        label_w, y, w50, bar_h);
        svg += fmt::format("<text x=\"{:.1f}\" y=\"{}\">p50 {:.3f} ms</text>", label_w + w50 + 6,
                           y + 15, s.p50_ms);
        svg +=
            fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" fill=\"#90cdf4\"/>",
                        label_w, y + bar_h, w95, bar_h);
        svg += fmt::format("<text x=\"{:.1f}\" y=\"{}\">p95 {:.3f} ms</text>", label_w + w95 + 6,
                           y + bar_h + 15, s.p95_ms);
        y += 2 * bar_h + gap;
    }
    svg += "</svg>";
    std::string t =
        "<table class=\"sortable\" id=\"shards\"><thead><tr><th "
        "class=\"q\">shard</th><th>legs</th><th>total "
        "ms</th><th>mean ms</th><th>p50 ms</th><th>p95 ms</th><th>max ms</th><th>pool wait "
        "ms</th><th>errors</th>"
        "<th>rows</th><th>bytes sent</th><th>bytes received</th></tr></thead><tbody>";
    for (const auto& s : r.shards)
        t += fmt::format(
            "<tr><td "
            "class=\"q\">{}</td><td>{}</td><td>{:.3f}</td><td>{:.3f}</td><td>{:.3f}</"
            "td><td>{:.3f}</td>"
            "<td>{:.3f}</td><td>{:.3f}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            html_escape(s.shard), s.calls, s.total_ms, s.mean_ms, s.p50_ms, s.p95_ms, s.max_ms,
            s.pool_wait_ms, s.errors, s.rows, s.bytes_sent, s.bytes_received);
    t += "</tbody></table>";
    std::string st = "<h3>Statements that make a shard slow</h3>";
    if (r.stragglers.empty()) {
        st += "<p>No statement's legs are markedly slower on one shard.</p>";
    } else {
        st +=
            "<table class=\"sortable\" id=\"stragglers\"><thead><tr><th class=\"q\">straggler "
            "shard</th><th>over "
            "median ms</th><th>ratio</th><th>p50 ms</th><th>legs</th><th>rows %</th><th>pool wait "
            "ms</th>"
            "<th>in shard ms</th><th class=\"q\">statement</th></tr></thead><tbody>";
        for (const auto& s : r.stragglers)
            st += fmt::format(
                "<tr><td class=\"q "
                "straggler\">{}</td><td>{:.3f}</td><td>{:.2f}</td><td>{:.3f}</td><td>{}</td>"
                "<td>{:.0f}</td><td>{:.3f}</td><td>{:.3f}</td><td "
                "class=\"q\"><code>{}</code><br><span "
                "class=\"muted\">{}</span></td></tr>",
                html_escape(s.shard), s.over_median_ms, s.ratio, s.p50_ms, s.calls, s.rows_share,
                s.pool_wait_ms, s.shard_ms, html_escape(s.query), html_escape(s.fingerprint));
        st += "</tbody></table>";
    }
    return svg + t + st;
}

std::string render_refusals_html(const Report& r) {
    if (r.refusals.empty()) return "<p>No statement was refused.</p>";
    std::string t =
        "<table class=\"sortable\" id=\"refusals\"><thead><tr><th "
        "class=\"q\">construct</th><th>count</th><th "
        "class=\"q\">statement</th><th class=\"q\">way around</th></tr></thead><tbody>";
    for (const auto& f : r.refusals)
        t += fmt::format(
            "<tr><td class=\"q\">{}</td><td>{}</td><td class=\"q\"><code>{}</code><br><span "
            "class=\"muted\">{}</span></td><td class=\"q\">{}</td></tr>",
            html_escape(f.construct), f.count, html_escape(f.query), html_escape(f.message),
            html_escape(f.way_around));
    return t + "</tbody></table>";
}

}  // namespace sg::stats::report
