// What the detector of deadlocks across shards (txn/deadlock_detector.h) needs to know of a
// session: the backends of its transaction when that transaction spans shards.
#include <algorithm>

#include "proxy/session.h"
#include "proxy/shard_request.h"
#include "proxy/txn/held.h"

namespace sg::proxy {

std::optional<Session::SpanningTransaction> Session::spanning_transaction() const {
    if (!held_) return std::nullopt;  // created when the transaction joins a second shard
    SpanningTransaction t;
    t.since = held_->since;
    auto add = [&](const std::shared_ptr<ServerConn>& c) {
        if (c && c->usable() && std::find(t.conns.begin(), t.conns.end(), c) == t.conns.end())
            t.conns.push_back(c);
    };
    add(server_);
    for (const auto& m : held_->parked) add(m.conn);
    for (const auto& c : fanout_legs_.alive()) add(c);
    int first = -1;
    bool several = false;
    for (const auto& c : t.conns) {
        if (first < 0)
            first = c->target().shard;
        else if (c->target().shard != first)
            several = true;
    }
    if (!several) return std::nullopt;
    return t;
}

}  // namespace sg::proxy

namespace sg::proxy {

// PostgreSQL releases a deadlock victim's locks when the victim's statement fails, not at its
// ROLLBACK: the error aborts the transaction (or, after a SAVEPOINT, the subtransaction) at
// once. The cancel fails the victim's statement on the shard where it waited; its parked
// participants still hold their locks, and the cycle would only be broken once the client
// rolls back. A statement that fails on each of them aborts the same (sub)transaction there,
// so every shard releases the same locks PostgreSQL would, and the transaction is failed
// everywhere: the client's ROLLBACK or ROLLBACK TO SAVEPOINT then ends or resumes it on every
// participant, as after any failed statement. Only idle parked connections are touched (the
// session writes to them only once the running statement ended); the write is one small
// message taken whole by the socket, else the connection is closed, which also releases the
// locks (and fails the transaction).
int Session::abort_parked_participants() {
    if (!held_) return 0;
    int n = 0;
    for (auto& m : held_->parked) {
        const auto& c = m.conn;
        if (!c || !c->usable() || c->sink() || c->outstanding() > 0 || c->tx_status() != 'T')
            continue;
        std::string out;
        ShardRequest(out, *c).quiet_query(
            "SELECT 'shardgate: this transaction was chosen to break a deadlock "
            "across shards'::int");
        if (c->write_now(out) < out.size())
            c->close("failing a deadlock victim's participant: the write did not go out at once");
        ++n;
    }
    return n;
}

}  // namespace sg::proxy
