#include "proxy/stats/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

namespace sg::stats {

int LogHistogram::range_of(uint64_t v) {
    return v < kSubBuckets ? 0 : static_cast<int>(std::bit_width(v)) - 6;
}

int LogHistogram::sub_of(uint64_t v, int range) {
    if (range == 0) return static_cast<int>(v);
    return static_cast<int>(v >> (range - 1)) - kSubBuckets;
}

uint64_t LogHistogram::lower(int range, int sub) {
    if (range == 0) return static_cast<uint64_t>(sub);
    return static_cast<uint64_t>(kSubBuckets + sub) << (range - 1);
}

LogHistogram::LogHistogram(const LogHistogram& other) {
    *this = other;
}

LogHistogram& LogHistogram::operator=(const LogHistogram& other) {
    if (this == &other) return *this;
    for (int r = 0; r < kRanges; ++r)
        blocks_[r] = other.blocks_[r] ? std::make_unique<Block>(*other.blocks_[r]) : nullptr;
    count_ = other.count_;
    sum_ = other.sum_;
    min_ = other.min_;
    max_ = other.max_;
    return *this;
}

void LogHistogram::record_n(int64_t value, uint64_t n) {
    if (n == 0) return;
    value = std::max<int64_t>(value, 0);
    const auto v = static_cast<uint64_t>(value);
    const int r = range_of(v);
    if (!blocks_[r]) blocks_[r] = std::make_unique<Block>(Block{});
    (*blocks_[r])[sub_of(v, r)] += n;
    min_ = count_ ? std::min(min_, value) : value;
    max_ = count_ ? std::max(max_, value) : value;
    count_ += n;
    const uint64_t add = v * n;
    const bool overflow =
        (v != 0 && add / v != n) || sum_ > std::numeric_limits<uint64_t>::max() - add;
    sum_ = overflow ? std::numeric_limits<uint64_t>::max() : sum_ + add;
}

void LogHistogram::merge(const LogHistogram& other) {
    if (other.count_ == 0) return;
    for (int r = 0; r < kRanges; ++r) {
        if (!other.blocks_[r]) continue;
        if (!blocks_[r]) blocks_[r] = std::make_unique<Block>(Block{});
        for (int s = 0; s < kSubBuckets; ++s) (*blocks_[r])[s] += (*other.blocks_[r])[s];
    }
    min_ = count_ ? std::min(min_, other.min_) : other.min_;
    max_ = count_ ? std::max(max_, other.max_) : other.max_;
    count_ += other.count_;
    sum_ = sum_ > std::numeric_limits<uint64_t>::max() - other.sum_
               ? std::numeric_limits<uint64_t>::max()
               : sum_ + other.sum_;
}

void LogHistogram::clear() {
    *this = LogHistogram();
}

int64_t LogHistogram::percentile(double q) const {
    if (count_ == 0) return 0;
    q = std::clamp(q, 0.0, 1.0);
    const auto rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * double(count_))));
    uint64_t seen = 0;
    for (int r = 0; r < kRanges; ++r) {
        if (!blocks_[r]) continue;
        for (int s = 0; s < kSubBuckets; ++s) {
            seen += (*blocks_[r])[s];
            if (seen < rank) continue;
            // The midpoint halves the worst case: a value can sit at either end of its bucket.
            const uint64_t mid = lower(r, s) + width(r) / 2;
            return std::clamp(
                static_cast<int64_t>(std::min<uint64_t>(mid, std::numeric_limits<int64_t>::max())),
                min_, max_);
        }
    }
    return max_;
}

uint64_t LogHistogram::count_at_most(int64_t limit) const {
    if (limit < 0) return 0;
    if (limit >= max_) return count_;
    uint64_t n = 0;
    for (int r = 0; r < kRanges; ++r) {
        if (!blocks_[r]) continue;
        for (int s = 0; s < kSubBuckets; ++s) {
            const uint64_t mid = lower(r, s) + width(r) / 2;
            if (mid > static_cast<uint64_t>(limit)) return n;
            n += (*blocks_[r])[s];
        }
    }
    return n;
}

}  // namespace sg::stats
