// Progress on the terminal (stderr, one rewritten line on a tty, a log line every few seconds
// otherwise): buckets switched, rows copied, MB/s, ETA.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace sg::rebalance {

class Progress {
public:
    explicit Progress(uint32_t total_buckets);

    void copied(uint64_t rows_scanned, uint64_t rows_moved, uint64_t bytes_moved, double seconds);
    void switched(uint32_t buckets, uint64_t rows);
    // Ends the rewritten line so later output starts on a fresh one.
    void finish();

private:
    void show(bool force);

    using Clock = std::chrono::steady_clock;
    uint32_t total_buckets_, buckets_done_ = 0;
    uint64_t rows_switched_ = 0, rows_scanned_ = 0, rows_moved_ = 0, bytes_moved_ = 0;
    uint64_t base_scanned_ = 0, base_moved_ = 0, base_bytes_ = 0;  // earlier sources
    double copy_seconds_ = 0;
    Clock::time_point start_ = Clock::now(), last_ = {};
    bool tty_;
    bool dirty_ = false;
};

}  // namespace sg::rebalance
