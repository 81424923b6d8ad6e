#include "proxy/pause_lease.h"

namespace sg::proxy {

namespace {
constexpr size_t kHistory = 64;
}

const char* to_string(LeaseCheck c) {
    switch (c) {
        case LeaseCheck::Held:
            return "held";
        case LeaseCheck::Lapsed:
            return "lapsed";
        case LeaseCheck::Ended:
            return "ended";
        case LeaseCheck::Unknown:
            return "unknown";
    }
    return "unknown";
}

void PauseLease::remember(uint64_t id, LeaseCheck how) {
    history_.emplace_back(id, how);
    while (history_.size() > kHistory) history_.pop_front();
}

void PauseLease::begin(uint64_t id, std::string owner, std::chrono::milliseconds lease,
                       Clock::time_point now) {
    if (held_) remember(held_->id, LeaseCheck::Ended);
    held_ = PauseLeaseInfo{id, std::move(owner), lease, now, now + lease, 0};
}

LeaseCheck PauseLease::check(uint64_t id) const {
    if (held_ && held_->id == id) return LeaseCheck::Held;
    for (auto it = history_.rbegin(); it != history_.rend(); ++it)
        if (it->first == id) return it->second;
    return LeaseCheck::Unknown;
}

LeaseCheck PauseLease::renew(uint64_t id, Clock::time_point now) {
    // A lease that ran out is lapsed even when no timer has lifted it yet: the renewal came late.
    if (held_ && held_->id == id && now >= held_->expires) lapse_if_due(now);
    LeaseCheck c = check(id);
    if (c != LeaseCheck::Held) return c;
    held_->expires = now + held_->lease;
    ++held_->renewals;
    return c;
}

LeaseCheck PauseLease::end(uint64_t id) {
    if (!held_) return id == 0 ? LeaseCheck::Ended : check(id);
    if (id != 0 && held_->id != id) return check(id);
    remember(held_->id, LeaseCheck::Ended);
    held_.reset();
    return LeaseCheck::Held;
}

std::optional<PauseLeaseInfo> PauseLease::lapse_if_due(Clock::time_point now) {
    if (!held_ || now < held_->expires) return std::nullopt;
    remember(held_->id, LeaseCheck::Lapsed);
    last_lapsed_ = std::move(held_);
    held_.reset();
    return last_lapsed_;
}

std::optional<PauseLease::Clock::time_point> PauseLease::deadline() const {
    if (!held_) return std::nullopt;
    return held_->expires;
}

}  // namespace sg::proxy
