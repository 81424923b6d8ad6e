// The state shared by the copy, the catch-up stream and the switches of one source shard.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/config.h"
#include "rebalance/journal.h"
#include "rebalance/pg.h"
#include "rebalance/tables.h"

namespace sg::rebalance {

struct TargetConn {
    std::string shard;
    Endpoint endpoint;
    Conn conn;
    // Whether this source brings the reference tables to this target (journal.h,
    // ReferenceCopy): Planned -> copy them with the buckets, Copied -> apply the stream's
    // reference changes to the target's real tables.
    ReferenceCopy reference = ReferenceCopy::None;
};

struct SourceContext {
    std::string source;  // shard name
    Endpoint source_endpoint;
    std::vector<TableInfo> tables;
    int bucket_bits = 12;
    // bucket -> index into `targets` while the bucket is moving (copied or streaming but not
    // yet switched); -1 otherwise. Only moving buckets are written to staging.
    std::vector<int> target_of_bucket;
    std::vector<TargetConn> targets;
    std::vector<std::string> staging;  // per table: staging table name (same on every target)
    // The reference tables, when this source brings them to some target; empty otherwise.
    std::vector<TableInfo> reference;

    // The bucket of a row whose shard-key field is `key` (nullopt = NULL), exactly as the
    // router computes it; -1 when the text is not a valid key (never for rows PostgreSQL
    // stored, since the column type accepted it).
    int64_t bucket_of(const TableInfo& t, const std::optional<std::string_view>& key) const;
    int moving_target(const TableInfo& t, const std::optional<std::string_view>& key) const;
    // "schema"."shardgate_staging_<table>_<source>" quoted for `c`.
    std::string staging_ident(PGconn* c, size_t table) const;
};

}  // namespace sg::rebalance
