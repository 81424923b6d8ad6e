#include "proxy/pause_lease.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace sg::proxy {

PauseLease::PauseLease(net::asio::any_io_executor ex, std::string what)
    : timer_(ex), what_(std::move(what)) {}

PauseLease::~PauseLease() { *alive_ = false; }

void PauseLease::grant(std::string owner, std::chrono::milliseconds ttl, std::function<void()> lift) {
    const auto now = net::Clock::now();
    if (!info_.active) info_.since = now;
    info_.active = true;
    info_.owner = std::move(owner);
    info_.expires = now + ttl;
    lift_ = std::move(lift);
    const uint64_t gen = ++generation_;
    timer_.expires_at(info_.expires);
    timer_.async_wait([this, gen, alive = std::weak_ptr<bool>(alive_)](net::error_code ec) {
        auto a = alive.lock();
        if (ec || !a || !*a || gen != generation_ || !info_.active) return;
        spdlog::warn("{} by {} was neither resumed nor renewed within its lease ({:.0f} s held): lifted", what_,
                     info_.owner, std::chrono::duration<double>(net::Clock::now() - info_.since).count());
        info_.active = false;
        auto lift = std::move(lift_);
        if (lift) lift();
    });
}

void PauseLease::end() {
    info_.active = false;
    ++generation_;
    lift_ = nullptr;
    timer_.cancel();
}

int64_t PauseLease::remaining_ms() const {
    if (!info_.active) return 0;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(info_.expires - net::Clock::now()).count();
    return std::max<int64_t>(0, left);
}

HeldClients::Mark HeldClients::hold(int32_t pid, std::string user, std::vector<uint16_t> shards) {
    held_[pid] = Held{net::Clock::now(), std::move(user), std::move(shards)};
    return Mark(*this, pid);
}

const HeldClients::Held* HeldClients::find(int32_t pid) const {
    auto it = held_.find(pid);
    return it == held_.end() ? nullptr : &it->second;
}

int HeldClients::count_for(uint16_t shard, const std::string& user) const {
    int n = 0;
    for (const auto& [pid, h] : held_)
        n += h.user == user && std::find(h.shards.begin(), h.shards.end(), shard) != h.shards.end();
    return n;
}

int HeldClients::count_unrouted() const {
    int n = 0;
    for (const auto& [pid, h] : held_) n += h.shards.empty();
    return n;
}

net::Clock::time_point HeldClients::oldest() const {
    auto t = net::Clock::now();
    for (const auto& [pid, h] : held_) t = std::min(t, h.since);
    return t;
}

}  // namespace sg::proxy
