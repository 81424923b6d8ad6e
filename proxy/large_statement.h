// What the proxy reads out of a large simple-protocol statement before routing it, computed on
// an analysis worker (proxy/analysis_workers.h) instead of the event loop (issue 21): one
// client's 60 MB INSERT must not stall the other clients for the seconds its parse takes.
//
// Pure functions of (text, catalog): no I/O, no shared state, safe on any thread. The session
// (proxy/session_large_query.cpp) hands them owned copies and applies the results on its loop,
// where the caches, statistics and the shard map stay. Each result equals what the inline path
// computes from the same text (tests/unit/test_large_statement.cpp checks it).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/fanout.h"
#include "proxy/session_state.h"
#include "proxy/stats/shape_cache.h"
#include "router/analyzer.h"
#include "router/catalog.h"
#include "router/literals.h"
#include "router/router.h"

namespace sg::proxy {

// The first pass over a large text: everything handle_query reads from the text before it
// routes, in one trip to a worker.
struct LargeTextFacts {
    SessionStateUse state_use;    // session_state_use(sql)
    bool calls_function = false;  // may_call_function(sql)
    uint64_t text_hash = 0;       // stats::text_hash(sql)
    bool shaped = false;          // router::extract_literals(sql, shape) succeeded
    router::LiteralShape shape;
    // analyze(shape.text) when shaped: the shape's analysis the inline path finds in (or puts
    // into) the statement cache. A large text's shape is not cached: its key would be large.
    std::shared_ptr<const router::Analysis> shape_analysis;
};

LargeTextFacts study_large_text(std::string_view sql, const router::TableCatalog& catalog);

// analyze(sql): the analysis of the whole text, when its shape does not route to one shard.
std::shared_ptr<const router::Analysis> analyze_large_text(std::string_view sql,
                                                           const router::TableCatalog& catalog);

// The statistics' shape of `text` (stats::make_shape: libpg_query's fingerprint and
// normalization, two more passes over the text).
std::shared_ptr<const stats::Shape> large_stats_shape(std::string_view text);

// A large text's statistics' shape, as the session keeps it for the statement it is handling:
// the text is identified by address and size, never read again (it may be gone).
struct LargeStatsShape {
    const char* data = nullptr;
    size_t size = 0;
    std::shared_ptr<const stats::Shape> shape;
};

// The statement each shard of a multi-shard route runs (the inline path's too): the INSERT's rows
// for that shard (router::render_insert_subset), the merge plan's shard text, or the text itself.
std::vector<ShardQuery> shard_queries(const router::Analysis& a, std::string_view sql,
                                      const router::Route& r, const std::vector<int>& read_legs);

// A simple Query message holding `sql` with `list` (e.g. "(a, b) ") inserted at byte `at`: the
// INSERT given its column list (proxy/session_columns.cpp), built in one copy of the text.
std::string query_with_inserted_text(std::string_view sql, uint32_t at, std::string_view list);

}  // namespace sg::proxy
