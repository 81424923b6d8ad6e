// The server connections a client's multi-shard statement runs on, so that a CancelRequest
// cancels every leg of it (and not only a single-shard statement's one connection).
//
// The fan-out code (ShardSet) and the session do not know each other: the session arms its
// FanoutLegs right before it starts a fan-out, and the fan-out's ShardSet takes it when it is
// constructed, which happens before the fan-out's first suspension, so no other fan-out can
// take it meanwhile (each thread has its own slot).
#pragma once

#include <memory>
#include <vector>

#include "proxy/net.h"

namespace sg::proxy {

class ServerConn;

class FanoutLegs {
public:
    static void arm(FanoutLegs& legs);
    // The armed legs (null when none), disarmed.
    static FanoutLegs* take_armed();
    // Disarms `legs` when no fan-out took them.
    static void disarm(FanoutLegs& legs);

    void add(const std::shared_ptr<ServerConn>& s) { legs_.push_back(s); }
    void clear() { legs_.clear(); }
    bool empty() const { return legs_.empty(); }
    // The legs whose connections are still alive.
    std::vector<std::shared_ptr<ServerConn>> alive() const {
        std::vector<std::shared_ptr<ServerConn>> out;
        for (const auto& w : legs_)
            if (auto s = w.lock()) out.push_back(std::move(s));
        return out;
    }
    // Sends a CancelRequest to every leg still owing replies.
    void cancel_all(net::asio::any_io_executor ex) const;

private:
    std::vector<std::weak_ptr<ServerConn>> legs_;
};

}  // namespace sg::proxy
