// The shards of a session's transaction other than the one its current statement runs on:
// their server connections, taken out of the pool when the transaction first needed them and
// parked (detached, transaction open) until COMMIT or ROLLBACK ends it on every one.
#pragma once

#include <memory>
#include <vector>

#include "proxy/server_conn.h"

namespace sg::proxy {
class Pool;
}

namespace sg::proxy::txn {

struct HeldMember {
    std::shared_ptr<ServerConn> conn;
    Pool* pool = nullptr;
};

struct HeldTransaction {
    HeldTransaction() = default;
    HeldTransaction(const HeldTransaction&) = delete;
    HeldTransaction& operator=(const HeldTransaction&) = delete;
    ~HeldTransaction();  // closes what is still parked (see session_txn.cpp)
    std::vector<HeldMember> parked;
    // When the transaction first spanned a second shard: its age for the deadlock detector,
    // which breaks a deadlock by cancelling the youngest transaction in it.
    net::Clock::time_point since = net::Clock::now();
    // A statement failed where the proxy answered itself (no shard connection for it): the
    // transaction only accepts its end, as PostgreSQL's failed transaction does.
    bool failed = false;
};

}  // namespace sg::proxy::txn
