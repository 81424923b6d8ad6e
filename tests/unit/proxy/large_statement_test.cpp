// Large statements analysed on the analysis workers (proxy/analysis_workers.h,
// proxy/large_statement.h) give exactly what the inline path computes on the event loop: the
// same scans, literal-free shape, analysis, route and per-shard texts. The jobs run on a worker
// thread and the awaiting coroutine resumes on its own loop thread.
#include "proxy/large_statement.h"

#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <stdexcept>
#include <thread>

#include "proxy/analysis_workers.h"
#include "proxy/function_guard.h"
#include "proxy/stats/query_event.h"
#include "tests/unit/router/router_fixture.h"

namespace sg::proxy {
namespace {

namespace asio = net::asio;
using router::Route;

// Runs `body` as a coroutine on a fresh io_context until it ends; rethrows what it threw.
template <typename Body>
void run_on_loop(Body body) {
    asio::io_context io;
    std::exception_ptr failed;
    asio::co_spawn(io, std::move(body), [&](std::exception_ptr e) { failed = e; });
    io.run();
    if (failed) std::rethrow_exception(failed);
}

std::string many_row_insert(int rows) {
    std::string sql = "INSERT INTO users (id, name) VALUES ";
    for (int i = 1; i <= rows; ++i)
        sql += (i > 1 ? ", (" : "(") + std::to_string(i) + ", 'name " + std::to_string(i) + "')";
    return sql;
}

std::string huge_in_list(int n) {
    std::string sql = "SELECT id, name FROM users WHERE id IN (";
    for (int i = 1; i <= n; ++i) sql += (i > 1 ? ", " : "") + std::to_string(i * 7);
    return sql + ") ORDER BY id";
}

void expect_same_route(const Route& a, const Route& b, const std::string& what) {
    EXPECT_EQ(a.kind, b.kind) << what;
    EXPECT_EQ(a.shards, b.shards) << what;
    ASSERT_EQ(a.insert_rows.size(), b.insert_rows.size()) << what;
    for (size_t i = 0; i < a.insert_rows.size(); ++i) {
        EXPECT_EQ(a.insert_rows[i].shard, b.insert_rows[i].shard) << what;
        EXPECT_EQ(a.insert_rows[i].rows, b.insert_rows[i].rows) << what;
    }
    EXPECT_EQ(a.error.sqlstate, b.error.sqlstate) << what;
}

router::Params text_params(const router::LiteralShape& shape) {
    router::Params p;
    for (const auto& v : shape.values) p.push_back({false, router::ParamFormat::Text, v});
    return p;
}

TEST(LargeStatement, StudyOffTheLoopEqualsTheInlinePath) {
    const auto catalog = router::testing::test_catalog();
    const auto map = router::testing::test_map();
    router::RouterContext ctx;
    ctx.explain = false;
    ctx.merge_results = true;
    const std::vector<std::string> texts = {
        many_row_insert(20000),
        huge_in_list(30000),
        "INSERT INTO users (id, name) VALUES (42, '" + std::string(1 << 20, 'x') + "')",
        "INSERT INTO users VALUES (42, '" + std::string(1 << 20, 'y') +
            "')",  // no column list: refused
        "SELECT count(*) FROM users WHERE name <> '" + std::string(1 << 20, 'z') + "'",
    };
    AnalysisWorkers workers(2);
    for (const auto& text : texts) {
        const std::string what = text.substr(0, 60);
        auto owned = std::make_shared<const std::string>(text);
        const std::thread::id loop_thread = std::this_thread::get_id();
        std::atomic<bool> on_worker{false};
        LargeTextFacts facts;
        std::shared_ptr<const router::Analysis> whole;
        std::pair<std::vector<ShardQuery>, bool> fanout;
        // Jobs are named locals: GCC 12 destroys a temporary of a co_await expression twice.
        run_on_loop([&]() -> net::awaitable<void> {
            auto study = [owned, catalog, &on_worker, loop_thread] {
                on_worker = std::this_thread::get_id() != loop_thread;
                return study_large_text(*owned, catalog);
            };
            facts = co_await workers.run(std::move(study));
            EXPECT_EQ(std::this_thread::get_id(), loop_thread) << "resumed on the loop's thread";
            auto analyse = [owned, catalog] { return analyze_large_text(*owned, catalog); };
            whole = co_await workers.run(std::move(analyse));
            const Route r = router::route(*whole, {}, map, ctx);
            auto split = [owned, whole, r] {
                return std::pair{
                    shard_queries(*whole, *owned, r, std::vector<int>(r.shards.size(), -1)), false};
            };
            fanout = co_await workers.run(std::move(split));
        });
        EXPECT_TRUE(on_worker) << what;

        // The scans.
        EXPECT_EQ(facts.state_use.kind, session_state_use(text).kind) << what;
        EXPECT_EQ(facts.calls_function, may_call_function(text)) << what;
        EXPECT_EQ(facts.text_hash, stats::text_hash(text)) << what;
        // The literal-free shape and its analysis, routed as the inline path routes them.
        router::LiteralShape inline_shape;
        ASSERT_EQ(facts.shaped, router::extract_literals(text, inline_shape)) << what;
        if (facts.shaped) {
            EXPECT_EQ(facts.shape.text, inline_shape.text) << what;
            EXPECT_EQ(facts.shape.values, inline_shape.values) << what;
            EXPECT_EQ(facts.shape.types, inline_shape.types) << what;
            ASSERT_TRUE(facts.shape_analysis) << what;
            const router::Analysis inline_a = router::analyze(inline_shape.text, catalog);
            EXPECT_EQ(facts.shape_analysis->kind, inline_a.kind) << what;
            expect_same_route(
                router::route(*facts.shape_analysis, text_params(facts.shape), map, ctx),
                router::route(inline_a, text_params(inline_shape), map, ctx), what);
        }
        // The whole text's analysis and route, and the per-shard statements.
        const router::Analysis inline_whole = router::analyze(text, catalog);
        ASSERT_TRUE(whole) << what;
        EXPECT_EQ(whole->kind, inline_whole.kind) << what;
        EXPECT_EQ(whole->rows.size(), inline_whole.rows.size()) << what;
        EXPECT_EQ(whole->column_list_at, inline_whole.column_list_at) << what;
        EXPECT_EQ(whole->refusal.has_value(), inline_whole.refusal.has_value()) << what;
        const Route inline_r = router::route(inline_whole, {}, map, ctx);
        expect_same_route(router::route(*whole, {}, map, ctx), inline_r, what);
        const auto inline_q = shard_queries(inline_whole, text, inline_r,
                                            std::vector<int>(inline_r.shards.size(), -1));
        ASSERT_EQ(fanout.first.size(), inline_q.size()) << what;
        for (size_t i = 0; i < inline_q.size(); ++i) {
            EXPECT_EQ(fanout.first[i].shard, inline_q[i].shard) << what;
            EXPECT_EQ(fanout.first[i].sql, inline_q[i].sql) << what;
        }
    }
}

// The split INSERT really is split: every row lands in exactly one shard's statement.
TEST(LargeStatement, ManyRowInsertSplitsPerShard) {
    const auto catalog = router::testing::test_catalog();
    const std::string text = many_row_insert(4000);
    const router::Analysis a = router::analyze(text, catalog);
    const Route r = router::route(a, {}, router::testing::test_map(), {});
    ASSERT_EQ(r.kind, Route::Kind::All);
    const auto queries = shard_queries(a, text, r, {});
    ASSERT_EQ(queries.size(), 4u);
    size_t rows = 0;
    for (const auto& q : queries) {
        EXPECT_EQ(q.sql.rfind("INSERT INTO users (id, name) VALUES (", 0), 0u);
        for (size_t at = q.sql.find("'name "); at != std::string::npos;
             at = q.sql.find("'name ", at + 1))
            ++rows;
    }
    EXPECT_EQ(rows, 4000u);
}

TEST(LargeStatement, ColumnListInsertedInOneCopy) {
    const std::string sql = "INSERT INTO users VALUES (1, 'a')";
    const std::string frame = query_with_inserted_text(sql, 18, "(id, name) ");
    ASSERT_EQ(frame[0], 'Q');
    const uint32_t len = (uint32_t(uint8_t(frame[1])) << 24) | (uint32_t(uint8_t(frame[2])) << 16) |
                         (uint32_t(uint8_t(frame[3])) << 8) | uint32_t(uint8_t(frame[4]));
    EXPECT_EQ(len + 1, frame.size());
    EXPECT_EQ(frame.substr(5), std::string("INSERT INTO users (id, name) VALUES (1, 'a')") + '\0');
}

TEST(AnalysisWorkers, AJobsExceptionReachesTheAwaitingCoroutine) {
    AnalysisWorkers workers(1);
    bool caught = false;
    run_on_loop([&]() -> net::awaitable<void> {
        try {
            auto job = []() -> int { throw std::runtime_error("job failed"); };
            (void)co_await workers.run(std::move(job));
        } catch (const std::runtime_error& e) {
            caught = std::string(e.what()) == "job failed";
        }
    });
    EXPECT_TRUE(caught);
}

// The pool's destructor waits for the jobs queued and running, whose owned data stays valid to
// their end; their results then wait on the loop, which resumes each coroutine.
TEST(AnalysisWorkers, DestructionWaitsForQueuedAndRunningJobs) {
    std::atomic<int> done{0};
    int resumed = 0;
    asio::io_context io;
    std::optional<AnalysisWorkers> workers(std::in_place, 1);
    for (int i = 0; i < 4; ++i) {
        auto text = std::make_shared<const std::string>(size_t(1) << 20, 'q');
        asio::co_spawn(
            io,
            [&, text]() -> net::awaitable<void> {
                auto job = [text, &done] {
                    const bool same = stats::text_hash(*text) ==
                                      stats::text_hash(std::string(size_t(1) << 20, 'q'));
                    done += same ? 1 : 0;
                    return same;
                };
                const bool ok = co_await workers->run(std::move(job));
                resumed += ok ? 1 : 0;
            },
            asio::detached);
    }
    io.poll();  // starts the coroutines, which hand their jobs to the worker
    workers.reset();
    EXPECT_EQ(done.load(), 4);
    EXPECT_EQ(resumed, 0);  // nothing resumed on a worker thread
    io.run();
    EXPECT_EQ(resumed, 4);
}

}  // namespace
}  // namespace sg::proxy
