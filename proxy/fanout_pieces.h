// An extended-protocol batch's pieces (consecutive messages for one shard, see fanout.h's
// BatchPiece) pipelined over the connections of a ShardSet: each shard gets all of its pieces
// in one write, each piece ended by a Sync of the proxy's, and the replies are put back in the
// batch's order. Used outside a transaction (run_pieces_atomic: the shards' parts inside
// transactions committed as one at the client's Sync) and inside one (run_pieces_held: on the
// transaction's participants). Internal to proxy/fanout.cpp and proxy/fanout_held.cpp.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "proxy/fanout_shard_set.h"

namespace sg::proxy::fanout_detail {

struct PiecesOutcome {
    // Every piece's replies in batch order up to and including the first failed one, without
    // a ReadyForQuery (the caller ends the batch).
    std::string reply;
    bool failed = false;      // a piece got an error, or its shard's connection broke
    std::vector<bool> wrote;  // per ShardSet index: some piece there may have written
};

// `prelude(server, out)` adds what goes before a shard's first piece (settings, BEGIN).
net::awaitable<PiecesOutcome> pipeline_pieces(
    ShardSet& set, const std::vector<BatchPiece>& pieces,
    const std::function<std::string(size_t, ServerConn&)>& build,
    const std::function<void(ServerConn&, std::string&)>& prelude);

}  // namespace sg::proxy::fanout_detail
