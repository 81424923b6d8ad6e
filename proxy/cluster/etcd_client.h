// A small etcd v3 client over the HTTP/JSON gateway (Boost.Beast; bodies in etcd_json.h).
//
// Invariants:
// - Every call is bounded: connecting, writing and reading one request share one deadline of
//   `timeout` per endpoint tried, so a call returns within endpoints x timeout at worst, with
//   an error naming the endpoints and the last failure.
// - A failed endpoint (refused, timed out, HTTP 5xx such as "no leader") makes the call try the
//   next one of the list; the one that answered is kept for the next call. Any member serves
//   any request (the gateway forwards to the leader), so a member down is not an error.
// - A client is not thread-safe: it owns one io_context and one connection. A thread that
//   needs etcd owns its own client (the proxy's watch and lease loops each have one).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "proxy/cluster/etcd_json.h"

namespace sg::cluster {

struct EtcdOptions {
    std::vector<std::string> endpoints;  // "host:port"
    std::chrono::milliseconds timeout{2000};
};

class EtcdClient {
public:
    explicit EtcdClient(EtcdOptions opts);
    ~EtcdClient();
    EtcdClient(const EtcdClient&) = delete;
    EtcdClient& operator=(const EtcdClient&) = delete;

    EtcdResult<RangeResult> get(std::string_view key, bool prefix = false);
    EtcdResult<int64_t> put(std::string_view key, std::string_view value, int64_t lease = 0);
    // Deletes the key (absent is fine); the store's revision after it.
    EtcdResult<int64_t> remove(std::string_view key);
    // Compare-and-swap on the key's mod_revision (0: create only).
    EtcdResult<TxnResult> cas(std::string_view key, std::string_view value,
                              int64_t expected_mod_revision, int64_t lease = 0);
    // Compare-and-swap that also requires `guard_key` to be held under `guard_lease` (and,
    // with `stable_prefix`, no key under it created after `stable_since`).
    EtcdResult<TxnResult> cas_guarded(std::string_view key, std::string_view value,
                                      int64_t expected_mod_revision, std::string_view guard_key,
                                      int64_t guard_lease, std::string_view stable_prefix = {},
                                      int64_t stable_since = 0, const KeyRevisions& unchanged = {});
    // Deletes `key` if it is still held under `lease`; whether it was.
    EtcdResult<bool> delete_if_lease(std::string_view key, int64_t lease);
    EtcdResult<LeaseGrant> lease_grant(int64_t ttl_s);
    // The TTL left; 0 when the lease no longer exists.
    EtcdResult<int64_t> lease_keepalive(int64_t id);
    EtcdResult<router::Ok> lease_revoke(int64_t id);

    // Watches `key` (with `prefix`: every key under it) from `start_revision` (0: from now),
    // handing each message to `on_message` until it returns false, `stop` becomes true (checked at
    // least every `poll`) or nothing arrived for `idle_limit` (a member that hangs without closing
    // the connection sends nothing either): then it returns Ok. Returns the error that broke the
    // stream (an endpoint failing, a canceled watch). Either way the caller re-reads the key and
    // watches again from the revision it has seen, so no change is missed.
    EtcdResult<router::Ok> watch(
        std::string_view key, int64_t start_revision,
        const std::function<bool(const WatchMessage&)>& on_message, const std::atomic<bool>& stop,
        std::chrono::milliseconds poll = std::chrono::milliseconds(100),
        std::chrono::milliseconds idle_limit = std::chrono::milliseconds(5000),
        bool prefix = false);

    // The endpoint that answered last ("" before the first success).
    std::string current_endpoint() const;
    const EtcdOptions& options() const { return opts_; }

private:
    struct Impl;
    // POSTs `body` to `path` on the endpoints in turn; the response body of the first that
    // answers (a 4xx answer too: the gateway's error JSON, which the decoders report).
    EtcdResult<std::string> post(const char* path, const std::string& body);

    EtcdOptions opts_;
    std::unique_ptr<Impl> impl_;
};

}  // namespace sg::cluster
