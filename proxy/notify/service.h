// LISTEN/NOTIFY in transaction pooling: the proxy-wide service that client sessions subscribe
// through. Per configured user (`login` below: the user whose server login each shard's
// listener logs in as, to the shard's database) a group keeps a NotifyHub (who listens on
// what) and one ShardListener per shard; each NotificationResponse a listener receives is handed to
// every session subscribed to its channel (Subscriber::deliver_notification), which queues it
// and writes it to its client between transactions (proxy/session_listen.cpp).
//
// A NOTIFY runs on whichever shard the notifying transaction runs on (the default shard for a
// NOTIFY outside a transaction, the transaction's shard inside one), so every shard is
// listened on. A notification sent while a shard's listener is reconnecting is lost, as
// README "What transaction pooling carries" says.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "proxy/net.h"
#include "proxy/notify/hub.h"
#include "proxy/notify/listener.h"
#include "proxy/server_conn.h"

namespace sg::proxy::notify {

class Subscriber {
public:
    virtual ~Subscriber() = default;
    // One whole NotificationResponse frame for this subscriber's client.
    virtual void deliver_notification(std::string_view frame) = 0;
};

struct NotifyCounters {
    uint64_t received = 0;         // NotificationResponse messages the listeners got
    uint64_t delivered = 0;        // queued for a client (one per subscriber)
    uint64_t dropped = 0;          // not queued: the client's queue was full (counted by sessions)
    uint64_t listener_losses = 0;  // listener connections lost (or refused) and reconnected
    uint64_t listens_failed = 0;   // client LISTENs answered with an error
};

struct ListenFailure {
    std::string sqlstate;
    std::string message;
};

class NotifyService {
public:
    // `targets(shard, login)`: where and how the listener of `shard` logs in for that user (the
    // target of the user's pool: after a failover, the new primary). Called at each connection.
    using TargetsFn =
        std::function<std::optional<ServerTarget>(int shard, const std::string& login)>;
    NotifyService(net::asio::any_io_executor ex, int shards, TargetsFn targets);
    ~NotifyService();
    NotifyService(const NotifyService&) = delete;
    NotifyService& operator=(const NotifyService&) = delete;

    // Subscribes `sub` to `channel` for user `login` and waits until every shard's
    // listener is confirmed to LISTEN on it, at most `timeout`; on failure the subscription
    // is undone and the failure says which shard and why (08006).
    net::awaitable<std::optional<ListenFailure>> listen(const std::string& login, SubscriberId id,
                                                        Subscriber* sub, const std::string& channel,
                                                        std::chrono::milliseconds timeout);
    void unlisten(const std::string& login, SubscriberId id, const std::string& channel);
    void unlisten_all(const std::string& login, SubscriberId id);
    // Whether `id` listens on anything (for the session's fast path).
    bool listening(const std::string& login, SubscriberId id) const;

    void stop();
    NotifyCounters& counters() { return counters_; }
    const NotifyCounters& counters() const { return counters_; }
    // Gauges for /metrics and SHOW: channels listened on (over all logins), listener
    // connections logged in.
    size_t channels() const;
    size_t listeners_connected() const;
    // The listener connections' backend pids of `login` (tests and SHOW), -1 when down.
    std::vector<int32_t> listener_pids(const std::string& login) const;

private:
    struct Group {
        explicit Group(int shards) : hub(shards) {}
        NotifyHub hub;
        std::vector<std::shared_ptr<ShardListener>> listeners;
        std::map<SubscriberId, Subscriber*> subscribers;
        // The timers of the LISTENs waiting for confirmation: any change wakes them all.
        std::vector<net::asio::steady_timer*> waiters;
        void changed() {
            for (auto* t : waiters) t->cancel();
        }
    };
    Group& group(const std::string& login);
    void pump(Group& g, int shard);
    void pump_all(Group& g);
    void on_notification(Group& g, std::string_view frame);

    net::asio::any_io_executor ex_;
    int shards_;
    TargetsFn targets_;
    std::map<std::string, std::unique_ptr<Group>> groups_;
    NotifyCounters counters_;
    bool stopped_ = false;
};

}  // namespace sg::proxy::notify
