// A switch pause through etcd (issue 22): the rebalancer writes `<prefix>/pause` ("pause
// buckets B for version V") under its lock's lease; every proxy watches it, pauses B with a
// lease of its own (proxy/pause_lease.h) and acknowledges in its registration
// (`<prefix>/proxies/<instance>`, field "pause"). Pure: the bodies and their checks, no I/O.
//
// Protocol (rebalance side: cli/rebalance_pauses.h; proxy side: proxy/proxy_etcd_pause.cpp):
//  - a Put of the key with a new `id` is a new pause: the proxy pauses the buckets, waits (at
//    most `drain_ms`) for the open transactions that touched them, and acknowledges
//    {"id", "state": "held"} (or "drain_failed": nothing stays paused there);
//  - a Put with the same `id` renews the proxy's pause (its lease starts again from now);
//  - the key deleted (by the rebalancer once every proxy routes by V+1, or by an aborted
//    switch, or by etcd when the rebalancer's lease expired) ends it: the proxy applies every
//    map version published before the deletion first (one watch stream, revision order), then
//    resumes and acknowledges "resumed";
//  - a pause whose proxy-side lease runs out is lifted ("lapsed"): the proxy rewrites its
//    registration BEFORE it routes again (it re-reads the map after that write), so a
//    rebalancer's decision, which compares every acknowledging registration's mod_revision,
//    either fails (the lapse came first) or is seen by that map read (the decision came first).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "proxy/cluster/etcd_json.h"

namespace sg::cluster {

struct PauseOrder {
    std::string id;        // unique per switch attempt
    std::string buckets;   // "3-5,9"
    uint64_t version = 0;  // the map version the switch starts from (it publishes version + 1)
    int lease_ms = 0;      // the proxy-side lease, renewed by each Put with the same id
    int drain_ms = 0;      // how long to wait for open transactions on those buckets
    std::string owner;     // shown by SHOW PAUSES
    uint64_t renewal = 0;  // bumped by each renewal (a Put must change the value to be seen)
};

std::string encode_pause_order(const PauseOrder& o);
// An error naming what is wrong; never a partial order.
EtcdResult<PauseOrder> parse_pause_order(const std::string& value);

// A proxy's acknowledgement, in its registration.
struct PauseAck {
    std::string id;
    std::string state;  // "held", "drain_failed", "resumed", "lapsed", "refused: why"
};
inline constexpr const char* kPauseHeld = "held";
inline constexpr const char* kPauseDrainFailed = "drain_failed";
inline constexpr const char* kPauseResumed = "resumed";
inline constexpr const char* kPauseLapsed = "lapsed";

// What a registration value says: address, lease TTL, map version routed by (0: fenced),
// paused buckets and the last pause acknowledged.
struct Registration {
    std::string address;
    int lease_ttl_s = 0;
    uint64_t map_version = 0;
    std::string paused_buckets;
    std::optional<PauseAck> pause;
};
EtcdResult<Registration> parse_registration(const std::string& value);

}  // namespace sg::cluster
