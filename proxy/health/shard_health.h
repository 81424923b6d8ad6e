// What the proxy knows about the health of one shard endpoint: its circuit breaker, the
// background check's figures and the failure counters behind SHOW SHARDS and /metrics.
// Pools consult admits() before handing out a connection and report passive failures here.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/health/breaker.h"
#include "proxy/health/roles.h"

namespace sg::proxy {
class ServerConn;
}

namespace sg::proxy::health {

class Monitor;

// One host of a shard with standbys (issue 19): index 0 is the [[shards]] host, 1.. its
// `replicas` in order. Its role check (role_watch.cpp) keeps these current.
struct EndpointHealth {
    int index = 0;
    std::string host;
    uint16_t port = 0;
    bool answered = false;          // the last role check got an answer
    RoleReading reading;            // of the last answer
    bool eligible = false;          // may serve reads now (read_eligible)
    std::string state = "unknown";  // primary, standby, lagging, detached, down, unknown
    std::string last_error;
    SysTime last_error_at{};
    SysTime since{};  // of `state`
    uint64_t checks = 0;
    uint64_t failures = 0;
    std::shared_ptr<ServerConn> conn;  // the role check's own connection
    std::string endpoint() const;
};

struct ShardHealth {
    int shard = 0;
    std::string name;
    std::string host;
    uint16_t port = 0;
    Breaker breaker;
    Monitor* monitor = nullptr;

    uint64_t checks = 0;
    uint64_t check_failures = 0;
    uint64_t checks_overruled = 0;
    uint64_t read_retries = 0;  // reads sent to another endpoint after theirs could not be reached
    uint64_t read_retries_lost = 0;  // ... after their connection was lost before any answer
    uint64_t connect_failures = 0;   // pool connects that got no answer (passive signal)
    uint64_t query_timeouts = 0;     // statements past query_timeout_ms (cancel sent)
    uint64_t dropped_timeouts = 0;   // of those, connections dropped: the cancel got no answer
    double last_check_seconds = 0;   // latency of the last check (connect when needed + query)
    double check_seconds_sum = 0;
    SysTime last_check_at{};
    bool last_check_ok = false;
    std::shared_ptr<ServerConn> conn;  // the checker's own connection, kept between checks

    // Standbys and failover (only when the shard lists replicas). host/port above are the
    // current primary's; config_host/config_port what the config says, so a RELOAD moves the
    // shard only when the config changed, not back to a primary that failed over.
    std::string config_host;
    uint16_t config_port = 0;
    std::vector<EndpointHealth> endpoints;
    int primary = 0;  // index into endpoints
    uint64_t failovers = 0;
    // Non-empty: writes are refused with this reason (split brain, primary in recovery).
    std::string write_block;

    // Statements for this shard may run (the breaker is closed).
    bool admits() const { return breaker.admits() && write_block.empty(); }
    std::string endpoint() const;
    // up (closed, no failure pending), down (closed, failures below the threshold), open,
    // half-open.
    const char* state_name() const;
    // The 08006 message a refused statement gets: the shard, the reason, since when.
    std::string refusal() const;
    // A passive failure signal (a connect that got no answer, a statement the shard did not
    // answer); may open the breaker (see Monitor::report).
    void failure(std::string_view reason);
};

}  // namespace sg::proxy::health
