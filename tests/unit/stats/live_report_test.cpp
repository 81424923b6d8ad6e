// The live report of the HTTP listener: built from QueryStats by the same builder as
// `shardgate report`, bounded in size, rebuilt at most once per max_age, and a page with
// sortable tables, charts and a self-refresh that fetches nothing from elsewhere.
#include "proxy/stats/live_report.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "stats_test_util.h"

namespace sg::stats {
namespace {

using testing::config;
using testing::event;
using testing::kMs;

const std::vector<std::string> kNames{"s0", "s1", "s2"};

// A fan-out whose legs on s2 are ten times slower, a refused join, and an N+1 loop.
QueryStats workload() {
    QueryStats s(config(100, 5));
    for (int i = 0; i < 20; ++i) {
        const std::vector<ShardLeg> legs{{0, 1 * kMs, kMs / 100, 1, 30, 200, false},
                                         {1, 1 * kMs, kMs / 100, 1, 30, 200, false},
                                         {2, 10 * kMs, kMs / 100, 1, 30, 200, false}};
        auto e = event("SELECT id FROM items WHERE work(id) > 0", 11 * kMs);
        e.legs = legs;
        e.shards = 3;
        s.record(e);
    }
    auto refused = event("SELECT a.id FROM items a JOIN items b ON a.name = b.name", kMs, "0A000");
    s.record_refusal(refused, "joins of two sharded tables are not supported");
    for (int i = 0; i < 12; ++i)
        s.record(event("SELECT name FROM items WHERE id = " + std::to_string(i), kMs));
    return s;
}

TEST(LiveReport, BuiltFromTheStatisticsLikeTheOfflineReport) {
    const QueryStats s = workload();
    const report::Report r = live::build(s, kNames, live::Options{});
    ASSERT_FALSE(r.top.empty());
    EXPECT_EQ(r.top[0].query, "SELECT id FROM items WHERE work(id) > $1");
    ASSERT_FALSE(r.stragglers.empty());
    EXPECT_EQ(r.stragglers[0].shard, "s2");
    ASSERT_EQ(r.refusals.size(), 1u);
    EXPECT_EQ(r.refusals[0].count, 1u);
    EXPECT_FALSE(r.reset_at.empty());
    EXPECT_EQ(r.window_seconds, 60);
    EXPECT_TRUE(r.compared);  // the last 5 intervals against the 5 before
    bool nplusone = false;
    for (const auto& f : r.findings) nplusone |= f.kind.find("N+1") != std::string::npos;
    EXPECT_TRUE(nplusone);

    const std::string html = report::render_live_html(r, 7, "built now");
    EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
    EXPECT_NE(html.find("<main id=\"report\">"), std::string::npos);
    EXPECT_NE(html.find("<meta http-equiv=\"refresh\" content=\"7\">"), std::string::npos);
    EXPECT_NE(html.find("setInterval(refresh, 7 * 1000)"), std::string::npos);
    EXPECT_NE(html.find("id=\"shard-chart\""), std::string::npos);
    EXPECT_NE(html.find("id=\"window-chart\""), std::string::npos);
    EXPECT_NE(html.find("<table class=\"sortable\" id=\"statements\">"), std::string::npos);
    EXPECT_NE(html.find("<table class=\"sortable\" id=\"stragglers\">"), std::string::npos);
    EXPECT_NE(html.find("What got slower"), std::string::npos);
    EXPECT_NE(html.find("Covers "), std::string::npos);
    // Self-contained: nothing loaded from anywhere.
    EXPECT_EQ(html.find("src="), std::string::npos);
    EXPECT_EQ(html.find("<link"), std::string::npos);
    EXPECT_EQ(html.find("https://"), std::string::npos);

    const auto j = nlohmann::json::parse(report::render_json(r));
    EXPECT_EQ(j["stragglers"][0]["shard"], "s2");
    EXPECT_EQ(j["period"]["window_count"], 60);
    EXPECT_TRUE(j.contains("compared"));
}

TEST(LiveReport, BoundedWhateverTheWorkload) {
    QueryStats s(config(1000, 5));
    const std::string long_text = "SELECT '" + std::string(10000, 'x') + "' FROM items WHERE id = ";
    for (int i = 0; i < 300; ++i) {
        // 300 shapes, each failing (a finding each) and slow enough for the slow log.
        const std::string text =
            "SELECT c" + std::to_string(i) + " FROM items /* " + long_text + " */";
        s.record(event(text, 60 * kMs, "23505"));
    }
    live::Options o;
    o.top = 5;
    o.max_rows = 7;
    o.max_query_chars = 100;
    const report::Report r = live::build(s, kNames, o);
    EXPECT_EQ(r.top.size(), 5u);
    EXPECT_LE(r.findings.size(), 7u);
    EXPECT_LE(r.slow.size(), 7u);
    for (const auto& t : r.top) EXPECT_LE(t.query.size(), 103u);
    for (const auto& f : r.findings) EXPECT_LE(f.query.size(), 103u);
    EXPECT_LT(report::render_live_html(r, 10, "").size(), 64u * 1024);
}

TEST(LiveReport, CutsTextsOnCharacterBoundaries) {
    report::Report r;
    r.top.push_back({});
    r.top[0].query = "SELECT '\xc3\xa9\xc3\xa9\xc3\xa9'";  // SELECT 'ééé'
    live::Options o;
    o.max_query_chars = 11;  // falls inside the second é: cut before it
    live::bound(r, o);
    EXPECT_EQ(r.top[0].query, "SELECT '\xc3\xa9...");
}

TEST(LiveReport, PagesAreRebuiltAtMostOncePerMaxAge) {
    int built = 0;
    live::Options o;
    o.max_age = std::chrono::milliseconds(60'000);
    live::Pages pages(
        [&] {
            ++built;
            report::Report r;
            r.calls = uint64_t(built);
            return r;
        },
        o);
    const std::string a = pages.html();
    const std::string j = pages.json();
    EXPECT_EQ(pages.html(), a);
    EXPECT_EQ(built, 1);
    EXPECT_NE(j.find("\"calls\": 1"), std::string::npos);
    live::Options fresh;
    fresh.max_age = std::chrono::milliseconds(0);
    live::Pages always(
        [&] {
            ++built;
            return report::Report{};
        },
        fresh);
    always.html();
    always.json();
    EXPECT_EQ(built, 3);
}

}  // namespace
}  // namespace sg::stats
