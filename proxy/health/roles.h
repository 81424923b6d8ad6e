// Roles and replay lag of a shard's endpoints (issue 19), without I/O: what the role check
// asks each endpoint, how its answer reads, which endpoint is the primary, and which standbys
// may serve reads. The monitor (role_watch.cpp) carries these decisions out.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

namespace sg::proxy::health {

enum class Role { Unknown, Primary, Standby };
const char* to_string(Role r);

// The role check, one row: in recovery; caught up (everything received is replayed); the WAL
// receiver streaming; seconds since the last replayed commit (NULL when none yet).
//
// Lag: `now() - pg_last_xact_replay_timestamp()` alone grows while the primary is idle, so an
// idle primary would make a healthy standby look lagging. A standby that has replayed all it
// received from a streaming receiver has nothing left to apply: its lag is 0. Otherwise the
// lag is the time since its last replayed commit, an over-estimate that errs towards the
// primary (a standby whose replay is paused, or that is behind, stops serving reads once the
// oldest missing commit is older than the bound).
//
// Streaming: pg_stat_wal_receiver shows its status only to roles with pg_read_all_stats; to
// any other login (the usual application role the check logs in as) it shows the receiver's
// pid and NULL elsewhere. Without the privilege a running receiver process counts as
// streaming: it exists while connected or connecting to the primary, and a receiver that loses
// the primary exits (it is restarted every wal_retrieve_retry_interval). Reading the status as
// "not streaming" instead banned every standby from reads while its primary was up.
extern const char* const kRoleQuery;

struct RoleReading {
    Role role = Role::Unknown;
    bool caught_up = false;
    bool streaming = false;
    double since_replay_s = -1;  // -1: no commit replayed yet
};
// nullopt when the row is not the role query's.
std::optional<RoleReading> parse_role_row(const std::vector<std::optional<std::string>>& row);

// A standby's replay lag in seconds; -1 when unknown (nothing replayed and not caught up).
double standby_lag_s(const RoleReading& r);

// A standby may serve reads: it answered, is in recovery, and is within `max_lag_ms`. One that
// is not streaming (its receiver lost the primary) is as fresh as anything reachable only while
// the primary itself is down (a failover in progress); otherwise it is banned: it could be cut
// off from a primary that goes on committing.
bool read_eligible(bool answered, const RoleReading& r, bool primary_up, int max_lag_ms);

// What the role checks say about who is primary.
struct EndpointView {
    bool answered = false;
    Role role = Role::Unknown;
};
struct PrimaryDecision {
    int primary = 0;           // the endpoint writes go to
    bool split_brain = false;  // several endpoints answered as primary: writes must stop
    bool current_in_recovery =
        false;  // the current primary answered as a standby and no other is primary
};
// `current` stays the primary unless exactly one other endpoint answered as primary (a
// promotion); an endpoint that did not answer keeps no role.
PrimaryDecision decide_primary(int current, std::span<const EndpointView> endpoints);

}  // namespace sg::proxy::health
