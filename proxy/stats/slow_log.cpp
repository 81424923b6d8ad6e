#include "proxy/stats/slow_log.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace sg::stats {

SlowLog::SlowLog(int slow_query_ms, bool log_parameters, size_t capacity)
    : threshold_ns_(int64_t{slow_query_ms} * 1'000'000),
      log_parameters_(log_parameters),
      capacity_(capacity) {}

void SlowLog::configure(int slow_query_ms, bool log_parameters) {
    threshold_ns_ = int64_t{slow_query_ms} * 1'000'000;
    log_parameters_ = log_parameters;
}

void SlowLog::record(const QueryEvent& e, const std::shared_ptr<const Shape>& shape) {
    ++total_;
    SlowEntry s{.at = std::chrono::system_clock::now(),
                .shape = shape,
                .user = std::string(e.user),
                .database = std::string(e.database),
                .client_id = e.client_id,
                .latency_ns = e.latency_ns,
                .server_ns = e.server_ns,
                .pool_wait_ns = e.pool_wait_ns,
                .shards = e.shards,
                .rows = e.rows,
                .sqlstate = std::string(e.sqlstate),
                .params = {}};
    if (log_parameters_ && e.params) {
        for (size_t i = 0; i < e.params->size() && i < kMaxParams; ++i)
            s.params.push_back((*e.params)[i].substr(0, kMaxParamChars));
    }
    // One line per slow statement; the parameters only when the operator allowed them.
    const std::string error = e.sqlstate.empty() ? "" : fmt::format(" sqlstate={}", e.sqlstate);
    const std::string params =
        log_parameters_ ? fmt::format(" params=[{}]", format_params(s.params)) : "";
    spdlog::warn(
        "slow query: {:.3f} ms fingerprint={} shards={} rows={} user={} database={}{}{} query: {}",
        double(e.latency_ns) / 1e6, shape->hex, e.shards, e.rows, e.user, e.database, error, params,
        shape->normalized);
    ring_.push_front(std::move(s));
    if (ring_.size() > capacity_) ring_.pop_back();
}

std::string format_params(const std::vector<std::string>& params) {
    std::string out;
    for (const auto& p : params) {
        if (!out.empty()) out += ", ";
        out += '\'';
        for (char c : p.substr(0, SlowLog::kMaxParamChars)) {
            if (c == '\'') out += '\'';
            out += c;
        }
        out += '\'';
    }
    return out;
}

}  // namespace sg::stats
