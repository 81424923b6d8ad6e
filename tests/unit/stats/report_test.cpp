#include "proxy/stats/report.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "stats_test_util.h"

namespace sg::stats::report {
namespace {

using testing::event;
using testing::kMs;

// The console's own result sets for a known workload, as the report reads them.
struct Inputs {
    Table queries, nplusone, slow;
};

Inputs inputs() {
    QueryStats s(testing::config(100, 3));
    int64_t now = 1'000'000'000;
    auto run = [&](std::string_view text, int64_t latency, uint32_t shards, uint64_t params,
                   std::string_view sqlstate = {}) {
        auto e = event(text, latency, sqlstate);
        e.shards = shards;
        e.param_hash = params;
        e.end_ns = (now += latency + kMs);
        s.record(e);
    };
    for (int i = 0; i < 100; ++i) run("SELECT * FROM items WHERE id = 1", 2 * kMs, 1, 1);  // 200 ms
    for (int i = 0; i < 4; ++i)
        run("SELECT count(*) FROM items", 100 * kMs, 4, 2);  // 400 ms, fan-out
    run("SELECT id FROM orders WHERE customer = 1", kMs, 1, 3);
    for (int i = 0; i < 5; ++i)
        run("SELECT * FROM lines WHERE order_id = 1", kMs, 1, 10 + i);  // N+1
    for (int i = 0; i < 10; ++i)
        run("INSERT INTO u VALUES (1)", kMs, 1, 20, i < 4 ? "23505" : "");  // same values: no N+1
    return {show_queries(s, {}), show_nplusone(s), show_slow(s)};
}

Report report() {
    Inputs in = inputs();
    return build(in.queries, in.nplusone, in.slow, 3);
}

TEST(Report, RanksByTotalTimeWithShares) {
    const Report r = report();
    EXPECT_EQ(r.statement_count, 5u);
    EXPECT_EQ(r.calls, 120u);
    EXPECT_NEAR(r.total_ms, 200 + 400 + 1 + 5 + 10, 1e-6);
    ASSERT_EQ(r.top.size(), 3u);
    EXPECT_EQ(r.top[0].query, "SELECT count(*) FROM items");
    EXPECT_NEAR(r.top[0].pct_total, 100.0 * 400 / 616, 1e-6);
    EXPECT_DOUBLE_EQ(r.top[0].avg_shards, 4.0);
    EXPECT_EQ(r.top[1].calls, 100u);
    EXPECT_NEAR(r.top[1].p99_ms, 2.0, 1e-9);
    EXPECT_NEAR(r.top[1].rows_per_call, 1.0, 1e-9);
    EXPECT_NEAR(r.top[1].proxy_pct, 25.0, 1e-6);
    EXPECT_EQ(r.slow.size(), 4u);  // the 100 ms fan-outs (slow_query_ms = 50)
}

TEST(Report, FindingsSayWhatToDo) {
    const Report r = report();
    ASSERT_GE(r.findings.size(), 3u);
    EXPECT_EQ(r.findings[0].kind, "N+1");
    EXPECT_NE(r.findings[0].advice.find("= ANY($1) or a join"), std::string::npos);
    EXPECT_NE(r.findings[0].detail.find("SELECT id FROM orders WHERE customer = $1"),
              std::string::npos);
    EXPECT_EQ(r.findings[1].kind, "fan-out");
    EXPECT_NE(r.findings[1].advice.find("shard key"), std::string::npos);
    EXPECT_EQ(r.findings[2].kind, "errors");
    EXPECT_NE(r.findings[2].detail.find("4 of 10 calls failed (40.0%): 23505=4"),
              std::string::npos);
    EXPECT_NE(r.findings[2].advice.find("ON CONFLICT"), std::string::npos);
}

TEST(Report, TextRendering) {
    const std::string t = render_text(report());
    EXPECT_NE(t.find("shardgate query cost report"), std::string::npos);
    EXPECT_NE(t.find("5 statements, 120 calls, 616.000 ms in all"), std::string::npos);
    EXPECT_NE(t.find("SELECT count(*) FROM items"), std::string::npos);
    EXPECT_NE(t.find("64.9"), std::string::npos);  // 400 / 616
    EXPECT_NE(t.find("[N+1]"), std::string::npos);
    EXPECT_NE(t.find("do: fetch them in one statement with = ANY($1) or a join"),
              std::string::npos);
    EXPECT_NE(t.find("Recent slow statements"), std::string::npos);
}

TEST(Report, JsonRendering) {
    const auto j = nlohmann::json::parse(render_json(report()));
    EXPECT_EQ(j["summary"]["calls"], 120);
    ASSERT_EQ(j["statements"].size(), 3u);
    EXPECT_EQ(j["statements"][0]["query"], "SELECT count(*) FROM items");
    EXPECT_EQ(j["statements"][0]["fanout_calls"], 4);
    EXPECT_EQ(j["findings"][0]["kind"], "N+1");
    EXPECT_EQ(j["slow"].size(), 4u);
}

TEST(Report, HtmlIsSelfContainedAndEscaped) {
    Inputs in = inputs();
    const auto query_col = std::find(in.queries.columns.begin(), in.queries.columns.end(), "query");
    ASSERT_NE(query_col, in.queries.columns.end());
    in.queries.rows[0][size_t(query_col - in.queries.columns.begin())] =
        "SELECT '<script>alert(1)</script>'";
    const std::string h = render_html(build(in.queries, in.nplusone, in.slow, 3));
    EXPECT_EQ(h.rfind("<!DOCTYPE html>", 0), 0u);
    EXPECT_NE(h.find("<svg"), std::string::npos);
    EXPECT_NE(h.find("<style>"), std::string::npos);
    EXPECT_EQ(h.find("<script"), std::string::npos);
    EXPECT_NE(h.find("&lt;script&gt;"), std::string::npos);
    EXPECT_EQ(h.find("http://"), h.find("http://www.w3.org/2000/svg"));  // the SVG namespace only
    EXPECT_EQ(h.find("https://"), std::string::npos);
    EXPECT_NE(h.find("What to do:"), std::string::npos);
    EXPECT_NE(h.find("</html>"), std::string::npos);
}

TEST(Report, EmptyProxyStillReports) {
    const Report r = build({}, {}, {}, 10);
    EXPECT_EQ(r.calls, 0u);
    EXPECT_NE(render_text(r).find("none"), std::string::npos);
    EXPECT_NO_THROW(nlohmann::json::parse(render_json(r)));
    EXPECT_NE(render_html(r).find("</html>"), std::string::npos);
}

}  // namespace
}  // namespace sg::stats::report
