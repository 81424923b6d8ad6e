// Breaks deadlocks that span shards (see wait_graph.h for why no PostgreSQL can).
//
// On the event loop, every tick (a quarter of [transactions] deadlock_timeout_ms, at most
// 250 ms) it looks at the sessions whose transaction spans shards: when a statement of one has
// waited for its shard longer than deadlock_timeout_ms, it hands a search to its own thread,
// which reads the lock waits (pg_locks, pg_blocking_pids) of the shards those transactions are
// on, over libpq connections of its own (bounded: connect and statement timeouts), and joins
// them into one wait-for graph. A deadlock found is acted on only when the next search finds
// the same victim, waiting since the same moment: the shards' readings are not one snapshot,
// and a real deadlock does not go away by itself. The victim, the youngest of this proxy's
// transactions in the cycle, has its waiting statement cancelled; the client gets 40P01 (see
// ServerConn::mark_deadlock_victim) and its transaction fails as in PostgreSQL (25P02 until
// ROLLBACK), which releases its locks on every shard and lets the others go on.
//
// Cost: nothing on the data path; one pass over the sessions per tick; searches only while a
// statement of a transaction spanning shards has waited past the bound.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <tuple>
#include <vector>

#include "proxy/net.h"
#include "proxy/server_conn.h"
#include "proxy/txn/wait_graph.h"

namespace sg::proxy {
class Proxy;
}

namespace sg::proxy::txn {

class DeadlockDetector {
public:
    explicit DeadlockDetector(Proxy& proxy);
    ~DeadlockDetector();
    DeadlockDetector(const DeadlockDetector&) = delete;
    DeadlockDetector& operator=(const DeadlockDetector&) = delete;

private:
    struct Search {
        std::map<int, ServerTarget> shards;  // where to read lock waits (one login per shard)
        std::vector<TxnBackend> backends;
        std::vector<std::pair<uint64_t, int64_t>> started;  // txn -> since (ns)
    };
    net::awaitable<void> loop(std::shared_ptr<bool> alive);
    // A search to run now, when a spanning transaction's statement waited long enough.
    std::optional<Search> due() const;
    // On the event loop: the victims of a finished search.
    void found(std::vector<DeadlockVictim> victims, const Search& s);
    void cancel(const DeadlockVictim& v, const Search& s);
    void worker();

    Proxy& proxy_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
    bool searching_ = false;  // event loop only
    // Victims of the last search, (txn, since, shard, pid), waiting for confirmation.
    std::set<std::tuple<uint64_t, int64_t, int, int32_t>> suspected_;

    std::mutex mu_;
    std::condition_variable cv_;
    std::optional<Search> job_;
    bool stop_ = false;
    std::thread thread_;  // last: started once everything above exists
};

}  // namespace sg::proxy::txn
