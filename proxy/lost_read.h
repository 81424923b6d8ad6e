// A read that may go once to another endpoint when its connection is lost before any byte of
// its answer reached the client (session_read_retry.cpp): the read_from its server was attached
// for, and, once sent, what the retry needs to know.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/replica_config.h"

namespace sg::proxy {

class ServerConn;

struct LostRead {
    std::optional<ReadFrom> attached;  // set by the attach, consumed by arm_lost_read()
    std::optional<ReadFrom> mode;      // armed
    ServerConn* server = nullptr;      // the connection it was sent on (compared, never used)
    int endpoint = -1;                 // its endpoint (-1 the primary)
    uint64_t relayed_at = 0;           // relayed_total_ when it was sent
    bool lost = false;                 // on_lost took it: no byte reached the client
    std::string why, held;             // the loss, and what the shard sent (ServerConn::take_held)
};

}  // namespace sg::proxy
