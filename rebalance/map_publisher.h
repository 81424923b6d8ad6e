// How the rebalancer hands a new map version to the cluster's authoritative store besides the
// map file (etcd, issue 22). Empty for the file-based default.
#pragma once

#include <functional>

#include "common/sqlstate.h"
#include "router/result.h"
#include "router/shard_map.h"

namespace sg::rebalance {

// Publishes `next` before the map file is written; an error means it is not published (the
// switch is not decided and is rolled back), except an error with SQLSTATE kDecidedElsewhere
// (40003, statement_completion_unknown): it may be (or is) published, so the switch must not
// be rolled back; the run stops and its rerun settles the switch by what the store holds.
using MapPublisher = std::function<router::Status(const router::ShardMap& next)>;
inline constexpr const char* kDecidedElsewhere = sqlstate::kStatementCompletionUnknown;

}  // namespace sg::rebalance
