// Result sets of the admin console's statistics commands. The console encodes a Table as
// RowDescription (all columns text), DataRows and CommandComplete; times are milliseconds
// with three decimals, so psql output and `shardgate report` read the same figures.
//
//   SHOW QUERIES [ORDER BY total|total_with_held|held|mean|p99|calls|errors] [LIMIT n]
//                      (descending; default total, which leaves out time held by a pause)
//   SHOW SLOW          recent slow statements, newest first
//   SHOW NPLUSONE      N+1 findings, most time first
//   SHOW STATS         totals per (database, user) and per shard
//   RESET QUERIES
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/stats/proxy_metrics.h"
#include "proxy/stats/query_stats.h"
#include "router/result.h"

namespace sg::stats {

struct Table {
    std::vector<std::string> columns;
    std::vector<std::vector<std::string>> rows;
    std::string command_tag;  // empty: "SHOW <rows>"
};

// Total: time without pause-held time (the statement's own cost); TotalWithHeld: with it.
enum class QueryOrder { Total, TotalWithHeld, Held, Mean, P99, Calls, Errors };

struct QueriesRequest {
    QueryOrder order = QueryOrder::Total;
    std::optional<size_t> limit;
};

// Parses what follows "SHOW QUERIES" (case-insensitive, optional trailing ';'). The error
// says what is accepted, for a 42601 ErrorResponse.
router::Expected<QueriesRequest, std::string> parse_show_queries(std::string_view tail);

// The "other" rows (fingerprint "other") take part in the order and the limit like any group,
// so the full result always adds up to the totals.
Table show_queries(const QueryStats& stats, const QueriesRequest& request);
Table show_slow(const QueryStats& stats);
Table show_nplusone(const QueryStats& stats);
Table show_stats(const QueryStats& stats, std::span<const ShardTotals> shards);
// Clears the per-statement figures; the tag is "RESET".
Table reset_queries(QueryStats& stats);

// Milliseconds with three decimals ("12.345").
std::string format_ms(double ns);

}  // namespace sg::stats
