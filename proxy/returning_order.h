// Multi-row INSERT ... RETURNING split over shards: each shard returns the rows of its own part
// of the VALUES list, in that part's order, and run_fanout concatenates them shard by shard.
// One PostgreSQL returns them in VALUES order, and ORMs match returned ids to their objects by
// position, so the rows are put back in VALUES order.
#pragma once

#include <string>
#include <vector>

#include "router/router.h"

namespace sg::proxy {

// `reply`: the merged reply of the parts in `parts` order (DataRows of part 0, then part 1 ...).
// Returns it with the DataRows in VALUES order; unchanged when the row count is not one per
// VALUES row (an error reply, or a statement that returned fewer rows).
std::string returning_in_values_order(const std::string& reply,
                                      const std::vector<router::ShardRows>& parts);

}  // namespace sg::proxy
