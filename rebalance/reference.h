// Reference tables for a target that owns no buckets yet. The proxy writes reference tables
// only on shards that own buckets, so until its first switch such a target gets them from the
// rebalancer alone:
//   1. copied from the source under the same exported snapshot as the buckets (after emptying
//      the target's copy: nothing else writes it while the target owns no buckets);
//   2. then every change of the source's stream applied to the target's real tables (upsert
//      or delete by primary key), up to the fence of the switch that gives the target its
//      first buckets. That switch holds reference writes on every proxy, so from its resume on
//      the proxies write the target themselves and the stream's reference changes are ignored.
#pragma once

#include "rebalance/context.h"
#include "rebalance/pgoutput.h"

namespace sg::rebalance {

// Copies every table of ctx.reference from `source` (inside the caller's snapshot
// transaction) into each target whose reference state is Planned or Copied: one transaction
// per target that empties the tables and COPYs them. Returns the rows copied per target.
Expected<uint64_t> copy_reference_tables(SourceContext& ctx, PGconn* source);

// Applies replicated changes of reference tables (index into ctx.reference; tuples in
// TableInfo column order) to every target whose reference state is Copied.
class ReferenceWriter {
public:
    explicit ReferenceWriter(SourceContext& ctx) : ctx_(ctx) {}

    Status upsert(size_t table, const Tuple& row);
    Status remove(size_t table, const Tuple& old);
    Status truncate(size_t table);
    // Whether any target still takes the stream's reference changes.
    bool active() const;

private:
    Status prepare(size_t target, size_t table);
    Status update_in_place(size_t target, size_t table, const Tuple& row);
    std::vector<std::vector<bool>> prepared_;  // [target][table]
    SourceContext& ctx_;
};

}  // namespace sg::rebalance
