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
        {"shardgate_shard_checks_overruled_total", "counter",
         "failed health checks not counted against the shard: its pooled statements got answers "
         "meanwhile",
         [](const ShardHealth& h) { return std::to_string(h.checks_overruled); }},
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
    // By reason: "unreachable" (connect failure, breaker open: nothing was sent), "lost" (the
    // connection was lost after the read was sent, before any byte of its answer was relayed).
    out +=
        "# HELP shardgate_shard_read_retries_total reads sent once to another endpoint of the "
        "shard after "
        "theirs could not be reached (reason unreachable) or was lost before answering (reason "
        "lost)\n"
        "# TYPE shardgate_shard_read_retries_total counter\n";
    for (const auto& h : m.shards())
        for (const auto& [reason, n] :
             {std::pair{"unreachable", h->read_retries}, std::pair{"lost", h->read_retries_lost}})
            out += fmt::format(
                "shardgate_shard_read_retries_total{{shard=\"{}\",endpoint=\"{}\",reason=\"{}\"}} "
                "{}\n",
                label_escape(h->name), label_escape(h->endpoint()), reason, n);
    render_endpoints(m, out);
    return out;
}

void render_endpoints(const Monitor& m, std::string& out) {
    bool any = false;
    for (const auto& h : m.shards()) any = any || !h->endpoints.empty();
    if (!any) return;
    out +=
        "# HELP shardgate_failovers_total times the shard's primary moved to a promoted standby\n"
        "# TYPE shardgate_failovers_total counter\n";
    for (const auto& h : m.shards())
        if (!h->endpoints.empty())
            out += fmt::format("shardgate_failovers_total{{shard=\"{}\"}} {}\n",
                               label_escape(h->name), h->failovers);
    auto each = [&](const char* name, const char* type, const char* help, auto value) {
        out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
        for (const auto& h : m.shards())
            for (const auto& e : h->endpoints) {
                std::string v = value(*h, e);
                if (v.empty()) continue;
                out += fmt::format("{}{{shard=\"{}\",endpoint=\"{}\",role=\"{}\"}} {}\n", name,
                                   label_escape(h->name), label_escape(e.endpoint()),
                                   e.index == h->primary ? "primary" : "standby", v);
            }
    };
    each("shardgate_endpoint_up", "gauge",
         "1 when the endpoint answered its last role check (and, for a standby, may serve reads), "
         "else 0",
         [](const ShardHealth& h, const EndpointHealth& e) {
             return std::string(e.answered && (e.index == h.primary || e.eligible) ? "1" : "0");
         });
    each("shardgate_replica_lag_seconds", "gauge",
         "a standby's replay lag (0 when it replayed all it received; -1 unknown)",
         [](const ShardHealth& h, const EndpointHealth& e) {
             if (e.index == h.primary || !e.answered || e.reading.role != Role::Standby)
                 return std::string();
             return fmt::format("{:.3f}", standby_lag_s(e.reading));
         });
    each("shardgate_endpoint_check_failures_total", "counter", "role checks that got no answer",
         [](const ShardHealth&, const EndpointHealth& e) { return std::to_string(e.failures); });
}

http::Readiness readiness(const Monitor& m) {
    http::Readiness r;
    for (const auto& h : m.shards()) {
        if (h->admits()) continue;
        r.ready = false;
        r.text += fmt::format("shard {} ({}): {} since {}: {}\n", h->name, h->endpoint(),
                              h->state_name(), format_utc(h->breaker.since()),
                              h->write_block.empty() ? h->breaker.open_reason() : h->write_block);
    }
    r.text = r.ready ? "ready\n" : "degraded\n" + r.text;
    return r;
}

std::vector<std::string> shard_health_columns() {
    return {"state",   "since",     "last_error", "last_error_at", "check_ms", "connect_failures",
            "primary", "failovers", "endpoints"};
}

std::vector<std::string> shard_health_values(const Monitor& m, int i) {
    const ShardHealth* h = m.shard(i);
    if (!h) return std::vector<std::string>(shard_health_columns().size());
    return {h->state_name(),
            format_utc(h->breaker.since()),
            h->write_block.empty() ? h->breaker.last_error() : h->write_block,
            h->breaker.last_error().empty() ? "" : format_utc(h->breaker.last_error_at()),
            h->checks ? fmt::format("{:.1f}", h->last_check_seconds * 1000) : "",
            std::to_string(h->connect_failures),
            h->endpoint(),
            std::to_string(h->failovers),
            endpoints_summary(*h)};
}

std::string endpoints_summary(const ShardHealth& h) {
    std::string out;
    for (const auto& e : h.endpoints) {
        if (!out.empty()) out += "; ";
        out +=
            fmt::format("{} {} {} since {}", e.endpoint(),
                        e.index == h.primary ? "primary" : "standby", e.state, format_utc(e.since));
        if (e.answered && e.reading.role == Role::Standby) {
            double lag = standby_lag_s(e.reading);
            out += lag < 0 ? " lag unknown" : fmt::format(" lag {:.3f}s", lag);
        }
        if (!e.last_error.empty())
            out += fmt::format(" last error at {}: {}", format_utc(e.last_error_at), e.last_error);
    }
    return out;
}

}  // namespace sg::proxy::health
