// Statistics in fixed intervals besides the totals (as pg_stat_monitor keeps buckets): a ring
// of the last `count` intervals of `width` each ([stats] window_count x window_seconds, default
// 60 x 1 minute), per (fingerprint,
// user, database), so a report can cover a window ("the last 10 minutes") and compare two
// ("what got slower"). Interval i covers steady-clock [i*width, (i+1)*width); its wall-clock
// bounds come from the clocks' offset taken once.
//
// Bounded: at most `max_cells` statement cells per interval; beyond that a statement counts
// only in the interval's total (which always counts every call).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "proxy/stats/figures.h"
#include "proxy/stats/query_event.h"
#include "proxy/stats/shape_cache.h"

namespace sg::stats {

struct WindowCell {
    std::shared_ptr<const Shape> shape;
    std::string user, database;
    Figures figures;
};

struct WindowInterval {
    int64_t index = -1;  // steady-clock ns / width; -1: unused
    Figures total;
    std::unordered_map<uint64_t, std::vector<WindowCell>>
        cells;  // by fingerprint; few users per fingerprint
    size_t cell_count = 0;
};

class Windows {
public:
    Windows(std::chrono::seconds width, size_t count, size_t max_cells);
    // Another width or count starts the intervals over (intervals of different widths cannot
    // be merged or compared); max_cells applies from the next new cell.
    void configure(std::chrono::seconds width, size_t count, size_t max_cells);

    void record(const QueryEvent& e, const std::shared_ptr<const Shape>& shape, int64_t end_ns);
    void clear();

    std::chrono::seconds width() const { return std::chrono::seconds(width_ns_ / 1'000'000'000); }
    size_t count() const { return ring_.size(); }
    // The interval now is current_index(); intervals [current - n + 1 - offset, current - offset].
    int64_t current_index() const;
    // The kept intervals with index in [first, last], oldest first.
    std::vector<const WindowInterval*> between(int64_t first, int64_t last) const;
    std::chrono::system_clock::time_point start_of(int64_t index) const;

private:
    int64_t width_ns_;
    size_t max_cells_;
    std::vector<WindowInterval> ring_;
    int64_t steady_origin_ns_;
    std::chrono::system_clock::time_point system_origin_;
};

}  // namespace sg::stats
