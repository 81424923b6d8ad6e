// Pauses that expire and are visible (issue 22). Every pause — PAUSE, PAUSE BUCKETS, the
// rebalancer's switch — is held under a lease: whoever paused must resume (or pause again,
// which renews) within it, or the proxy lifts the pause itself. For a bucket switch that means
// the old owner keeps serving, as when a switch aborts; a statement held by a pause therefore
// waits at most the lease. HeldClients records who is held and since when, for SHOW CLIENTS,
// SHOW POOLS' cl_waiting and /metrics.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "proxy/net.h"

namespace sg::proxy {

struct LeaseInfo {
    bool active = false;
    std::string owner;  // who paused: "admin client 1003 (127.0.0.1:41000)"
    net::Clock::time_point since{}, expires{};
};

class PauseLease {
public:
    // `what` names the pause in the log ("PAUSE", "PAUSE BUCKETS").
    PauseLease(net::asio::any_io_executor ex, std::string what);
    ~PauseLease();
    PauseLease(const PauseLease&) = delete;
    PauseLease& operator=(const PauseLease&) = delete;

    // Starts or renews the lease: unless end() or grant() comes within `ttl`, `lift` runs (on
    // the event loop) and the lease ends.
    void grant(std::string owner, std::chrono::milliseconds ttl, std::function<void()> lift);
    // The pause was resumed by its owner.
    void end();
    const LeaseInfo& info() const { return info_; }
    // Milliseconds until the lease runs out (0 when it is not active).
    int64_t remaining_ms() const;

private:
    net::asio::steady_timer timer_;
    std::string what_;
    LeaseInfo info_;
    uint64_t generation_ = 0;
    std::function<void()> lift_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// Clients a pause holds, by the process id the proxy gave them.
class HeldClients {
public:
    struct Held {
        net::Clock::time_point since;
        std::string user;
        std::vector<uint16_t> shards;  // where the held statement goes (empty: not known)
    };
    // Marks `pid` held for as long as the mark lives (RAII: a client that disconnects while
    // held is unmarked as its coroutine unwinds).
    class Mark {
    public:
        Mark(HeldClients& owner, int32_t pid) : owner_(&owner), pid_(pid) {}
        Mark(Mark&& o) noexcept : owner_(std::exchange(o.owner_, nullptr)), pid_(o.pid_) {}
        Mark& operator=(Mark&&) = delete;
        ~Mark() {
            if (owner_) owner_->held_.erase(pid_);
        }

    private:
        HeldClients* owner_;
        int32_t pid_;
    };
    [[nodiscard]] Mark hold(int32_t pid, std::string user, std::vector<uint16_t> shards);
    const Held* find(int32_t pid) const;
    size_t size() const { return held_.size(); }
    // Held clients whose statement goes to `shard` as `user` (for a pool's cl_waiting).
    int count_for(uint16_t shard, const std::string& user) const;
    // Held clients whose statement's shard is not known (held before routing).
    int count_unrouted() const;
    // When the longest-held client started waiting (now when none is held).
    net::Clock::time_point oldest() const;

private:
    std::unordered_map<int32_t, Held> held_;
};

}  // namespace sg::proxy
