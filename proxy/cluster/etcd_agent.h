// A proxy's life in etcd (issue 22): it follows the map key and keeps its registration alive.
//
// Two threads, each with its own EtcdClient, so a slow request of one never delays the other:
// - the watch thread reads the keys under `<prefix>/` and watches them from the revision read
//   (one stream, so changes arrive in revision order): for `<prefix>/map`, every newer
//   version that fits the config is written to the proxy's local map file and announced to the
//   event loop (`on_new_map`), which loads it through RELOAD MAP's path (never an older
//   version; the shards' stamps still checked). After any break (member down, idle stream,
//   canceled watch) it reads the keys again before watching, so no version is missed; the
//   rebalancer's switch pause `<prefix>/pause` (proxy/cluster/pause_order.h) is handed to the
//   event loop (`on_pause`, nullopt when the key is gone) after every map version published
//   before it; the shard list `<prefix>/shards` (proxy/cluster/shard_list.h) is handed on
//   (`on_shards`) in the same order, so a map naming a new shard reaches the event loop after
//   the list that gives the shard's address (at a (re)read: the list before the map);
// - the lease thread holds a lease of lease_ttl_s, renews it every third of the TTL and keeps
//   `<prefix>/proxies/<instance>` = {instance, address, admin, http, map_version,
//   paused_buckets, pause (the acknowledgement), pid} under it, rewriting it when the proxy's
//   state changes. A lease found
//   gone (expired while etcd was unreachable) is replaced and the registration written again.
// The hot path never waits for either: routing stays a lookup in memory.
//
// The routing window (issue 22, a proxy frozen by SIGSTOP, a long GC-like stall, a partition):
// a rebalancer treats a registered proxy that does not answer as gone once its lease has
// expired in etcd, and may then switch buckets without it. The lease cannot expire before
// (send time of the last successful grant or keepalive) + TTL, so the proxy routes sharded
// statements only until that instant minus a margin (`routable_until`, one clock comparison per
// statement, no I/O). Past it, it routes again only after a lease of which it is sure: a new
// lease is confirmed by writing the registration under it FIRST and reading the map key AFTER
// (a rebalancer's decision compares the registrations' create revisions, rebalance side), and
// by the event loop having loaded that map; only then do keepalives extend the window again.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/config.h"
#include "proxy/cluster/pause_order.h"
#include "proxy/net.h"

namespace sg::cluster {

class EtcdClient;

// What SHOW MAP and /metrics report about etcd.
struct EtcdState {
    bool connected = false;         // the lease thread's last request succeeded
    std::string endpoint;           // the member that answered it
    int64_t lease_id = 0;           // 0: no lease held now
    int64_t lease_ttl_left_s = 0;   // at the last renewal
    bool watching = false;          // the map watch is established
    uint64_t etcd_map_version = 0;  // the newest map version seen in etcd
    int64_t etcd_map_mod_revision = 0;
    std::string last_error;
    // When the lease was last renewed or granted (at first: when the agent started, right
    // after the proxy read the map from etcd).
    std::chrono::steady_clock::time_point last_renewal{};
};

class EtcdAgent {
public:
    struct Identity {
        std::string instance;  // the registration's key suffix
        std::string address;   // host:port clients and the admin console use
        std::string http;      // admin.http_listen, may be empty
    };
    // `on_new_map` runs on `io`'s thread after the local map file received a newer version;
    // `routed_version` (on `io`'s thread) is the version the proxy routes by, and
    // `on_session` (on `io`'s thread) is told when the routing window was confirmed again.
    EtcdAgent(net::asio::io_context& io, const Config& cfg, Identity id, uint64_t start_version,
              std::function<void()> on_new_map, std::function<uint64_t()> routed_version,
              std::function<void()> on_session,
              std::function<void(std::optional<PauseOrder>)> on_pause,
              std::function<void(std::vector<ShardConfig>)> on_shards);
    ~EtcdAgent();  // stops both threads (each wakes within ~100 ms) and waits for them
    EtcdAgent(const EtcdAgent&) = delete;
    EtcdAgent& operator=(const EtcdAgent&) = delete;

    // The proxy's state to register: the map version it routes by and its paused buckets
    // ("3-5,9"). Any thread; the registration is rewritten within ~100 ms when it changed.
    void set_local_state(uint64_t map_version, std::string paused_buckets);
    // The acknowledgement of the last etcd pause (nullopt: none), written with the next
    // set_local_state() or reconfirm(), which the caller makes right after.
    void set_pause_ack(std::optional<PauseAck> ack);
    EtcdState state() const;
    // Sharded statements may be routed before this instant only (see the top of this file).
    // Lock-free: read once per statement.
    std::chrono::steady_clock::time_point routable_until() const {
        return std::chrono::steady_clock::time_point(
            std::chrono::steady_clock::duration(routable_until_.load(std::memory_order_acquire)));
    }
    // Closes the routing window until the next map read after a registration under the current
    // lease is loaded (~100 ms): for a proxy whose switch pause lapsed (proxy/pause_control.h).
    // The registration is written again first (with the state set before this call), so a
    // rebalancer's decision comparing it sees the lapse or is seen by that map read.
    void reconfirm();
    // TTL minus the margin: how long after a keepalive was sent the proxy may still route.
    std::chrono::milliseconds routing_window() const;

private:
    void watch_loop();
    void lease_loop();
    // Writes a newer map to the local file and tells the event loop; false when it does not fit.
    // Any thread.
    bool apply(const std::string& value, int64_t mod_revision);
    std::string registration_json();
    // Sleeps up to `d` or until stop; false when stopping.
    bool nap(std::chrono::milliseconds d);
    // Moves routable_until_ to `sent` + routing_window() unless it is later already.
    void extend_window(std::chrono::steady_clock::time_point sent);
    // With the registration written under `lease`: reads the map key, applies it, and asks
    // the event loop to confirm `lease` once it routes by that version (or a newer one).
    void confirm_after_read(EtcdClient& etcd, int64_t lease,
                            std::chrono::steady_clock::time_point sent);

    net::asio::io_context& io_;
    Config cfg_;
    Identity id_;
    std::function<void()> on_new_map_;
    std::function<uint64_t()> routed_version_;
    std::function<void()> on_session_;
    std::function<void(std::optional<PauseOrder>)> on_pause_;
    std::function<void(std::vector<ShardConfig>)> on_shards_;

    std::mutex apply_mu_;  // one apply() at a time: it writes the map file
    mutable std::mutex mu_;
    std::condition_variable cv_;
    EtcdState state_;
    uint64_t local_version_ = 0;
    std::string paused_buckets_;
    std::optional<PauseAck> pause_ack_;
    std::optional<std::optional<PauseAck>> staged_ack_;  // set_pause_ack(), not yet published
    bool registration_dirty_ = true;
    uint64_t written_version_ = 0;  // the newest version written to the local file

    // steady_clock ticks; see routable_until().
    std::atomic<std::chrono::steady_clock::rep> routable_until_{0};
    // The lease whose registration preceded a map read the event loop has loaded (0: none):
    // only its keepalives extend the routing window.
    std::atomic<int64_t> confirmed_lease_{0};
    // Bumped by reconfirm(): a confirmation whose map read started before it is discarded.
    std::atomic<uint64_t> confirm_epoch_{0};
    // The confirm_epoch_ the last registration written was built in: a map read confirms only
    // after a registration of the current epoch (one written after the last reconfirm()).
    std::atomic<uint64_t> registered_epoch_{0};
    std::atomic<bool> stop_{false};
    std::thread watch_thread_;
    std::thread lease_thread_;
};

}  // namespace sg::cluster
