// A mergeable log-linear histogram of non-negative 64-bit values (latencies in nanoseconds).
//
// Layout (HDR-style): values 0..127 each have their own bucket; above that, every power-of-two
// range [2^p, 2^(p+1)) is split into 64 equal sub-buckets of width 2^(p-6). A bucket's width
// is therefore at most 1/64 of its lower bound, and a percentile is answered with the bucket's
// midpoint, so it is within 1/128 (< 0.8%) of the exact nearest-rank sample:
//
//     |percentile(q) - exact(q)| <= exact(q) / 128      (kRelativeError)
//
// Memory: the 64 counters of a power-of-two range are allocated the first time a value falls
// in it, so a statement whose latencies span two decades costs about 3 KiB, and recording into
// ranges already seen never allocates.
#pragma once

#include <array>
#include <cstdint>
#include <memory>

namespace sg::stats {

class LogHistogram {
public:
    static constexpr int kSubBuckets = 64;
    static constexpr double kRelativeError = 1.0 / 128;

    LogHistogram() = default;
    LogHistogram(const LogHistogram& other);
    LogHistogram& operator=(const LogHistogram& other);
    LogHistogram(LogHistogram&&) noexcept = default;
    LogHistogram& operator=(LogHistogram&&) noexcept = default;

    // Negative values count as 0.
    void record(int64_t value) { record_n(value, 1); }
    void record_n(int64_t value, uint64_t n);
    // Adds every value of `other`, as if each had been recorded here.
    void merge(const LogHistogram& other);
    void clear();

    uint64_t count() const { return count_; }
    // Saturating sum of the recorded values.
    uint64_t sum() const { return sum_; }
    int64_t min() const { return count_ ? min_ : 0; }
    int64_t max() const { return count_ ? max_ : 0; }
    double mean() const { return count_ ? double(sum_) / double(count_) : 0.0; }

    // The nearest-rank q-quantile (q in [0, 1]): the value of rank ceil(q * count), within
    // kRelativeError of it, clamped to [min, max]. 0 for an empty histogram.
    int64_t percentile(double q) const;
    // How many recorded values are <= `limit` (exact when `limit` + 1 starts a bucket,
    // otherwise the straddling bucket counts when its midpoint is <= limit).
    uint64_t count_at_most(int64_t limit) const;

    // Index arithmetic, public for tests: range r covers [lower(r, 0), lower(r, 63) + width(r)).
    static constexpr int kRanges = 58;  // range 0: [0, 64); range r >= 1: [2^(r+5), 2^(r+6))
    static int range_of(uint64_t v);
    static int sub_of(uint64_t v, int range);
    static uint64_t lower(int range, int sub);
    static uint64_t width(int range) { return range <= 1 ? 1 : uint64_t{1} << (range - 1); }

private:
    using Block = std::array<uint64_t, kSubBuckets>;
    std::array<std::unique_ptr<Block>, kRanges> blocks_;
    uint64_t count_ = 0;
    uint64_t sum_ = 0;
    int64_t min_ = 0;
    int64_t max_ = 0;
};

}  // namespace sg::stats
