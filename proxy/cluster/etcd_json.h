// The etcd v3 HTTP/JSON gateway's request and response bodies, without I/O.
//
// The gateway (etcd 3.4: POST /v3/kv/range, /v3/kv/put, /v3/kv/txn, /v3/lease/grant,
// /v3/lease/keepalive, /v3/lease/revoke, /v3/watch) speaks the gRPC messages as JSON:
// keys and values are base64, 64-bit integers are decimal strings, and fields holding their
// default (0, false, PUT) are omitted. Every decoder here accepts integers as strings or
// numbers and treats an omitted field as its default, and reports a malformed body as an
// error value naming what is wrong, never by throwing: the client and its tests rely on it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "router/result.h"

namespace sg::cluster {

struct EtcdError {
    std::string message;
};

template <class T>
using EtcdResult = router::Expected<T, EtcdError>;

struct KeyValue {
    std::string key;
    std::string value;
    int64_t create_revision = 0;
    int64_t mod_revision = 0;  // 0 when the key does not exist (what a create-only CAS compares)
    int64_t version = 0;
    int64_t lease = 0;
};

// A range answer: the store's revision when it was read and the keys found.
struct RangeResult {
    int64_t revision = 0;
    std::vector<KeyValue> kvs;
    const KeyValue* first() const { return kvs.empty() ? nullptr : &kvs.front(); }
};

// A compare-and-swap answer: whether the compare held (the put happened) and, when it did not,
// the key as it is now (absent: nullopt), so the caller can report or retry.
struct TxnResult {
    bool succeeded = false;
    int64_t revision = 0;
    std::optional<KeyValue> current;
};

struct LeaseGrant {
    int64_t id = 0;
    int64_t ttl_s = 0;
};

// One watch message: `created` acknowledges the watch; `canceled` ends it (compacted start
// revision etc., with the reason); `events` carry the changes in revision order.
struct WatchEvent {
    enum class Type { Put, Delete };
    Type type = Type::Put;
    KeyValue kv;
};
struct WatchMessage {
    int64_t revision = 0;
    bool created = false;
    bool canceled = false;
    std::string cancel_reason;
    int64_t compact_revision = 0;
    std::vector<WatchEvent> events;
};

// The smallest key greater than every key starting with `prefix` (etcd's range_end for a prefix).
std::string prefix_end(std::string_view prefix);

// ---- request bodies ---------------------------------------------------------------------
std::string encode_range(std::string_view key, bool prefix = false);
std::string encode_put(std::string_view key, std::string_view value, int64_t lease = 0);
// Puts `value` only if the key's mod_revision is `expected_mod_revision` (0: the key must not
// exist: a create-only put). On failure the transaction reads the key back.
std::string encode_cas(std::string_view key, std::string_view value, int64_t expected_mod_revision,
                       int64_t lease = 0);
// The same, and only while `guard_key` is held under `guard_lease` (a lock: a holder whose
// lease expired cannot write any more, even with a correct mod_revision).
// With `stable_prefix`: also only while no key under it was created after revision
// `stable_since` (the rebalancer's "no proxy registered since I read the registrations").
// With `unchanged`: also only while each of those keys still has that mod_revision (the
// proxies' registrations as they acknowledged a pause: one whose pause lapsed rewrote its own).
using KeyRevisions = std::vector<std::pair<std::string, int64_t>>;
std::string encode_cas_guarded(std::string_view key, std::string_view value,
                               int64_t expected_mod_revision, std::string_view guard_key,
                               int64_t guard_lease, std::string_view stable_prefix = {},
                               int64_t stable_since = 0, const KeyRevisions& unchanged = {});
// Deletes the key only if it is still held under `lease` (releasing a lock we own, not one a
// successor took after our lease expired).
std::string encode_delete_if_lease(std::string_view key, int64_t lease);
std::string encode_lease_grant(int64_t ttl_s);
std::string encode_lease_id(int64_t id);  // keepalive and revoke
std::string encode_watch_create(std::string_view key, int64_t start_revision, bool prefix = false);

// ---- response bodies --------------------------------------------------------------------
// A gateway error body ({"error": ..., "code": N, "message": ...}), when `body` is one.
std::optional<std::string> decode_error(std::string_view body);
EtcdResult<RangeResult> decode_range(std::string_view body);
EtcdResult<int64_t> decode_put(std::string_view body);  // the revision of the put
EtcdResult<TxnResult> decode_txn(std::string_view body);
EtcdResult<LeaseGrant> decode_lease_grant(std::string_view body);
// The TTL left after a keepalive; 0 means the lease is gone (expired or revoked).
EtcdResult<int64_t> decode_keepalive(std::string_view body);
EtcdResult<WatchMessage> decode_watch(std::string_view body);

// Splits a streamed gateway body (one JSON object per message, newline-separated) into whole
// messages: returns the complete ones and leaves a partial tail in `buffer`.
std::vector<std::string> take_stream_messages(std::string& buffer);

}  // namespace sg::cluster
