#include "proxy/stats/prometheus.h"

#include <fmt/format.h>

#include <algorithm>
#include <initializer_list>
#include <utility>
#include <vector>

namespace sg::stats {

namespace {

using Label = std::pair<std::string_view, std::string_view>;

// Appends families; every family's samples are written together, after its HELP and TYPE.
class Exposition {
public:
    void family(std::string_view name, std::string_view type, std::string_view help) {
        out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    }
    void sample(std::string_view name, std::initializer_list<Label> labels,
                std::string_view value) {
        out_ += name;
        if (labels.size()) {
            out_ += '{';
            bool first = true;
            for (const auto& [k, v] : labels) {
                if (!first) out_ += ',';
                first = false;
                out_ += fmt::format("{}=\"{}\"", k, escape_label_value(v));
            }
            out_ += '}';
        }
        out_ += ' ';
        out_ += value;
        out_ += '\n';
    }
    void sample(std::string_view name, std::initializer_list<Label> labels, uint64_t v) {
        sample(name, labels, std::to_string(v));
    }
    void sample(std::string_view name, std::initializer_list<Label> labels, int64_t v) {
        sample(name, labels, std::to_string(v));
    }
    void sample(std::string_view name, std::initializer_list<Label> labels, double v) {
        sample(name, labels, fmt::format("{}", v));
    }
    std::string take() { return std::move(out_); }

private:
    std::string out_;
};

double seconds(uint64_t ns) {
    return double(ns) / 1e9;
}

// A label value must be valid UTF-8 or the whole scrape fails: the text is cut on a character
// boundary, and bytes of broken sequences and control characters become spaces or '?'.
std::string query_label(std::string_view text) {
    std::string out;
    size_t i = 0;
    while (i < text.size() && out.size() < kMaxQueryLabel) {
        const auto c = static_cast<unsigned char>(text[i]);
        const size_t len = c < 0x80           ? 1
                           : (c >> 5) == 0x6  ? 2
                           : (c >> 4) == 0xE  ? 3
                           : (c >> 3) == 0x1E ? 4
                                              : 0;
        bool valid = len > 0 && i + len <= text.size();
        for (size_t k = 1; valid && k < len; ++k)
            valid = (static_cast<unsigned char>(text[i + k]) & 0xC0) == 0x80;
        if (!valid) {
            out += '?';
            ++i;
        } else if (len == 1) {
            out += c < 0x20 || c == 0x7f ? ' ' : static_cast<char>(c);
            ++i;
        } else {
            if (out.size() + len > kMaxQueryLabel) break;
            out.append(text.substr(i, len));
            i += len;
        }
    }
    return out;
}

// Query families, one sample per (database, user).
void query_families(Exposition& x, const QueryStats& stats) {
    const auto& totals = stats.totals();
    x.family("shardgate_queries_total", "counter", "Statements completed, per database and user.");
    for (const auto& [k, t] : totals)
        x.sample("shardgate_queries_total", {{"database", k.first}, {"user", k.second}},
                 t.figures.calls);

    x.family("shardgate_query_errors_total", "counter",
             "Statements that ended in an error, by SQLSTATE.");
    for (const auto& [k, t] : totals)
        for (const auto& e : t.figures.errors_by_state)
            x.sample("shardgate_query_errors_total",
                     {{"database", k.first}, {"user", k.second}, {"sqlstate", e.state()}}, e.count);

    x.family("shardgate_query_duration_seconds", "histogram",
             "Client-visible statement latency: request received to ReadyForQuery sent.");
    for (const auto& [k, t] : totals) {
        for (size_t i = 0; i < kDurationBucketCount; ++i)
            x.sample("shardgate_query_duration_seconds_bucket",
                     {{"database", k.first},
                      {"user", k.second},
                      {"le", fmt::format("{}", kDurationBuckets[i])}},
                     t.le[i]);
        x.sample("shardgate_query_duration_seconds_bucket",
                 {{"database", k.first}, {"user", k.second}, {"le", "+Inf"}}, t.figures.calls);
        x.sample("shardgate_query_duration_seconds_sum",
                 {{"database", k.first}, {"user", k.second}}, seconds(t.figures.total_ns()));
        x.sample("shardgate_query_duration_seconds_count",
                 {{"database", k.first}, {"user", k.second}}, t.figures.calls);
    }

    struct Counter {
        const char* name;
        const char* help;
        double (*value)(const Figures&);
    };
    static const Counter counters[] = {
        {"shardgate_query_shard_seconds_total", "Time statements spent in the shards.",
         [](const Figures& f) { return seconds(f.server_ns); }},
        {"shardgate_query_proxy_seconds_total", "Latency the proxy added (including pool waits).",
         [](const Figures& f) { return seconds(f.proxy_ns); }},
        {"shardgate_query_pool_wait_seconds_total",
         "Time statements waited for a server connection.",
         [](const Figures& f) { return seconds(f.pool_wait_ns); }},
        {"shardgate_query_rows_total", "Rows returned or affected.",
         [](const Figures& f) { return double(f.rows); }},
        {"shardgate_query_fanout_total", "Statements that touched more than one shard.",
         [](const Figures& f) { return double(f.fanout); }},
        {"shardgate_query_received_bytes_total", "Request bytes received from clients.",
         [](const Figures& f) { return double(f.bytes_in); }},
        {"shardgate_query_sent_bytes_total", "Reply bytes sent to clients.",
         [](const Figures& f) { return double(f.bytes_out); }},
    };
    for (const auto& c : counters) {
        x.family(c.name, "counter", c.help);
        for (const auto& [k, t] : totals)
            x.sample(c.name, {{"database", k.first}, {"user", k.second}}, c.value(t.figures));
    }

    x.family("shardgate_slow_queries_total", "counter",
             "Statements slower than [stats] slow_query_ms.");
    x.sample("shardgate_slow_queries_total", {}, stats.slow().total());
    x.family("shardgate_nplusone_bursts_total", "counter",
             "N+1 bursts detected (repeats of one statement).");
    x.sample("shardgate_nplusone_bursts_total", {}, stats.nplusone().bursts_total());
    x.family("shardgate_stats_fingerprints", "gauge",
             "Statement groups tracked now (bounded by max_fingerprints).");
    x.sample("shardgate_stats_fingerprints", {}, uint64_t(stats.groups().size()));
    x.family("shardgate_stats_evictions_total", "counter",
             "Statement groups folded into the other row.");
    x.sample("shardgate_stats_evictions_total", {}, stats.evictions_total());

    x.family("shardgate_refused_statements_total", "counter",
             "Statements the proxy refused (SQLSTATE 0A000), by the construct it cannot run.");
    for (const auto& [construct, n] : stats.refusals().by_construct_total())
        x.sample("shardgate_refused_statements_total", {{"construct", construct}}, n);
}

// Per-shard leg latency since the last reset (quantiles), by shard name.
void shard_legs(Exposition& x, const QueryStats& stats, const ProxyMetrics& p) {
    x.family("shardgate_shard_leg_duration_seconds", "summary",
             "Time statement legs spent in each shard (single-shard and fan-out legs), since RESET "
             "QUERIES.");
    const PerShard& legs = stats.shard_figures();
    for (size_t i = 0; i < p.shards.size() && i < legs.size(); ++i) {
        const ShardFigures& f = legs[i];
        const std::string_view shard = p.shards[i].shard;
        for (double q : {0.5, 0.95, 0.99})
            x.sample("shardgate_shard_leg_duration_seconds",
                     {{"shard", shard}, {"quantile", fmt::format("{}", q)}},
                     double(f.latency.percentile(q)) / 1e9);
        x.sample("shardgate_shard_leg_duration_seconds_sum", {{"shard", shard}},
                 seconds(f.total_ns()));
        x.sample("shardgate_shard_leg_duration_seconds_count", {{"shard", shard}}, f.calls);
    }
}

// Per-statement series for the top K groups by total time only.
void top_statements(Exposition& x, const QueryStats& stats) {
    std::vector<std::pair<const QueryStats::Key*, const Group*>> top;
    for (const auto& [k, g] : stats.groups()) top.emplace_back(&k, &g);
    const size_t k = std::min(top.size(), size_t(std::max(stats.config().top_k_metrics, 0)));
    auto by_total = [](const auto& a, const auto& b) {
        if (a.second->figures.total_ns() != b.second->figures.total_ns())
            return a.second->figures.total_ns() > b.second->figures.total_ns();
        return a.second->shape->hex < b.second->shape->hex;
    };
    std::partial_sort(top.begin(), top.begin() + k, top.end(), by_total);
    top.resize(k);

    x.family("shardgate_fingerprint_duration_seconds", "summary",
             "Latency of the statements with the most total time (top_k_metrics), by fingerprint.");
    for (const auto& [key, g] : top) {
        const Figures& f = g->figures;
        const std::string_view fp = g->shape->hex;
        for (double q : {0.5, 0.95, 0.99})
            x.sample("shardgate_fingerprint_duration_seconds",
                     {{"fingerprint", fp},
                      {"database", key->database},
                      {"user", key->user},
                      {"quantile", fmt::format("{}", q)}},
                     double(f.latency.percentile(q)) / 1e9);
        x.sample("shardgate_fingerprint_duration_seconds_sum",
                 {{"fingerprint", fp}, {"database", key->database}, {"user", key->user}},
                 seconds(f.total_ns()));
        x.sample("shardgate_fingerprint_duration_seconds_count",
                 {{"fingerprint", fp}, {"database", key->database}, {"user", key->user}}, f.calls);
    }
    x.family("shardgate_fingerprint_errors_total", "counter",
             "Errors of the top statements, by fingerprint.");
    for (const auto& [key, g] : top)
        x.sample("shardgate_fingerprint_errors_total",
                 {{"fingerprint", g->shape->hex}, {"database", key->database}, {"user", key->user}},
                 g->figures.errors);
    x.family("shardgate_fingerprint_rows_total", "counter",
             "Rows of the top statements, by fingerprint.");
    for (const auto& [key, g] : top)
        x.sample("shardgate_fingerprint_rows_total",
                 {{"fingerprint", g->shape->hex}, {"database", key->database}, {"user", key->user}},
                 g->figures.rows);
    x.family("shardgate_fingerprint_info", "gauge",
             "The normalized text of each top fingerprint (value 1).");
    std::vector<std::string_view> seen;
    for (const auto& [key, g] : top) {
        if (std::find(seen.begin(), seen.end(), g->shape->hex) != seen.end()) continue;
        seen.push_back(g->shape->hex);
        const std::string q = query_label(g->shape->normalized);
        x.sample("shardgate_fingerprint_info", {{"fingerprint", g->shape->hex}, {"query", q}},
                 uint64_t{1});
    }
}

void proxy_families(Exposition& x, const ProxyMetrics& p) {
    struct PoolGauge {
        const char* name;
        const char* type;
        const char* help;
        double (*value)(const PoolMetrics&);
    };
    static const PoolGauge pool[] = {
        {"shardgate_pool_active_connections", "gauge", "Server connections checked out by clients.",
         [](const PoolMetrics& m) { return double(m.active); }},
        {"shardgate_pool_idle_connections", "gauge", "Idle server connections.",
         [](const PoolMetrics& m) { return double(m.idle); }},
        {"shardgate_pool_connections", "gauge",
         "Server connections open (active, idle and connecting).",
         [](const PoolMetrics& m) { return double(m.total); }},
        {"shardgate_pool_waiting_clients", "gauge", "Clients waiting for a server connection.",
         [](const PoolMetrics& m) { return double(m.waiting); }},
        {"shardgate_pool_checkouts_total", "counter", "Server connections handed to clients.",
         [](const PoolMetrics& m) { return double(m.checkouts); }},
        {"shardgate_pool_timeouts_total", "counter",
         "Clients that gave up waiting for a server connection.",
         [](const PoolMetrics& m) { return double(m.timeouts); }},
        {"shardgate_pool_wait_seconds_total", "counter",
         "Time clients waited for a server connection.",
         [](const PoolMetrics& m) { return m.wait_seconds; }},
    };
    for (const auto& g : pool) {
        x.family(g.name, g.type, g.help);
        for (const auto& m : p.pools)
            x.sample(g.name, {{"shard", m.shard}, {"user", m.user}}, g.value(m));
    }
    struct ShardCounter {
        const char* name;
        const char* help;
        double (*value)(const ShardTotals&);
    };
    static const ShardCounter shard[] = {
        {"shardgate_shard_queries_total",
         "Statement legs sent to the shard (single-shard and fan-out).",
         [](const ShardTotals& s) { return double(s.queries); }},
        {"shardgate_shard_rows_total", "Rows the shard returned or affected.",
         [](const ShardTotals& s) { return double(s.rows); }},
        {"shardgate_shard_pool_wait_seconds_total",
         "Time legs waited for a connection to the shard.",
         [](const ShardTotals& s) { return s.pool_wait_seconds; }},
        {"shardgate_shard_errors_total", "Errors the shard returned.",
         [](const ShardTotals& s) { return double(s.errors); }},
        {"shardgate_shard_seconds_total", "Time spent waiting on the shard.",
         [](const ShardTotals& s) { return s.server_seconds; }},
        {"shardgate_shard_received_bytes_total", "Bytes received from the shard.",
         [](const ShardTotals& s) { return double(s.bytes_in); }},
        {"shardgate_shard_sent_bytes_total", "Bytes sent to the shard.",
         [](const ShardTotals& s) { return double(s.bytes_out); }},
    };
    for (const auto& c : shard) {
        x.family(c.name, "counter", c.help);
        for (const auto& s : p.shards) x.sample(c.name, {{"shard", s.shard}}, c.value(s));
    }
    x.family("shardgate_client_connections", "gauge", "Client connections open now.");
    x.sample("shardgate_client_connections", {}, p.clients);
    x.family("shardgate_clients_accepted_total", "counter", "Client connections accepted.");
    x.sample("shardgate_clients_accepted_total", {}, p.clients_accepted);
    x.family("shardgate_clients_paused", "gauge",
             "Clients held by a pause (PAUSE, PAUSE BUCKETS) now.");
    x.sample("shardgate_clients_paused", {}, p.clients_paused);
    x.family("shardgate_pauses_active", "gauge", "Pauses in force now (SHOW PAUSES).");
    x.sample("shardgate_pauses_active", {}, p.pauses_active);
    x.family("shardgate_pause_expired_total", "counter",
             "Pauses lifted because their lease ran out (no RESUME or renewal in time).");
    x.sample("shardgate_pause_expired_total", {}, p.pause_expired);
    x.family(
        "shardgate_lookups_prepared_total", "counter",
        "Lookups run as statements prepared once per server connection ([proxy] prepare_lookups).");
    x.sample("shardgate_lookups_prepared_total", {}, p.lookups_prepared);
    x.family("shardgate_client_received_bytes_total", "counter", "Bytes received from clients.");
    x.sample("shardgate_client_received_bytes_total", {}, p.bytes_in);
    x.family("shardgate_client_sent_bytes_total", "counter", "Bytes sent to clients.");
    x.sample("shardgate_client_sent_bytes_total", {}, p.bytes_out);
    x.family("shardgate_uptime_seconds", "gauge", "Seconds since the proxy started.");
    x.sample("shardgate_uptime_seconds", {}, p.uptime_seconds);
}

}  // namespace

std::string escape_label_value(std::string_view v) {
    std::string out;
    out.reserve(v.size());
    for (char c : v) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

std::string render_prometheus(const QueryStats& stats, const ProxyMetrics& proxy) {
    Exposition x;
    query_families(x, stats);
    top_statements(x, stats);
    shard_legs(x, stats, proxy);
    proxy_families(x, proxy);
    return x.take();
}

}  // namespace sg::stats
