// What routing an extended-protocol batch (Parse/Bind/Describe/Execute up to Sync or Flush)
// decided: Session::route_batch returns one, Session::flush_batch carries it out. Each case
// holds what carrying it out needs, so no decision travels through session members.
// No I/O here.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "router/router.h"

namespace sg::proxy::batch_plan {

// The whole batch goes to one shard.
struct OneShard {
    int shard = -1;
    bool writes = false;  // some Bind of the batch is not a replica-safe read (or is unknown)
};

// The client was answered already (a refusal, with its ErrorResponse): nothing more to do.
struct Reported {};

// The Binds target several shards: the batch runs as consecutive per-shard pieces.
// `bind_shards`: each Bind's shard, in batch order. A view into the session's reused buffer
// (Session::bind_shards_), valid until the next batch is routed: owning a vector here would
// allocate for every batch, since route_batch fills it as it reads the Binds.
struct SplitByShard {
    std::span<const int> bind_shards;
    bool writes = false;  // as OneShard::writes
};

// The batch's one statement runs on several shards (ascending), replies relayed together.
struct FanOut {
    std::vector<uint16_t> shards;
};

// The batch's one multi-row INSERT, split by shard: each shard gets an INSERT of its rows with
// the parameters renumbered.
struct InsertSplit {
    std::shared_ptr<const router::Analysis> analysis;
    std::string bind_body;  // the client's Bind (a copy: the batch buffer is reused)
    std::vector<router::ShardRows> parts;
};

// The batch's one SELECT on several shards, combined by the proxy (its Analysis::merge plan).
struct Merged {
    std::shared_ptr<const router::Analysis> analysis;
    std::vector<uint16_t> shards;
};

}  // namespace sg::proxy::batch_plan

namespace sg::proxy {

using BatchPlan = std::variant<batch_plan::OneShard, batch_plan::Reported, batch_plan::SplitByShard,
                               batch_plan::FanOut, batch_plan::InsertSplit, batch_plan::Merged>;

}  // namespace sg::proxy
