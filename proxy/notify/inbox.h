// A client session's side of LISTEN/NOTIFY in transaction pooling: its subscription to the
// NotifyService (RAII: destroying the inbox unlistens everything, as a disconnect does in
// PostgreSQL) and the queue of notifications waiting to be written to its client, which the
// session flushes between transactions (proxy/session_listen.cpp).
//
// The queue is bounded: past kMaxQueued notifications (a client that does not read, or sits
// in a long transaction) further ones are dropped, logged and counted
// (shardgate_notify_dropped_total). PostgreSQL's own limit is its shared queue (8 GB), where
// a NOTIFY fails once it is full; the proxy cannot fail the notifier's transaction, which
// committed on the shard already, so it drops for the slow listener only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>

#include "proxy/notify/listen_txn.h"
#include "proxy/notify/service.h"
#include "proxy/transaction_observer.h"

namespace sg::proxy::notify {

// The queue alone (no I/O, no service), for tests.
class NotificationQueue {
public:
    explicit NotificationQueue(size_t cap) : cap_(cap) {}
    // False (nothing kept) when the queue is full.
    bool push(std::string_view frame);
    // Every queued frame, in arrival order, as one buffer; the queue is empty afterwards.
    std::string take_all();
    bool empty() const { return frames_.empty(); }
    size_t size() const { return frames_.size(); }
    // Drops the queued frames `drop(frame)` is true for.
    template <class Pred>
    void remove_if(Pred drop) {
        std::erase_if(frames_, [&](const std::string& f) { return drop(std::string_view(f)); });
    }

private:
    size_t cap_;
    std::deque<std::string> frames_;
};

// Also the observer of its client's transaction (TransactionObserver): LISTEN / UNLISTEN
// inside a transaction block take effect at COMMIT (listen_txn.h); only notifications on a
// channel the client listens on are queued, and those queued for a channel it no longer
// listens on when its transaction ends are dropped (PostgreSQL checks at delivery).
class Inbox : public Subscriber, public TransactionObserver {
public:
    static constexpr size_t kMaxQueued = 10000;
    // `wake` is called when a notification was queued (the session flushes when it may).
    Inbox(NotifyService& service, std::string key, SubscriberId id, std::string client,
          std::function<void()> wake);
    ~Inbox() override;
    Inbox(const Inbox&) = delete;
    Inbox& operator=(const Inbox&) = delete;

    void deliver_notification(std::string_view frame) override;
    bool empty() const { return queue_.empty(); }
    std::string take_all() { return queue_.take_all(); }
    const std::string& key() const { return key_; }
    SubscriberId id() const { return id_; }
    ListenTransaction& channels() { return txn_; }

    void rolled_back_to(size_t depth) override { txn_.rolled_back_to(depth); }
    void released(size_t depth) override { txn_.released(depth); }
    void ended(bool committed) override;

private:
    NotifyService& service_;
    std::string key_;
    SubscriberId id_;
    std::string client_;  // how logs name the client
    std::function<void()> wake_;
    NotificationQueue queue_{kMaxQueued};
    bool dropping_ = false;  // logs once per run of drops
    ListenTransaction txn_;
};

}  // namespace sg::proxy::notify
