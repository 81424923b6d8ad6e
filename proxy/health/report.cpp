#include "proxy/health/report.h"

#include <fmt/format.h>

namespace sg::proxy::health {

namespace {

std::string label_escape(const std::string& v) {
    std::string out;
    for (char c : v) {
        if (c == '\\' || c == '"') out.push_back('\\');
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out.push_back(c);
    }
    return out;
}

int state_number(BreakerState s) {
    switch (s) {
        case BreakerState::Closed:
            return 0;
        case BreakerState::HalfOpen:
            return 1;
        case BreakerState::Open:
            return 2;
    }
    return 0;
}

}  // namespace

std::string render_prometheus(const Monitor& m) {
    std::string out;
    struct Series {
        const char* name;
        const char* type;
        const char* help;
        std::string (*value)(const ShardHealth&);
    };
    static const Series series[] = {
        {"shardgate_shard_up", "gauge",
         "1 when the shard's circuit breaker is closed (statements may run), else 0",
         [](const ShardHealth& h) { return std::string(h.admits() ? "1" : "0"); }},
        {"shardgate_shard_breaker_state", "gauge", "circuit breaker: 0 closed, 1 half-open, 2 open",
         [](const ShardHealth& h) { return std::to_string(state_number(h.breaker.state())); }},
        {"shardgate_shard_breaker_opens_total", "counter", "times the circuit breaker opened",
         [](const ShardHealth& h) { return std::to_string(h.breaker.opens()); }},
        {"shardgate_shard_check_last_seconds", "gauge", "latency of the last health check",
         [](const ShardHealth& h) { return fmt::format("{:.6f}", h.last_check_seconds); }},
        {"shardgate_shard_check_seconds_total", "counter", "time spent in health checks",
         [](const ShardHealth& h) { return fmt::format("{:.6f}", h.check_seconds_sum); }},
        {"shardgate_shard_checks_total", "counter", "health checks run",
         [](const ShardHealth& h) { return std::to_string(h.checks); }},
        {"shardgate_shard_check_failures_total", "counter", "health checks that got no answer",
         [](const ShardHealth& h) { return std::to_string(h.check_failures); }},
        {"shardgate_shard_connect_failures_total", "counter", "server connects that got no answer",
         [](const ShardHealth& h) { return std::to_string(h.connect_failures); }},
        {"shardgate_shard_query_timeouts_total", "counter",
         "statements cancelled by query_timeout_ms",
         [](const ShardHealth& h) { return std::to_string(h.query_timeouts); }},
    };
    for (const auto& s : series) {
        out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", s.name, s.help, s.name, s.type);
        for (const auto& h : m.shards())
            out += fmt::format("{}{{shard=\"{}\",endpoint=\"{}\"}} {}\n", s.name,
                               label_escape(h->name), label_escape(h->endpoint()), s.value(*h));
    }
    return out;
}

http::Readiness readiness(const Monitor& m) {
    http::Readiness r;
    for (const auto& h : m.shards()) {
        if (h->admits()) continue;
        r.ready = false;
        r.text +=
            fmt::format("shard {} ({}): {} since {}: {}\n", h->name, h->endpoint(), h->state_name(),
                        format_utc(h->breaker.since()), h->breaker.open_reason());
    }
    r.text = r.ready ? "ready\n" : "degraded\n" + r.text;
    return r;
}

std::vector<std::string> shard_health_columns() {
    return {"state", "since", "last_error", "last_error_at", "check_ms", "connect_failures"};
}

std::vector<std::string> shard_health_values(const Monitor& m, int i) {
    const ShardHealth* h = m.shard(i);
    if (!h) return std::vector<std::string>(shard_health_columns().size());
    return {h->state_name(),
            format_utc(h->breaker.since()),
            h->breaker.last_error(),
            h->breaker.last_error().empty() ? "" : format_utc(h->breaker.last_error_at()),
            h->checks ? fmt::format("{:.1f}", h->last_check_seconds * 1000) : "",
            std::to_string(h->connect_failures)};
}

}  // namespace sg::proxy::health
