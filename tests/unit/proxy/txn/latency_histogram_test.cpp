// The commit latency histogram of /metrics (proxy/txn/latency_histogram.h).
#include "proxy/txn/latency_histogram.h"

#include <gtest/gtest.h>

namespace sg::proxy::txn {
namespace {

TEST(LatencyHistogram, BucketsAreCumulativeWithSumAndCount) {
    LatencyHistogram h;
    h.observe(100);      // <= 0.25 ms
    h.observe(700);      // <= 1 ms
    h.observe(9000000);  // past the last bound: only +Inf
    const std::string out = h.render("m", "kind=\"x\"");
    EXPECT_NE(out.find("m_bucket{kind=\"x\",le=\"0.00025\"} 1\n"), std::string::npos) << out;
    EXPECT_NE(out.find("m_bucket{kind=\"x\",le=\"0.0005\"} 1\n"), std::string::npos) << out;
    EXPECT_NE(out.find("m_bucket{kind=\"x\",le=\"0.001\"} 2\n"), std::string::npos) << out;
    EXPECT_NE(out.find("m_bucket{kind=\"x\",le=\"5\"} 2\n"), std::string::npos) << out;
    EXPECT_NE(out.find("m_bucket{kind=\"x\",le=\"+Inf\"} 3\n"), std::string::npos) << out;
    EXPECT_NE(out.find("m_sum{kind=\"x\"} 9.0008\n"), std::string::npos) << out;
    EXPECT_NE(out.find("m_count{kind=\"x\"} 3\n"), std::string::npos) << out;
}

}  // namespace
}  // namespace sg::proxy::txn
