// Staging tables on a target: the moving rows of one source, tagged with their bucket, kept
// out of every application query (which only names the real table) until their switch.
#pragma once

#include "rebalance/context.h"
#include "rebalance/pgoutput.h"

namespace sg::rebalance {

// Creates (if missing) every staging table of `ctx` on every target, with the real table's
// columns plus `shardgate_bucket`. `reset` recreates them empty and without indexes, for a
// fresh copy (which must not meet rows from an interrupted one); otherwise the tables are
// being resumed and get their indexes too.
Status prepare_staging(SourceContext& ctx, bool reset);

// Builds each staging table's primary key (the catch-up upserts by it) and its bucket index
// (switches select and delete by bucket), after the copy has bulk-loaded it. Idempotent.
Status index_staging(SourceContext& ctx);

// Drops the staging tables of `ctx` on every target (idempotent).
Status drop_staging(SourceContext& ctx);

// Applies replicated changes to staging: upsert of a full row, update of a row with unchanged
// TOASTed columns, delete by primary key. Values are text (nullopt = NULL), in TableInfo
// column order.
class StagingWriter {
public:
    explicit StagingWriter(SourceContext& ctx) : ctx_(ctx) {}

    // Changes run inside one open transaction per target (BEGIN on the first), so a busy
    // stream costs one commit per batch instead of one per row; commit() ends them. Nothing
    // applied is visible (to a switch, or durable for the slot's confirmed position) before.
    Status upsert(size_t target, size_t table, const Tuple& row, int64_t bucket);
    Status remove(size_t target, size_t table, const Tuple& row);
    Status truncate(size_t table);
    Status commit();
    bool in_transaction() const;

private:
    Status prepare(size_t target, size_t table);
    Status begin(size_t target);
    std::vector<std::vector<bool>> prepared_;  // [target][table]
    std::vector<bool> open_;                   // [target]: a transaction is open
    SourceContext& ctx_;
};

}  // namespace sg::rebalance
