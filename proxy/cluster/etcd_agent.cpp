#include "proxy/cluster/etcd_agent.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <utility>

#include "proxy/cluster/etcd_client.h"
#include "proxy/cluster/map_store.h"
#include "proxy/cluster/shard_list.h"

namespace sg::cluster {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kRetry{200};  // after a failed request, before the next try

bool lease_not_found(const std::string& msg) {
    return msg.find("requested lease not found") != std::string::npos;
}

}  // namespace

EtcdAgent::EtcdAgent(net::asio::io_context& io, const Config& cfg, Identity id,
                     uint64_t start_version, std::function<void()> on_new_map,
                     std::function<uint64_t()> routed_version, std::function<void()> on_session,
                     std::function<void(std::optional<PauseOrder>)> on_pause,
                     std::function<void(std::vector<ShardConfig>)> on_shards)
    : io_(io),
      cfg_(cfg),
      id_(std::move(id)),
      on_new_map_(std::move(on_new_map)),
      routed_version_(std::move(routed_version)),
      on_session_(std::move(on_session)),
      on_pause_(std::move(on_pause)),
      on_shards_(std::move(on_shards)) {
    local_version_ = start_version;
    written_version_ = start_version;
    state_.etcd_map_version = start_version;
    // The proxy read the map from etcd just before: the session counts as alive from here,
    // and the first lease (a few ms away) confirms it by a map read after its registration.
    state_.last_renewal = Clock::now();
    extend_window(state_.last_renewal);
    watch_thread_ = std::thread([this] { watch_loop(); });
    lease_thread_ = std::thread([this] { lease_loop(); });
}

EtcdAgent::~EtcdAgent() {
    stop_ = true;
    cv_.notify_all();
    watch_thread_.join();
    lease_thread_.join();
}

void EtcdAgent::set_local_state(uint64_t map_version, std::string paused_buckets) {
    {
        std::lock_guard lock(mu_);
        if (staged_ack_) pause_ack_ = *std::exchange(staged_ack_, std::nullopt);
        if (map_version == local_version_ && paused_buckets == paused_buckets_ &&
            !registration_dirty_)
            return;
        local_version_ = map_version;
        paused_buckets_ = std::move(paused_buckets);
        registration_dirty_ = true;
    }
    cv_.notify_all();
}

void EtcdAgent::set_pause_ack(std::optional<PauseAck> ack) {
    {
        std::lock_guard lock(mu_);
        const bool same = ack.has_value() == pause_ack_.has_value() &&
                          (!ack || (ack->id == pause_ack_->id && ack->state == pause_ack_->state));
        if (same && !staged_ack_) return;
        // Staged: published with the state of the set_local_state() (or reconfirm()) that
        // follows, never alone (a write in between would pair it with stale paused buckets).
        staged_ack_ = std::move(ack);
        registration_dirty_ = true;
    }
    // No wake-up here: the caller's set_local_state() (or reconfirm()) follows at once, so the
    // acknowledgement and the paused buckets go out in one write.
}

std::chrono::milliseconds EtcdAgent::routing_window() const {
    // The margin covers etcd's expiry check (every 500 ms on the leader) running early against
    // our clock, and the coarse clock the hot path reads (a few ms behind).
    const milliseconds ttl(cfg_.cluster.lease_ttl_s * 1000);
    return ttl - std::max(milliseconds(250), ttl / 6);
}

void EtcdAgent::reconfirm() {
    {
        std::lock_guard lock(mu_);
        ++confirm_epoch_;
        if (staged_ack_) pause_ack_ = *std::exchange(staged_ack_, std::nullopt);
        registration_dirty_ = true;  // written again before the confirming map read
    }
    confirmed_lease_ = 0;
    routable_until_.store(0, std::memory_order_release);
    cv_.notify_all();
}

void EtcdAgent::extend_window(Clock::time_point sent) {
    const auto until = (sent + routing_window()).time_since_epoch().count();
    auto cur = routable_until_.load(std::memory_order_relaxed);
    while (cur < until &&
           !routable_until_.compare_exchange_weak(cur, until, std::memory_order_release)) {
    }
}

void EtcdAgent::confirm_after_read(EtcdClient& etcd, int64_t lease, Clock::time_point sent) {
    // A reconfirm() after this read started asks for a newer read: this one must not confirm.
    const uint64_t epoch = confirm_epoch_.load();
    auto r = etcd.get(cfg_.cluster.map_key());
    if (!r) {
        std::lock_guard lock(mu_);
        state_.last_error = r.error().message;
        return;
    }
    uint64_t version = 0;
    if (const KeyValue* kv = r->first()) {
        if (!apply(kv->value, kv->mod_revision)) return;
        std::lock_guard lock(mu_);
        version = state_.etcd_map_version;
    }
    // Posted after apply()'s on_new_map: the event loop loads the map first, then judges.
    net::asio::post(io_, [this, lease, sent, version, epoch] {
        if (confirm_epoch_.load() != epoch) return;  // read before a reconfirm(): too old
        if (routed_version_() < version) return;     // not loaded (refused): the loop asks again
        confirmed_lease_ = lease;
        extend_window(sent);
        on_session_();
    });
}

EtcdState EtcdAgent::state() const {
    std::lock_guard lock(mu_);
    return state_;
}

bool EtcdAgent::nap(milliseconds d) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, d, [this] { return stop_.load(); });
    return !stop_;
}

bool EtcdAgent::apply(const std::string& value, int64_t mod_revision) {
    // The watch thread and the lease thread (confirming a new lease) both apply what they read.
    std::lock_guard applying(apply_mu_);
    const std::string key = cfg_.cluster.map_key();
    auto m = parse_stored_map(value, key);
    if (!m) {
        spdlog::error("etcd: ignoring an unreadable map: {}", m.error().message);
        std::lock_guard lock(mu_);
        state_.last_error = m.error().message;
        return false;
    }
    {
        std::lock_guard lock(mu_);
        if (m->version() > state_.etcd_map_version || mod_revision > state_.etcd_map_mod_revision) {
            state_.etcd_map_version = std::max(state_.etcd_map_version, m->version());
            state_.etcd_map_mod_revision = mod_revision;
        }
    }
    if (m->version() <= written_version_) return true;  // this version or a newer one is applied
    // Whether it fits the proxy's config (which RELOAD may have changed since this agent
    // started: shards added) is judged by the load (router::load_configured_map): a map that
    // does not fit is refused there and the proxy keeps its version, which its registration
    // shows, so a rebalancer waits for it rather than switching past it.
    if (auto saved = router::save_shard_map(*m, cfg_.map_path()); !saved) {
        spdlog::error("etcd: map version {} not applied: {}", m->version(), saved.error().message);
        return false;
    }
    written_version_ = m->version();
    spdlog::info("etcd: map version {} published (mod_revision {}), loading it", m->version(),
                 mod_revision);
    net::asio::post(io_, on_new_map_);
    return true;
}

void EtcdAgent::watch_loop() {
    EtcdClient etcd({cfg_.cluster.etcd, milliseconds(cfg_.cluster.etcd_timeout_ms)});
    const std::string prefix = cfg_.cluster.prefix + "/";
    const std::string map_key = cfg_.cluster.map_key();
    const std::string pause_key = cfg_.cluster.pause_key();
    const std::string shards_key = cfg_.cluster.shards_key();
    // A member that hangs without closing the stream sends nothing either: re-read this often.
    const milliseconds idle_limit(std::max(1000, cfg_.cluster.lease_ttl_s * 1000 / 2));
    std::string pause_value;  // the pause key's value as last handed on ("": none)
    // Hands a change of the pause key to the event loop, after the map versions applied before
    // it (both are posted to the same loop, in this order).
    auto pause_changed = [&](const std::string& value) {
        if (value == pause_value) return;
        pause_value = value;
        std::optional<PauseOrder> order;
        if (!value.empty()) {
            auto o = parse_pause_order(value);
            if (!o) {
                spdlog::error("etcd: ignoring an unreadable pause {}: {}", pause_key,
                              o.error().message);
                return;
            }
            order = std::move(*o);
        }
        net::asio::post(io_, [this, order = std::move(order)] { on_pause_(order); });
    };
    std::string shards_value;  // the shard list as last handed on
    // Hands a new shard list to the event loop, before any map applied after it.
    auto shards_changed = [&](const std::string& value) {
        if (value == shards_value) return;
        shards_value = value;
        auto list = parse_shard_list(value, shards_key);
        if (!list) {
            spdlog::error("etcd: ignoring an unreadable shard list: {}", list.error().message);
            return;
        }
        net::asio::post(io_,
                        [this, list = std::move(*list)]() mutable { on_shards_(std::move(list)); });
    };
    while (!stop_) {
        auto r = etcd.get(prefix, true);
        if (!r) {
            {
                std::lock_guard lock(mu_);
                state_.watching = false;
                state_.last_error = r.error().message;
            }
            nap(kRetry);
            continue;
        }
        std::string pause_now;
        // The shard list first: the map read with it may name a shard only it gives.
        for (const auto& kv : r->kvs)
            if (kv.key == shards_key) shards_changed(kv.value);
        for (const auto& kv : r->kvs) {
            if (kv.key == map_key) apply(kv.value, kv.mod_revision);
            if (kv.key == pause_key) pause_now = kv.value;
        }
        pause_changed(pause_now);
        {
            std::lock_guard lock(mu_);
            state_.watching = true;
        }
        auto w = etcd.watch(
            prefix, r->revision + 1,
            [&](const WatchMessage& msg) {
                for (const auto& ev : msg.events) {
                    const bool put = ev.type == WatchEvent::Type::Put;
                    if (ev.kv.key == map_key) {
                        if (put)
                            apply(ev.kv.value, ev.kv.mod_revision);
                        else
                            spdlog::warn("etcd: key {} was deleted; keeping map version {}",
                                         map_key, written_version_);
                    } else if (ev.kv.key == pause_key) {
                        pause_changed(put ? ev.kv.value : std::string());
                    } else if (ev.kv.key == shards_key && put) {
                        shards_changed(ev.kv.value);
                    }
                }
                return !stop_.load();
            },
            stop_, milliseconds(100), idle_limit, true);
        {
            std::lock_guard lock(mu_);
            state_.watching = false;
            if (!w) state_.last_error = w.error().message;
        }
        if (!w) {
            spdlog::debug("etcd watch of {} broke: {}", prefix, w.error().message);
            nap(milliseconds(50));
        }
    }
}

std::string EtcdAgent::registration_json() {
    // Called with mu_ held.
    nlohmann::json j{
        {"instance", id_.instance},
        {"address", id_.address},
        {"http", id_.http},
        {"map_version", local_version_},
        {"paused_buckets", paused_buckets_},
        {"pause", pause_ack_ ? nlohmann::json{{"id", pause_ack_->id}, {"state", pause_ack_->state}}
                             : nlohmann::json()},
        {"pid", static_cast<int64_t>(::getpid())},
        {"lease_ttl_s", cfg_.cluster.lease_ttl_s}};
    return j.dump();
}

void EtcdAgent::lease_loop() {
    EtcdClient etcd({cfg_.cluster.etcd, milliseconds(cfg_.cluster.etcd_timeout_ms)});
    const std::string key = cfg_.cluster.proxies_prefix() + id_.instance;
    const int ttl = cfg_.cluster.lease_ttl_s;
    const milliseconds renew_every(ttl * 1000 / 3);
    int64_t lease = 0;
    auto next_renewal = Clock::now();
    Clock::time_point lease_sent{};  // when the last successful grant/keepalive was sent
    bool fresh_lease = false;        // granted, registration not yet created under it
    auto next_confirm = Clock::now();
    auto failed = [&](const std::string& why) {
        std::lock_guard lock(mu_);
        if (state_.connected) spdlog::warn("etcd: {}", why);
        state_.connected = false;
        state_.last_error = why;
    };
    while (!stop_) {
        if (lease == 0) {
            const auto sent = Clock::now();
            auto g = etcd.lease_grant(ttl);
            if (!g) {
                failed(g.error().message);
                nap(kRetry);
                continue;
            }
            lease = g->id;
            lease_sent = sent;
            fresh_lease = true;
            next_confirm = Clock::now();
            std::lock_guard lock(mu_);
            if (!state_.connected)
                spdlog::info("etcd: connected ({}), lease {:x} of {} s", etcd.current_endpoint(),
                             lease, ttl);
            state_.connected = true;
            state_.endpoint = etcd.current_endpoint();
            state_.lease_id = lease;
            state_.lease_ttl_left_s = g->ttl_s;
            state_.last_renewal = Clock::now();
            registration_dirty_ = true;
            next_renewal = Clock::now() + renew_every;
        }
        std::string reg;
        uint64_t reg_epoch = 0;
        {
            std::lock_guard lock(mu_);
            if (registration_dirty_) {
                reg = registration_json();
                reg_epoch = confirm_epoch_.load();
                registration_dirty_ = false;
            }
        }
        // A new lease registers a new incarnation: the key is created afresh (not rewritten
        // under the new lease), so its create revision tells a rebalancer that it joined after
        // the registrations it read (its decision's compare fails and the switch retries).
        if (!reg.empty() && fresh_lease) {
            if (auto d = etcd.remove(key); !d) {
                {
                    std::lock_guard lock(mu_);
                    registration_dirty_ = true;
                }
                failed(d.error().message);
                nap(kRetry);
                continue;
            }
            fresh_lease = false;
        }
        if (!reg.empty()) {
            auto p = etcd.put(key, reg, lease);
            if (!p) {
                {
                    std::lock_guard lock(mu_);
                    registration_dirty_ = true;
                }
                if (lease_not_found(p.error().message)) lease = 0;
                failed(p.error().message);
                nap(kRetry);
                continue;
            }
            registered_epoch_ = reg_epoch;
        }
        // The registration is written under `lease` now; a map read from here on confirms it.
        if (confirmed_lease_.load() != lease && registered_epoch_.load() == confirm_epoch_.load() &&
            Clock::now() >= next_confirm) {
            confirm_after_read(etcd, lease, lease_sent);
            next_confirm = Clock::now() + kRetry;
        }
        if (Clock::now() >= next_renewal) {
            const auto sent = Clock::now();
            auto k = etcd.lease_keepalive(lease);
            if (!k || *k == 0) {
                if (!k)
                    failed(k.error().message);
                else
                    spdlog::warn("etcd: lease {:x} expired; registering again under a new one",
                                 lease);
                if (k) lease = 0;
                if (!k) next_renewal = Clock::now() + kRetry;
                std::lock_guard lock(mu_);
                if (k) state_.lease_id = 0;
                continue;
            }
            std::lock_guard lock(mu_);
            if (!state_.connected)
                spdlog::info("etcd: connected again ({})", etcd.current_endpoint());
            state_.connected = true;
            state_.endpoint = etcd.current_endpoint();
            state_.lease_ttl_left_s = *k;
            state_.last_renewal = Clock::now();
            next_renewal = Clock::now() + renew_every;
            lease_sent = sent;
            if (confirmed_lease_.load() == lease) extend_window(sent);
        }
        std::unique_lock lock(mu_);
        auto until = std::min(next_renewal, Clock::now() + milliseconds(100));
        if (confirmed_lease_.load() != lease) until = std::min(until, next_confirm);
        cv_.wait_until(lock, until, [this] { return stop_.load() || registration_dirty_; });
    }
    // Leaving: the registration goes at once instead of at the lease's expiry.
    if (lease != 0) (void)etcd.lease_revoke(lease);
}

}  // namespace sg::cluster
