// The shards taking part in one atomic unit of work, seen by the commit protocol: each holds an
// open transaction (BEGIN sent, the client's statements run) on a server connection of its own.
// The protocol only needs to send one simple query to some of them at once and learn how each
// answered, so the connections' owner (a fan-out's ShardSet, a session) implements this.
#pragma once

#include <string>
#include <vector>

#include "proxy/net.h"

namespace sg::proxy::txn {

// How one participant answered one simple query.
struct StepOutcome {
    bool ok = false;
    bool lost = false;     // the connection broke: the outcome on that shard is unknown
    std::string sqlstate;  // of the first ErrorResponse
    std::string message;
};

class Participants {
public:
    virtual ~Participants() = default;
    virtual size_t count() const = 0;
    // The shard (config index) of participant i.
    virtual int shard(size_t i) const = 0;
    virtual std::string shard_name(size_t i) const = 0;
    // Sends sql[i] to every participant whose entry is not empty, all at once, and returns once
    // each has answered (or broke). Entries left empty are reported ok without a round trip.
    virtual net::awaitable<std::vector<StepOutcome>> step(const std::vector<std::string>& sql) = 0;
};

}  // namespace sg::proxy::txn
