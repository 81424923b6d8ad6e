#include "proxy/stats/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace sg::stats {
namespace {

int64_t exact_percentile(std::vector<int64_t> v, double q) {
    std::sort(v.begin(), v.end());
    const auto rank = std::max<size_t>(1, static_cast<size_t>(std::ceil(q * double(v.size()))));
    return v[rank - 1];
}

void expect_within_bound(const LogHistogram& h, const std::vector<int64_t>& samples) {
    for (double q : {0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0}) {
        const int64_t exact = exact_percentile(samples, q);
        const int64_t got = h.percentile(q);
        EXPECT_LE(std::abs(double(got - exact)), double(exact) * LogHistogram::kRelativeError)
            << "q=" << q << " exact=" << exact << " got=" << got;
    }
}

TEST(LogHistogram, IndexArithmeticCoversEveryValueOnce) {
    const uint64_t values[] = {
        0, 1, 63, 64, 127, 128, 129, 1000, 123456789, (uint64_t{1} << 62) + 5, INT64_MAX};
    for (uint64_t v : values) {
        const int r = LogHistogram::range_of(v);
        const int s = LogHistogram::sub_of(v, r);
        ASSERT_GE(s, 0);
        ASSERT_LT(s, LogHistogram::kSubBuckets);
        ASSERT_LT(r, LogHistogram::kRanges);
        EXPECT_LE(LogHistogram::lower(r, s), v);
        EXPECT_GT(LogHistogram::lower(r, s) + LogHistogram::width(r), v);
        // A bucket is never wider than 1/64 of its lower bound (what the error bound rests on).
        if (r > 1) {
            EXPECT_LE(LogHistogram::width(r) * 64, LogHistogram::lower(r, s));
        }
    }
}

TEST(LogHistogram, CountSumMinMax) {
    LogHistogram h;
    EXPECT_EQ(h.percentile(0.5), 0);
    for (int64_t v : {5, 1000, 250, -3}) h.record(v);
    EXPECT_EQ(h.count(), 4u);
    EXPECT_EQ(h.sum(), 1255u);
    EXPECT_EQ(h.min(), 0);
    EXPECT_EQ(h.max(), 1000);
    EXPECT_EQ(h.percentile(1.0), 1000);
    EXPECT_EQ(h.percentile(0.0), 0);
}

TEST(LogHistogram, SmallValuesAreExact) {
    LogHistogram h;
    for (int64_t v = 0; v < 128; ++v) h.record(v);
    EXPECT_EQ(h.percentile(0.5), 63);
    EXPECT_EQ(h.percentile(0.25), 31);
}

TEST(LogHistogram, PercentilesWithinStatedErrorOfExact) {
    std::mt19937_64 rng(42);
    // Latency-like: log-normal around 2 ms, plus a uniform spread and a heavy tail.
    std::lognormal_distribution<double> lognormal(std::log(2e6), 1.2);
    std::uniform_int_distribution<int64_t> uniform(0, 50'000'000);
    std::exponential_distribution<double> tail(1.0 / 3e8);
    for (int trial = 0; trial < 3; ++trial) {
        LogHistogram h;
        std::vector<int64_t> samples;
        for (int i = 0; i < 20000; ++i) {
            const double x = trial == 0   ? lognormal(rng)
                             : trial == 1 ? double(uniform(rng))
                                          : tail(rng);
            samples.push_back(static_cast<int64_t>(x));
            h.record(samples.back());
        }
        expect_within_bound(h, samples);
    }
}

TEST(LogHistogram, MergeEqualsRecordingEverythingInOne) {
    std::mt19937_64 rng(7);
    std::lognormal_distribution<double> d(std::log(1e6), 2.0);
    LogHistogram a, b, all;
    std::vector<int64_t> samples;
    for (int i = 0; i < 5000; ++i) {
        const auto v = static_cast<int64_t>(d(rng));
        samples.push_back(v);
        (i % 3 ? a : b).record(v);
        all.record(v);
    }
    a.merge(b);
    EXPECT_EQ(a.count(), all.count());
    EXPECT_EQ(a.sum(), all.sum());
    EXPECT_EQ(a.min(), all.min());
    EXPECT_EQ(a.max(), all.max());
    for (double q : {0.5, 0.95, 0.99}) EXPECT_EQ(a.percentile(q), all.percentile(q));
    expect_within_bound(a, samples);
    LogHistogram copy = a;
    EXPECT_EQ(copy.percentile(0.99), a.percentile(0.99));
}

TEST(LogHistogram, CountAtMost) {
    LogHistogram h;
    for (int64_t v : {10, 20, 30, 1'000'000, 5'000'000}) h.record(v);
    EXPECT_EQ(h.count_at_most(30), 3u);
    EXPECT_EQ(h.count_at_most(2'000'000), 4u);
    EXPECT_EQ(h.count_at_most(10'000'000), 5u);
    EXPECT_EQ(h.count_at_most(-1), 0u);
}

TEST(LogHistogram, SumSaturatesInsteadOfWrapping) {
    LogHistogram h;
    h.record(INT64_MAX);
    h.record(INT64_MAX);
    h.record(INT64_MAX);
    EXPECT_EQ(h.sum(), UINT64_MAX);
    EXPECT_EQ(h.count(), 3u);
}

}  // namespace
}  // namespace sg::stats
