// The circuit breaker of one shard endpoint, as a pure state machine (no I/O, no clock: the
// caller passes the time), so every transition is unit-tested.
//
//   Closed --(K consecutive failures)--> Open --(a probe starts)--> HalfOpen
//   HalfOpen --(the probe answers)--> Closed        HalfOpen --(the probe fails)--> Open
//
// Invariant: only Closed admits statements. While Open or HalfOpen every statement for the
// shard is refused at once (the caller answers 08006 with refusal reason and down-since), and
// only the background probe talks to the shard; the first probe that gets an answer closes the
// breaker. A success while Closed resets the failure count (failures must be consecutive).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sg::proxy::health {

using SysTime = std::chrono::system_clock::time_point;

enum class BreakerState : uint8_t { Closed, Open, HalfOpen };
const char* to_string(BreakerState s);

struct BreakerChange {
    BreakerState from;
    BreakerState to;
    std::string reason;  // the failure that opened it, or what closed it
};

class Breaker {
public:
    explicit Breaker(int failure_threshold = 2)
        : threshold_(failure_threshold < 1 ? 1 : failure_threshold) {}

    void set_threshold(int k) { threshold_ = k < 1 ? 1 : k; }
    int threshold() const { return threshold_; }

    // A failure signal: a check that got no answer, a connect failure, a statement the shard
    // did not answer. Returns the change when this failure opened the breaker.
    std::optional<BreakerChange> on_failure(SysTime now, std::string_view reason);
    // A check or probe got an answer from the shard.
    std::optional<BreakerChange> on_success(SysTime now);
    // A probe is about to go to the shard of an open breaker.
    std::optional<BreakerChange> on_probe(SysTime now);
    // Forget everything (the endpoint changed): Closed, no failures.
    void reset(SysTime now);

    bool admits() const { return state_ == BreakerState::Closed; }
    BreakerState state() const { return state_; }
    // Closed: since when it is closed. Open/HalfOpen: since when the shard is unavailable (the
    // first opening; a failed half-open probe does not move it).
    SysTime since() const { return since_; }
    int consecutive_failures() const { return failures_; }
    const std::string& last_error() const { return last_error_; }
    SysTime last_error_at() const { return last_error_at_; }
    // The reason the breaker opened (kept while it stays open or half-open).
    const std::string& open_reason() const { return open_reason_; }
    uint64_t opens() const { return opens_; }

private:
    int threshold_;
    BreakerState state_ = BreakerState::Closed;
    SysTime since_{};
    int failures_ = 0;
    std::string last_error_;
    SysTime last_error_at_{};
    std::string open_reason_;
    uint64_t opens_ = 0;
};

// "2026-12-06 21:03:05.123 UTC", for messages that say since when.
std::string format_utc(SysTime t);

}  // namespace sg::proxy::health
