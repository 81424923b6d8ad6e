// Statements the proxy refused (SQLSTATE 0A000: it cannot show the answer would be right) as
// first-class statistics: one row per (statement shape, construct, user, database) with its
// count, so "what does my application send that the proxy refuses" has an answer, and a
// lifetime counter per construct for /metrics.
//
// The construct is read from the refusal's message (the router names the construct there, as
// the standard requires), by an ordered table of phrases; each construct comes with a way
// around it for the report. An unknown message keeps its first words as the construct.
//
// Bounded: at most `max_rows` rows; beyond that a new row replaces the least recently seen.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/stats/shape_cache.h"

namespace sg::stats {

struct RefusalKind {
    std::string construct;   // e.g. "join not on the shard keys"
    std::string way_around;  // what to change in the application
};
RefusalKind classify_refusal(std::string_view message);

struct RefusalRow {
    std::shared_ptr<const Shape> shape;
    std::string user, database, construct, way_around;
    std::string message;  // the latest message (names the tables and keys)
    uint64_t count = 0;
    std::chrono::system_clock::time_point first, last;
    uint64_t seq = 0;  // of the latest: the least recent goes first when full
};

class RefusalLog {
public:
    explicit RefusalLog(size_t max_rows) : max_rows_(max_rows > 0 ? max_rows : 1) {}
    void set_max_rows(size_t n);
    void record(const std::shared_ptr<const Shape>& shape, std::string_view user,
                std::string_view database, std::string_view message);
    void clear() { rows_.clear(); }  // RESET QUERIES; the lifetime counters keep counting

    const std::vector<RefusalRow>& rows() const { return rows_; }
    // construct -> refusals since start (never reset: Prometheus counters only go up).
    const std::map<std::string, uint64_t>& by_construct_total() const { return by_construct_; }

private:
    void evict_oldest();

    size_t max_rows_;
    std::vector<RefusalRow> rows_;  // few: a linear search is cheaper than an index here
    std::map<std::string, uint64_t> by_construct_;
    uint64_t seq_ = 0;
};

}  // namespace sg::stats
