// A request sent to a shard whose ReadyForQuery has not come back yet: what the statistics
// record for it when it completes. The session keeps these in a ring whose slots (and their
// strings' buffers) are reused, so recording allocates nothing in steady state.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sg::stats {
struct Shape;
}

namespace sg::proxy {

struct InflightRequest {
    std::string text;                           // literal-free shape or exact text
    std::shared_ptr<const stats::Shape> shape;  // text's shape, computed off the loop (large text)
    uint64_t param_hash = 0;
    std::vector<std::string> params;  // only with [stats] log_parameters
    int64_t start_ns = 0, sent_ns = 0, pool_wait_ns = 0, held_ns = 0;
    uint64_t bytes_in = 0;
    int shard = -1;
    bool in_transaction = false;
    std::string sqlstate;
};

}  // namespace sg::proxy
