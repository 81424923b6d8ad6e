// Size estimates for `rebalance plan`: rows and bytes per move, from each source's catalog
// statistics (pg_class.reltuples, table size) scaled by the fraction of its buckets that move.
// Buckets hold equal shares of a table's rows in expectation, since the hash is uniform.
#pragma once

#include <vector>

#include "common/config.h"
#include "rebalance/pg.h"
#include "rebalance/planner.h"

namespace sg::rebalance {

struct MoveEstimate {
    double rows = 0;
    double bytes = 0;
};

// One estimate per plan.moves entry. `exact` counts rows with count(*) instead of reltuples.
Expected<std::vector<MoveEstimate>> estimate_moves(const Config& cfg, const Plan& plan, bool exact);

}  // namespace sg::rebalance
