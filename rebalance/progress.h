// Progress on the terminal (stderr, one rewritten line on a tty, a log line every few seconds
// otherwise): buckets switched, rows copied, MB/s, ETA.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace sg::rebalance {

// Thread-safe: sources copying in parallel report through one Progress.
class Progress {
public:
    explicit Progress(uint32_t total_buckets);

    // A source's running copy totals (each source counts from zero).
    void copied(const std::string& source, uint64_t rows_scanned, uint64_t rows_moved,
                uint64_t bytes_moved);
    void switched(uint32_t buckets, uint64_t rows);
    // Ends the rewritten line so later output starts on a fresh one.
    void finish();

private:
    void show(bool force);

    using Clock = std::chrono::steady_clock;
    uint32_t total_buckets_, buckets_done_ = 0;
    uint64_t rows_switched_ = 0, rows_scanned_ = 0, rows_moved_ = 0, bytes_moved_ = 0;
    struct Copied {
        uint64_t scanned = 0, moved = 0, bytes = 0;
    };
    std::map<std::string, Copied> per_source_;
    std::mutex mu_;
    Clock::time_point start_ = Clock::now(), last_ = {};
    bool tty_;
    bool dirty_ = false;
};

}  // namespace sg::rebalance
