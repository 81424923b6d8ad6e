// A pause's lease (issue 22): every pause — the console's PAUSE and PAUSE BUCKETS, the
// rebalancer's switch — lasts only as long as its owner keeps renewing it. An owner that
// disappears (Ctrl-C, kill -9, a lost connection, an operator who forgot RESUME) cannot leave
// clients held: when the lease runs out the pause is lifted, and for a bucket switch the old
// owner keeps serving, as when the switch aborts.
//
// Invariants:
//  - at most one lease is in force per slot; a new pause replaces the old one (new id);
//  - an id is never reused, so a renewal or resume naming a lapsed pause is told so and can
//    never extend or end a newer one (the rebalancer then aborts that switch: the proxy may
//    have served the old owner meanwhile);
//  - a lapse is reported exactly once (one log line, one count per expiry).
//
// Pure: time comes in as arguments, so the logic is tested with a made-up clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>

namespace sg::proxy {

struct PauseLeaseInfo {
    using Clock = std::chrono::steady_clock;
    uint64_t id = 0;
    std::string owner;                   // who paused: "console user@addr", "rebalance <run id>"
    std::chrono::milliseconds lease{0};  // how long it lasts without a renewal
    Clock::time_point since;             // when the pause began
    Clock::time_point expires;           // when it lapses unless renewed or ended
    uint64_t renewals = 0;
};

// What a renewal or resume naming `id` found.
enum class LeaseCheck {
    Held,     // the pause `id` is in force
    Lapsed,   // `id` ran out of time and was lifted
    Ended,    // `id` was resumed (or replaced by a newer pause)
    Unknown,  // never issued here (or forgotten long ago)
};
const char* to_string(LeaseCheck c);

class PauseLease {
public:
    using Clock = PauseLeaseInfo::Clock;

    // Starts pause `id` (ids come from the caller, unique and increasing); a pause in force is
    // replaced and counts as ended.
    void begin(uint64_t id, std::string owner, std::chrono::milliseconds lease,
               Clock::time_point now);
    // Extends pause `id` to now + its lease when it is in force (Held); otherwise says why not.
    LeaseCheck renew(uint64_t id, Clock::time_point now);
    // Ends the pause: `id` 0 ends whatever is in force (an operator's RESUME); another id ends
    // only that pause. Returns what it found (Held: it ended it).
    LeaseCheck end(uint64_t id);
    // Lifts the pause when its time is up (now >= expires); returns it once, when it lapses.
    std::optional<PauseLeaseInfo> lapse_if_due(Clock::time_point now);

    bool active() const { return held_.has_value(); }
    const std::optional<PauseLeaseInfo>& held() const { return held_; }
    LeaseCheck check(uint64_t id) const;
    // The moment the pause lapses; nullopt when none is in force.
    std::optional<Clock::time_point> deadline() const;
    // When the pause that lapsed last did, and what it was (for messages and health).
    const std::optional<PauseLeaseInfo>& last_lapsed() const { return last_lapsed_; }

private:
    void remember(uint64_t id, LeaseCheck how);

    std::optional<PauseLeaseInfo> held_;
    std::optional<PauseLeaseInfo> last_lapsed_;
    // The fate of recent ids (bounded): enough for a rebalancer to learn its pause lapsed.
    std::deque<std::pair<uint64_t, LeaseCheck>> history_;
};

}  // namespace sg::proxy
