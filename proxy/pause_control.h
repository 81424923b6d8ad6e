// The proxy's pauses (issue 22): PAUSE (the whole proxy: new transactions wait) and PAUSE
// BUCKETS (statements touching those buckets wait; the rebalancer's switch), each with a lease
// (proxy/pause_lease.h), and the clients they hold.
//
// Invariants:
//  - every pause ends: by RESUME, or when its lease runs out (then one log line, one count in
//    shardgate_pause_expired_total), so no owner that disappears leaves clients held;
//  - a bucket pause that lapses may leave its buckets held "in doubt" (the lapse callback
//    says so): the rebalancer that paused them may have prepared or decided its switch before
//    it vanished, and then the old owner must not serve them; they stay held until
//    release_in_doubt() (the shards show no switch in doubt) or a RESUME; held clients still
//    wait at most max_pause_ms;
//  - a held client waits at most [proxy] max_pause_ms in all (even while its pause is renewed),
//    then its statement runs, or gets 57014 naming the pause;
//  - held clients are visible: counted here, shown by SHOW CLIENTS / SHOW POOLS / /metrics.
// The timer that lifts lapsed pauses runs only while a pause is in force (or held in doubt).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "proxy/net.h"
#include "proxy/pause_lease.h"

namespace sg::proxy {

enum class PauseKind : uint8_t { Proxy, Buckets };
const char* to_string(PauseKind k);

// One pause as SHOW PAUSES and the health endpoints describe it.
struct PauseView {
    PauseKind kind = PauseKind::Proxy;
    PauseLeaseInfo lease;
    std::string buckets;  // "3-5,9" for a bucket pause
};

class PauseControl {
public:
    using Ranges = std::vector<std::pair<uint32_t, uint32_t>>;
    explicit PauseControl(net::asio::any_io_executor ex);
    ~PauseControl();
    PauseControl(const PauseControl&) = delete;
    PauseControl& operator=(const PauseControl&) = delete;

    // PAUSE: returns the new pause's id.
    uint64_t pause_proxy(std::string owner, std::chrono::milliseconds lease);
    LeaseCheck resume_proxy(uint64_t id);  // id 0: whatever is in force
    LeaseCheck renew_proxy(uint64_t id);
    bool proxy_paused() const { return proxy_.active(); }

    // PAUSE BUCKETS: `ranges` are inclusive and within `bucket_count`; replaces a bucket pause
    // in force. Returns the new pause's id.
    uint64_t pause_buckets(const Ranges& ranges, uint32_t bucket_count, std::string owner,
                           std::chrono::milliseconds lease);
    LeaseCheck resume_buckets(uint64_t id);  // id 0: whatever is in force
    LeaseCheck renew_buckets(uint64_t id);
    bool any_bucket_paused() const { return buckets_paused_ > 0; }
    // A lapsed bucket pause whose buckets stay held until release_in_doubt(), and since when.
    bool buckets_in_doubt() const { return in_doubt_since_.has_value(); }
    std::optional<net::Clock::time_point> in_doubt_since() const { return in_doubt_since_; }
    void release_in_doubt();
    // The buckets a bucket pause holds (in force or in doubt), ascending.
    std::vector<uint32_t> held_buckets() const;
    bool bucket_paused(uint32_t b) const { return b < bits_.size() && bits_[b]; }

    // Wakes when a pause ends or lapses, and at least every kTick while one is in force, so a
    // held client can check its own bound.
    net::awaitable<void> wait_proxy_change() { co_await proxy_changed_->wait(); }
    net::awaitable<void> wait_buckets_change() { co_await buckets_changed_->wait(); }

    const PauseLease& proxy_lease() const { return proxy_; }
    const PauseLease& bucket_lease() const { return buckets_; }
    std::vector<PauseView> views() const;
    // "pause 7 (buckets 3-5, by rebalance x)": how messages name a pause.
    std::string describe(PauseKind kind) const;

    // Runs when a bucket pause lapses, before its held clients are released: the switch may
    // have been prepared or decided meanwhile (with etcd the proxy re-reads the map). Returning
    // true keeps the buckets held in doubt until release_in_doubt(); false releases them.
    void set_on_buckets_lapsed(std::function<bool()> fn) { on_buckets_lapsed_ = std::move(fn); }

    uint64_t expired_total() const { return expired_total_; }
    int held_clients() const { return held_clients_; }
    // A client starts / stops being held (Session's HeldMark).
    void add_held(int delta) { held_clients_ += delta; }

    // How often a held client re-checks its bound while its pause stays in force.
    static constexpr std::chrono::milliseconds kTick{50};

private:
    void clear_bits();
    void ensure_ticker();
    net::awaitable<void> tick(std::shared_ptr<bool> alive);
    void lapse_due(net::Clock::time_point now);

    net::asio::any_io_executor ex_;
    PauseLease proxy_, buckets_;
    std::vector<bool> bits_;
    size_t buckets_paused_ = 0;
    std::string bucket_runs_;
    uint64_t next_id_ = 1;
    uint64_t expired_total_ = 0;
    int held_clients_ = 0;
    bool ticking_ = false;
    std::unique_ptr<net::Event> proxy_changed_, buckets_changed_;
    std::function<bool()> on_buckets_lapsed_;
    std::optional<net::Clock::time_point> in_doubt_since_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// Pauses that are stuck, one line each (empty: none): in force past their expiry (not lifted
// yet), or for longer than `bound` ([proxy] max_pause_ms) in all, i.e. renewed by an owner
// that does not finish. /readyz reports them (503): a load balancer should send new clients to
// another proxy; a liveness probe should not restart this one (that drops every client, and the
// lease lifts the pause anyway).
std::string stuck_pauses(const PauseControl& pauses, std::chrono::milliseconds bound,
                         net::Clock::time_point now);

}  // namespace sg::proxy
