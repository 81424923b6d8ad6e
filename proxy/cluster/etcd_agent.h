// A proxy's life in etcd (issue 22): it follows the map key and keeps its registration alive.
//
// Two threads, each with its own EtcdClient, so a slow request of one never delays the other:
// - the watch thread reads `<prefix>/map` and watches it from the revision read; every newer
//   version that fits the config is written to the proxy's local map file and announced to the
//   event loop (`on_new_map`), which loads it through RELOAD MAP's path (never an older
//   version; the shards' stamps still checked). After any break (member down, idle stream,
//   canceled watch) it reads the key again before watching, so no version is missed;
// - the lease thread holds a lease of lease_ttl_s, renews it every third of the TTL and keeps
//   `<prefix>/proxies/<instance>` = {instance, address, admin, http, map_version,
//   paused_buckets, pid} under it, rewriting it when the proxy's state changes. A lease found
//   gone (expired while etcd was unreachable) is replaced and the registration written again.
// The hot path never waits for either: routing stays a lookup in memory.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "common/config.h"
#include "proxy/net.h"

namespace sg::cluster {

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
    // `on_new_map` runs on `io`'s thread after the local map file received a newer version.
    EtcdAgent(net::asio::io_context& io, const Config& cfg, Identity id, uint64_t start_version,
              std::function<void()> on_new_map);
    ~EtcdAgent();  // stops both threads (each wakes within ~100 ms) and waits for them
    EtcdAgent(const EtcdAgent&) = delete;
    EtcdAgent& operator=(const EtcdAgent&) = delete;

    // The proxy's state to register: the map version it routes by and its paused buckets
    // ("3-5,9"). Any thread; the registration is rewritten within ~100 ms when it changed.
    void set_local_state(uint64_t map_version, std::string paused_buckets);
    EtcdState state() const;

private:
    void watch_loop();
    void lease_loop();
    // Writes a newer map to the local file and tells the event loop; false when it does not fit.
    bool apply(const std::string& value, int64_t mod_revision);
    std::string registration_json();
    // Sleeps up to `d` or until stop; false when stopping.
    bool nap(std::chrono::milliseconds d);

    net::asio::io_context& io_;
    Config cfg_;
    Identity id_;
    std::function<void()> on_new_map_;

    mutable std::mutex mu_;
    std::condition_variable cv_;
    EtcdState state_;
    uint64_t local_version_ = 0;
    std::string paused_buckets_;
    bool registration_dirty_ = true;
    uint64_t written_version_ = 0;  // the newest version written to the local file

    std::atomic<bool> stop_{false};
    std::thread watch_thread_;
    std::thread lease_thread_;
};

}  // namespace sg::cluster
