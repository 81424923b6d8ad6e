// Server connection pools, one per (shard, user). acquire() hands out a connection for
// exclusive use; release() takes it back only when it is clean (no transaction open, no replies
// owed, socket healthy) and closes it otherwise — a connection in a bad state is never handed to
// another client. Sessions release what they hold on every exit path (Session::run's end, and
// ~Session for a coroutine destroyed before it).
#pragma once

#include <deque>
#include <list>
#include <memory>
#include <string>
#include <variant>

#include "proxy/server_conn.h"

namespace sg::proxy::health {
struct ShardHealth;
}

namespace sg::proxy {

struct PoolStats {
    uint64_t checkouts = 0;
    uint64_t waits = 0;
    uint64_t timeouts = 0;
    uint64_t connect_failures = 0;
    uint64_t check_failures = 0;   // idle connections that failed the server_check_delay check
    uint64_t lifetime_closes = 0;  // closed for being older than server_lifetime_s
    double wait_seconds = 0;
};

// The health side of a pool (see proxy/health): the shard's breaker, and the checks on idle
// and old connections.
struct PoolChecks {
    health::ShardHealth* health = nullptr;  // null: no breaker (tests, tools)
    int check_delay_ms = 0;                 // check idle connections unused this long; 0 = never
    int check_timeout_ms = 1000;
    int lifetime_s = 0;  // close connections this old when released; 0 = never
};

struct PoolError {
    std::string sqlstate;  // 53300 (no connection in time) or 08006 (cannot reach the shard)
    std::string message;
};

class Pool {
public:
    Pool(net::asio::any_io_executor ex, ServerTarget target, int size, int timeout_ms);
    ~Pool();

    // A connection for exclusive use, waiting up to the pool timeout when all are busy.
    awaitable<std::variant<std::shared_ptr<ServerConn>, PoolError>> acquire();
    // acquire()'s common case, without suspending: the most recently used idle connection, or
    // nullptr when there is none (acquire() then opens one or waits).
    std::shared_ptr<ServerConn> take_idle();
    // Returns a connection (closing it unless it is clean).
    void release(std::shared_ptr<ServerConn> s);

    // Closes idle connections unused for longer than `idle`.
    void close_idle(std::chrono::seconds idle);
    void close_all(const std::string& why);
    // RECONNECT: idle connections close now, the others when given back.
    void reconnect();
    void resize(int size, int timeout_ms) {
        size_ = size;
        timeout_ms_ = timeout_ms;
    }
    void set_checks(const PoolChecks& c) { checks_ = c; }
    // Fails every connection (those logging in too) with `sqlstate`/`why` told to their owners,
    // and wakes the waiters (an opened breaker: nobody may keep waiting on a frozen shard).
    void fail_all(const std::string& sqlstate, const std::string& why);
    // Closes idle connections older than `lifetime`.
    void close_expired(std::chrono::seconds lifetime);
    // The shard moved (RELOAD of host/port): new connections go to the new address, idle ones
    // are closed, busy ones are closed when given back.
    void retarget(const std::string& host, uint16_t port);

    const ServerTarget& target() const { return target_; }
    int size() const { return size_; }
    int total() const { return total_; }
    int idle_count() const { return static_cast<int>(idle_.size()); }
    int active_count() const { return total_ - idle_count() - connecting_; }
    int waiting() const { return static_cast<int>(waiters_.size()); }
    const PoolStats& stats() const { return stats_; }
    // Every live connection (for SHOW SERVERS).
    const std::list<std::weak_ptr<ServerConn>>& all() const { return all_; }
    // ParameterStatus values from the last login (sent to clients at their login).
    const std::map<std::string, std::string>& server_parameters() const { return params_; }

private:
    struct Waiter {
        explicit Waiter(net::asio::any_io_executor ex) : ready(ex) {}
        net::Event ready;
        std::shared_ptr<ServerConn> handed;
    };

    awaitable<std::variant<std::shared_ptr<ServerConn>, PoolError>> open_new();
    void forget(ServerConn& s);
    bool refused() const;
    PoolError refusal() const;

    net::asio::any_io_executor ex_;
    ServerTarget target_;
    int size_;
    int timeout_ms_;
    int total_ = 0;
    int connecting_ = 0;
    uint64_t reconnect_below_ = 0;  // connections with a smaller id close when given back
    std::deque<std::shared_ptr<ServerConn>> idle_;
    std::deque<Waiter*> waiters_;
    std::list<std::weak_ptr<ServerConn>> all_;
    std::map<std::string, std::string> params_;
    std::vector<ServerConn*> opening_;  // logging in (owned by their open_new frames)
    PoolChecks checks_;
    uint32_t epoch_ = 0;  // bumped by retarget(); a connection of an older one is not reused
    PoolStats stats_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace sg::proxy
