#include "proxy/pause_control.h"
#include "proxy/spawn.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace sg::proxy {

const char* to_string(PauseKind k) {
    return k == PauseKind::Proxy ? "proxy" : "buckets";
}

PauseControl::PauseControl(net::asio::any_io_executor ex)
    : ex_(ex),
      proxy_changed_(std::make_unique<net::Event>(ex)),
      buckets_changed_(std::make_unique<net::Event>(ex)) {}

PauseControl::~PauseControl() {
    *alive_ = false;
}

uint64_t PauseControl::pause_proxy(std::string owner, std::chrono::milliseconds lease) {
    const uint64_t id = next_id_++;
    proxy_.begin(id, std::move(owner), lease, net::Clock::now());
    ensure_ticker();
    return id;
}

LeaseCheck PauseControl::resume_proxy(uint64_t id) {
    LeaseCheck c = proxy_.end(id);
    proxy_changed_->notify_all();
    return c;
}

LeaseCheck PauseControl::renew_proxy(uint64_t id) {
    lapse_due(net::Clock::now());
    return proxy_.renew(id, net::Clock::now());
}

uint64_t PauseControl::pause_buckets(const Ranges& ranges, uint32_t bucket_count, std::string owner,
                                     std::chrono::milliseconds lease) {
    clear_bits();
    bits_.assign(bucket_count, false);
    std::string runs;
    for (auto [first, last] : ranges) {
        runs +=
            fmt::format("{}{}", runs.empty() ? "" : ",",
                        first == last ? std::to_string(first) : fmt::format("{}-{}", first, last));
        for (uint32_t b = first; b <= last && b < bits_.size(); ++b)
            if (!bits_[b]) {
                bits_[b] = true;
                ++buckets_paused_;
            }
    }
    bucket_runs_ = std::move(runs);
    const uint64_t id = next_id_++;
    buckets_.begin(id, std::move(owner), lease, net::Clock::now());
    ensure_ticker();
    return id;
}

LeaseCheck PauseControl::resume_buckets(uint64_t id) {
    LeaseCheck c = buckets_.end(id);
    if (!buckets_.active()) clear_bits();
    return c;
}

LeaseCheck PauseControl::renew_buckets(uint64_t id) {
    lapse_due(net::Clock::now());
    return buckets_.renew(id, net::Clock::now());
}

void PauseControl::release_in_doubt() {
    if (in_doubt_since_ && !buckets_.active()) clear_bits();
}

std::vector<uint32_t> PauseControl::held_buckets() const {
    std::vector<uint32_t> out;
    for (uint32_t b = 0; b < bits_.size(); ++b)
        if (bits_[b]) out.push_back(b);
    return out;
}

void PauseControl::clear_bits() {
    in_doubt_since_.reset();
    bits_.clear();
    buckets_paused_ = 0;
    bucket_runs_.clear();
    buckets_changed_->notify_all();
}

std::vector<PauseView> PauseControl::views() const {
    std::vector<PauseView> out;
    if (const auto& h = proxy_.held()) out.push_back(PauseView{PauseKind::Proxy, *h, ""});
    if (const auto& h = buckets_.held())
        out.push_back(PauseView{PauseKind::Buckets, *h, bucket_runs_});
    else if (in_doubt_since_ && buckets_.last_lapsed())
        out.push_back(PauseView{PauseKind::Buckets, *buckets_.last_lapsed(), bucket_runs_});
    return out;
}

std::string PauseControl::describe(PauseKind kind) const {
    if (kind == PauseKind::Buckets && !buckets_.active() && in_doubt_since_ &&
        buckets_.last_lapsed())
        return fmt::format(
            "pause {} (PAUSE BUCKETS {} by {}), lapsed while a rebalance switch may be in doubt "
            "on the shards",
            buckets_.last_lapsed()->id, bucket_runs_, buckets_.last_lapsed()->owner);
    const auto& h = (kind == PauseKind::Proxy ? proxy_ : buckets_).held();
    if (!h) return std::string("no ") + (kind == PauseKind::Proxy ? "PAUSE" : "PAUSE BUCKETS");
    if (kind == PauseKind::Proxy) return fmt::format("pause {} (PAUSE by {})", h->id, h->owner);
    return fmt::format("pause {} (PAUSE BUCKETS {} by {})", h->id, bucket_runs_, h->owner);
}

void PauseControl::lapse_due(net::Clock::time_point now) {
    const int held = held_clients_;
    if (auto gone = proxy_.lapse_if_due(now)) {
        ++expired_total_;
        spdlog::warn(
            "pause {} (PAUSE by {}) lapsed: no RESUME or renewal within its {} ms lease; the proxy "
            "is resumed ({} client(s) were held)",
            gone->id, gone->owner, gone->lease.count(), held);
        proxy_changed_->notify_all();
    }
    const std::string runs = bucket_runs_;
    if (auto gone = buckets_.lapse_if_due(now)) {
        ++expired_total_;
        // In doubt before the callback runs: it may settle (and release) at once.
        in_doubt_since_ = now;
        const bool hold = on_buckets_lapsed_ && on_buckets_lapsed_();
        if (!hold) clear_bits();
        spdlog::warn(
            "pause {} (PAUSE BUCKETS {} by {}) lapsed: no RESUME or renewal within its {} ms "
            "lease; {} ({} client(s) were held)",
            gone->id, runs, gone->owner, gone->lease.count(),
            in_doubt_since_ ? "its buckets stay held until no shard holds a rebalance switch in "
                              "doubt (prepared, not yet committed or rolled back): a decided "
                              "switch must not be served by the old owner"
                            : "the buckets are released and their current owner keeps serving",
            held);
        if (in_doubt_since_) buckets_changed_->notify_all();
    }
}

void PauseControl::ensure_ticker() {
    if (ticking_) return;
    ticking_ = true;
    net::asio::co_spawn(ex_, tick(alive_), LogUnhandled("pause lease timer"));
}

// Lifts pauses whose lease ran out, and wakes held clients every kTick so each can check its
// own bound; ends when no pause is in force and no lapsed one holds its buckets in doubt.
net::awaitable<void> PauseControl::tick(std::shared_ptr<bool> alive) {
    net::asio::steady_timer t(ex_);
    for (;;) {
        if (!*alive) co_return;
        auto now = net::Clock::now();
        lapse_due(now);
        if (!proxy_.active() && !buckets_.active() && !in_doubt_since_) break;
        if (held_clients_ > 0) {
            if (proxy_.active()) proxy_changed_->notify_all();
            if (buckets_.active() || in_doubt_since_) buckets_changed_->notify_all();
        }
        auto next = now + kTick;
        for (const auto& d : {proxy_.deadline(), buckets_.deadline()})
            if (d) next = std::min(next, *d);
        t.expires_at(next);
        net::error_code ec;
        co_await t.async_wait(net::ec_token(ec));
    }
    ticking_ = false;
}

std::string stuck_pauses(const PauseControl& pauses, std::chrono::milliseconds bound,
                         net::Clock::time_point now) {
    std::string out;
    for (const auto& v : pauses.views()) {
        const auto age = std::chrono::duration_cast<std::chrono::milliseconds>(now - v.lease.since);
        if (now < v.lease.expires && age <= bound) continue;
        out += fmt::format(
            "pause {} ({}{}{} by {}) stuck: in force for {} ms, lease {} ms, [proxy] max_pause_ms "
            "{}\n",
            v.lease.id, v.kind == PauseKind::Proxy ? "PAUSE" : "PAUSE BUCKETS",
            v.buckets.empty() ? "" : " ", v.buckets, v.lease.owner, age.count(),
            v.lease.lease.count(), bound.count());
    }
    return out;
}

}  // namespace sg::proxy
