// A client's LISTEN channels with PostgreSQL's transaction semantics (protocol logic, no I/O).
//
// In PostgreSQL a LISTEN or UNLISTEN issued inside a transaction block is answered at once
// but takes effect only when the transaction commits: ROLLBACK (also a COMMIT that fails, or a
// COMMIT of a failed transaction) drops it, and ROLLBACK TO SAVEPOINT drops those issued after
// the savepoint. At COMMIT the actions apply in the order they were issued.
//
// The proxy subscribes a channel LISTENed inside a transaction at once ("staged": its
// listening connections are set up then, so the COMMIT needs no I/O of its own and a NOTIFY in
// the same transaction reaches it). Its notifications are queued meanwhile (a client gets
// none inside a transaction anyway) and dropped if the transaction does not commit; after a
// COMMIT they are delivered, as PostgreSQL delivers, to a session already listening on some
// channel, the notifications committed during its transaction on a channel it LISTENed in it.
//
// Invariants: active() is what the client listens on as of its last committed state; every
// channel in active() or staged is subscribed at the NotifyService; end() returns exactly the
// subscribed channels the client no longer wants.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/notify/listen_statement.h"

namespace sg::proxy::notify {

class ListenTransaction {
public:
    using Channels = std::set<std::string, std::less<>>;

    const Channels& active() const { return active_; }

    // Outside a transaction block: in effect at once.
    void listened(const std::string& channel) { active_.insert(channel); }
    void unlistened(const std::string& channel) { active_.erase(channel); }
    void unlistened_all() { active_.clear(); }

    // Inside a transaction block. A LISTEN of a channel neither active nor staged must be
    // subscribed first (then subscribed(channel)); add() records the statement at savepoint
    // depth `depth`.
    bool needs_subscription(const std::string& channel) const;
    void subscribed(const std::string& channel) { staged_.insert(channel); }
    void add(const ListenStatement& st, size_t depth);
    // Whether anything waits for the transaction's end.
    bool pending() const { return !actions_.empty() || !staged_.empty(); }
    bool has_actions() const { return !actions_.empty(); }

    void rolled_back_to(size_t depth);
    void released(size_t depth);
    // The transaction ended (committed or not): the channels to unsubscribe at the service.
    std::vector<std::string> end(bool committed);

    // Whether a notification on `channel` is for the client now.
    bool accepts(std::string_view channel) const;

private:
    struct Action {
        ListenStatement st;
        size_t depth = 0;
    };
    Channels active_;
    Channels staged_;  // subscribed for a LISTEN of the open transaction, not active
    std::vector<Action> actions_;
};

// The channel a NotificationResponse frame ('A', length, pid, channel, payload) is on; empty
// when the frame is not one.
std::string_view notification_channel(std::string_view frame);

}  // namespace sg::proxy::notify
