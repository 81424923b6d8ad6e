// A client held by a pause (issue 22): PAUSE holds a new transaction before it takes a server
// connection, PAUSE BUCKETS holds a statement touching a paused bucket before it is sent.
//
// Invariants:
//  - a client is held at most [proxy] max_pause_ms, even while its pause is renewed; then its
//    statement gets 57014 naming the pause (a lapsed pause lets it run earlier), or 55000 when
//    the pause lapsed and its switch is still in doubt (pause_control.h: retrying is safe);
//  - while held, the client is visible: Session::paused_hold() (SHOW CLIENTS state "paused", SHOW
//  POOLS
//    cl_waiting) and PauseControl::held_clients() (/metrics shardgate_clients_paused);
//  - the time held is counted apart from the proxy's and the shards' cost (held_ns_).
#include <fmt/format.h>

#include "common/sqlstate.h"
#include "proxy/proxy.h"
#include "proxy/session.h"

namespace sg::proxy {

namespace {

// Marks the session held for as long as it lives (a coroutine destroyed mid-wait unmarks too).
class HeldMark {
public:
    HeldMark(PauseControl& pauses, std::optional<Session::Held>& slot, uint64_t pause_id, int shard)
        : pauses_(pauses), slot_(slot) {
        slot_ = Session::Held{net::Clock::now(), std::chrono::system_clock::now(), pause_id, shard};
        pauses_.add_held(1);
    }
    ~HeldMark() {
        slot_.reset();
        pauses_.add_held(-1);
    }
    HeldMark(const HeldMark&) = delete;
    HeldMark& operator=(const HeldMark&) = delete;

private:
    PauseControl& pauses_;
    std::optional<Session::Held>& slot_;
};

int64_t ns_between(net::Clock::time_point a, net::Clock::time_point b) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count();
}

std::string held_too_long(const std::string& pause, int bound_ms) {
    return fmt::format(
        "statement held {} ms by {}, the longest [proxy] max_pause_ms allows: it did not run; "
        "retry it, or "
        "ask whoever paused to RESUME",
        bound_ms, pause);
}

}  // namespace

awaitable<std::optional<PoolError>> Session::hold_while_paused(int shard) {
    PauseControl& pauses = proxy_.pauses();
    if (!pauses.proxy_paused()) co_return std::nullopt;
    const int bound_ms = proxy_.config().proxy.max_pause_ms;
    const auto start = net::Clock::now();
    const auto deadline = start + std::chrono::milliseconds(bound_ms);
    std::optional<PoolError> refused;
    {
        HeldMark mark(pauses, paused_hold_, pauses.proxy_lease().held()->id, shard);
        while (pauses.proxy_paused()) {
            if (net::Clock::now() >= deadline) {
                refused = PoolError{sqlstate::kQueryCanceled,
                                    held_too_long(pauses.describe(PauseKind::Proxy), bound_ms)};
                break;
            }
            co_await pauses.wait_proxy_change();
        }
    }
    held_ns_ += ns_between(start, net::Clock::now());  // apart from the proxy's cost
    co_return refused;
}

awaitable<bool> Session::hold_for_paused_buckets(const router::Analysis& a, router::Route& r) {
    // Only sharded rows move, so unsharded tables are never paused. A reference-table write
    // counts as touching every bucket: the switch that gives a new shard its first buckets
    // must hold it, so that the shard has every earlier reference change (from the
    // rebalancer's stream) before the proxy starts writing to it directly. Callers try
    // touch_buckets_unless_paused first: here some bucket is paused.
    const bool reference_write = a.placement == router::Placement::Reference && a.is_write;
    const bool all = r.keys.empty() || reference_write;
    PauseControl& pauses = proxy_.pauses();
    auto blocked = [&] {
        if (!pauses.any_bucket_paused()) return false;
        if (all) return true;
        for (const auto& k : r.keys)
            if (pauses.bucket_paused(k.bucket)) return true;
        return false;
    };
    if (!blocked()) {
        if (all) touched_all_buckets_ = true;
        for (const auto& k : r.keys) touched_buckets_.push_back(k.bucket);
        co_return false;
    }
    const int bound_ms = proxy_.config().proxy.max_pause_ms;
    const auto start = net::Clock::now();
    const auto deadline = start + std::chrono::milliseconds(bound_ms);
    bool too_long = false;
    {
        const auto& lease = pauses.bucket_lease().held();
        HeldMark mark(pauses, paused_hold_, lease ? lease->id : 0,
                      r.shards.empty() ? -1 : int(r.shards.front()));
        while (blocked()) {
            if (net::Clock::now() >= deadline) {
                too_long = true;
                break;
            }
            co_await pauses.wait_buckets_change();
        }
    }
    held_ns_ += ns_between(
        start, net::Clock::now());  // the statistics report it apart from the proxy's cost
    if (too_long) {
        r = router::Route{};
        r.kind = router::Route::Kind::Error;
        // Held past the bound while a lapsed pause is in doubt: like a fenced map, the
        // statement did not run and a retry will find the switch settled.
        r.error = router::Error{pauses.buckets_in_doubt() ? sqlstate::kObjectNotInPrerequisiteState
                                                          : sqlstate::kQueryCanceled,
                                held_too_long(pauses.describe(PauseKind::Buckets), bound_ms)};
        co_return false;
    }
    if (all) touched_all_buckets_ = true;
    for (const auto& k : r.keys) touched_buckets_.push_back(k.bucket);
    co_return true;
}

}  // namespace sg::proxy
