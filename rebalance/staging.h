// Staging tables on a target: the moving rows of one source, tagged with their bucket, kept
// out of every application query (which only names the real table) until their switch.
#pragma once

#include "rebalance/context.h"
#include "rebalance/pgoutput.h"

namespace sg::rebalance {

// Creates (if missing) every staging table of `ctx` on every target, with the real table's
// columns, primary key and indexes, plus `shardgate_bucket`. `reset` empties them first (a
// fresh copy must not meet rows from an interrupted one).
Status prepare_staging(SourceContext& ctx, bool reset);

// Drops the staging tables of `ctx` on every target (idempotent).
Status drop_staging(SourceContext& ctx);

// Applies replicated changes to staging: upsert of a full row, update of a row with unchanged
// TOASTed columns, delete by primary key. Values are text (nullopt = NULL), in TableInfo
// column order.
class StagingWriter {
public:
    explicit StagingWriter(SourceContext& ctx) : ctx_(ctx) {}

    Status upsert(size_t target, size_t table, const Tuple& row, int64_t bucket);
    Status remove(size_t target, size_t table, const Tuple& row);
    Status truncate(size_t table);

private:
    Status prepare(size_t target, size_t table);
    std::vector<std::vector<bool>> prepared_;  // [target][table]
    SourceContext& ctx_;
};

}  // namespace sg::rebalance
