// The slow-query log: a statement slower than [stats] slow_query_ms is logged once (spdlog
// warn) when its reply completes, and kept in a bounded ring for SHOW SLOW (newest first).
// Parameter values are logged and kept only with [stats] log_parameters = true: they may hold
// personal data.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "proxy/stats/query_event.h"
#include "proxy/stats/shape_cache.h"

namespace sg::stats {

struct SlowEntry {
    std::chrono::system_clock::time_point at;  // when the reply completed
    std::shared_ptr<const Shape> shape;
    std::string user, database;
    uint64_t client_id = 0;
    int64_t latency_ns = 0, server_ns = 0, pool_wait_ns = 0;
    uint32_t shards = 0;
    uint64_t rows = 0;
    std::string sqlstate;
    std::vector<std::string> params;  // empty unless log_parameters
};

class SlowLog {
public:
    static constexpr size_t kDefaultCapacity = 200;
    // Parameter values longer than this are cut in the log and the ring.
    static constexpr size_t kMaxParamChars = 200;
    static constexpr size_t kMaxParams = 64;

    explicit SlowLog(int slow_query_ms, bool log_parameters, size_t capacity = kDefaultCapacity);
    void configure(int slow_query_ms, bool log_parameters);

    // slow_query_ms = 0 turns the log off.
    bool is_slow(int64_t latency_ns) const {
        return threshold_ns_ > 0 && latency_ns >= threshold_ns_;
    }
    // Logs and keeps one slow statement (the caller checked is_slow).
    void record(const QueryEvent& e, const std::shared_ptr<const Shape>& shape);
    void clear() { ring_.clear(); }

    const std::deque<SlowEntry>& entries() const { return ring_; }  // newest first
    uint64_t total() const { return total_; }                       // ever logged; survives clear()
    bool log_parameters() const { return log_parameters_; }

private:
    int64_t threshold_ns_;
    bool log_parameters_;
    size_t capacity_;
    std::deque<SlowEntry> ring_;
    uint64_t total_ = 0;
};

// "'a', 'it''s'": values quoted as SQL literals, each cut at kMaxParamChars.
std::string format_params(const std::vector<std::string>& params);

}  // namespace sg::stats
