// Statistics in fixed intervals, the console's window tables and the report's comparison.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "proxy/stats/admin_windows.h"
#include "proxy/stats/query_stats.h"
#include "proxy/stats/report.h"
#include "stats_test_util.h"

namespace sg::stats {
namespace {

using testing::config;
using testing::event;
using testing::kMs;

int64_t steady_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

constexpr int64_t kWidthNs =
    10'000'000'000;  // 10 s intervals: a test never straddles one by chance

// `calls` calls of `text` taking `latency` each, ended `intervals_ago` intervals before now.
void record(QueryStats& s, const std::string& text, int64_t latency, int calls, int intervals_ago) {
    for (int i = 0; i < calls; ++i) {
        auto e = event(text, latency);
        e.end_ns = steady_ns() - intervals_ago * kWidthNs;
        s.record(e);
    }
}

TEST(ParseShowWindow, AcceptsCountAndOffset) {
    auto a = parse_show_window("");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->intervals, 0u);
    auto b = parse_show_window("5 offset 5;");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->intervals, 5u);
    EXPECT_EQ(b->offset, 5u);
    EXPECT_FALSE(parse_show_window("0"));
    EXPECT_FALSE(parse_show_window("five"));
    EXPECT_FALSE(parse_show_window("5 OFFSET"));
}

TEST(Windows, EachIntervalKeepsItsOwnFigures) {
    QueryStats s(config());
    s.set_window_width(std::chrono::seconds(10));
    record(s, "SELECT * FROM items WHERE id = 1", 2 * kMs, 4, 1);
    record(s, "SELECT * FROM items WHERE id = 1", 8 * kMs, 3, 0);
    const Table now = show_window(s, {1, 0});
    ASSERT_EQ(now.rows.size(), 1u);
    const Table before = show_window(s, {1, 1});
    ASSERT_EQ(before.rows.size(), 1u);
    auto col = [](const Table& t, const std::string& c) {
        for (size_t i = 0; i < t.columns.size(); ++i)
            if (t.columns[i] == c) return t.rows[0][i];
        return std::string("?");
    };
    EXPECT_EQ(col(now, "calls"), "3");
    EXPECT_EQ(col(before, "calls"), "4");
    EXPECT_EQ(col(now, "p50_ms"), "8.000");
    EXPECT_EQ(col(before, "p50_ms"), "2.000");
    EXPECT_EQ(col(show_window(s, {2, 0}), "calls"), "7");
    EXPECT_EQ(show_windows(s).rows.size(), 2u);
    s.reset();
    EXPECT_TRUE(show_window(s, {}).rows.empty());
    EXPECT_EQ(show_stats_period(s).rows.size(), 1u);
}

TEST(Windows, ComparisonFindsWhatGotSlower) {
    QueryStats s(config());
    s.set_window_width(std::chrono::seconds(10));
    record(s, "SELECT * FROM items WHERE id = 1", 1 * kMs, 20, 1);
    record(s, "SELECT * FROM orders WHERE id = 1", 3 * kMs, 20, 1);
    record(s, "SELECT * FROM items WHERE id = 1", 9 * kMs, 20, 0);  // made slower half-way
    record(s, "SELECT * FROM orders WHERE id = 1", 3 * kMs, 20, 0);
    report::Inputs in;
    in.queries = show_window(s, {1, 0});
    in.previous = show_window(s, {1, 1});
    in.period = show_stats_period(s);
    in.windows = show_windows(s);
    in.scope = "the last 10s";
    const report::Report r = report::build(in);
    ASSERT_TRUE(r.compared);
    ASSERT_EQ(r.slower.size(), 1u);
    EXPECT_EQ(r.slower[0].query, "SELECT * FROM items WHERE id = $1");
    EXPECT_NEAR(r.slower[0].p95_now, 9.0, 0.1);
    EXPECT_NEAR(r.slower[0].p95_before, 1.0, 0.1);
    const std::string text = report::render_text(r);
    EXPECT_NE(text.find("What got slower"), std::string::npos);
    EXPECT_NE(text.find("statistics last reset at"), std::string::npos);
    EXPECT_NE(text.find("(the last 10s)"), std::string::npos);
    const std::string html = report::render_html(r);
    EXPECT_NE(html.find("id=\"window-chart\""), std::string::npos);
    EXPECT_NE(html.find("id=\"slower\""), std::string::npos);
}

TEST(Windows, WidthAndCountComeFromTheConfiguration) {
    StatsConfig c = config();
    c.window_seconds = 10;
    c.window_count = 3;
    QueryStats s(c);
    EXPECT_EQ(s.windows().width(), std::chrono::seconds(10));
    EXPECT_EQ(s.windows().count(), 3u);
    // Five intervals with calls, only the last three kept.
    for (int ago = 0; ago < 5; ++ago)
        record(s, "SELECT * FROM items WHERE id = 1", kMs, ago + 1, ago);
    const Table all = show_windows(s);
    ASSERT_EQ(all.rows.size(), 3u);
    const Table period = show_stats_period(s);
    ASSERT_EQ(period.rows.size(), 1u);
    EXPECT_EQ(period.rows[0][3], "10");  // window_seconds
    EXPECT_EQ(period.rows[0][4], "3");   // windows_kept
    // 1 + 2 + 3 calls in the kept intervals (now, 1 and 2 intervals ago).
    auto calls = [](const Table& t) {
        for (size_t i = 0; i < t.columns.size(); ++i)
            if (t.columns[i] == "calls") return t.rows[0][i];
        return std::string("?");
    };
    EXPECT_EQ(calls(show_window(s, {})), "6");

    // The report states the intervals it was built over.
    report::Inputs in;
    in.period = period;
    in.windows = all;
    in.queries = show_queries(s, {});
    const auto r = report::build(in);
    EXPECT_EQ(r.window_seconds, 10);
    EXPECT_EQ(r.window_count, 3);
    EXPECT_NE(report::render_text(r).find("intervals of 10 s, the last 3 kept"), std::string::npos);
    EXPECT_NE(report::render_html(r).find("intervals of 10 s, the last 3 kept"), std::string::npos);

    // RELOAD: another count starts over; a console SET WINDOW_SECONDS survives a reload that
    // leaves the file's width alone, and yields to one that changes it.
    s.set_window_width(std::chrono::seconds(20));
    c.window_count = 4;
    s.reconfigure(c);
    EXPECT_EQ(s.windows().count(), 4u);
    EXPECT_EQ(s.windows().width(), std::chrono::seconds(20));
    EXPECT_TRUE(show_windows(s).rows.empty());
    c.window_seconds = 30;
    s.reconfigure(c);
    EXPECT_EQ(s.windows().width(), std::chrono::seconds(30));
}

}  // namespace
}  // namespace sg::stats
