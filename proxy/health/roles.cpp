#include "proxy/health/roles.h"

#include <cstdlib>

namespace sg::proxy::health {

const char* to_string(Role r) {
    switch (r) {
        case Role::Primary:
            return "primary";
        case Role::Standby:
            return "standby";
        case Role::Unknown:
            return "unknown";
    }
    return "unknown";
}

const char* const kRoleQuery =
    "SELECT pg_catalog.pg_is_in_recovery(), "
    "pg_catalog.pg_is_in_recovery() AND pg_catalog.pg_last_wal_receive_lsn() IS NOT NULL AND "
    "pg_catalog.pg_last_wal_receive_lsn() <= pg_catalog.pg_last_wal_replay_lsn(), "
    "EXISTS (SELECT 1 FROM pg_catalog.pg_stat_wal_receiver WHERE status = 'streaming' OR "
    "(status IS NULL AND pid IS NOT NULL)), "
    "EXTRACT(EPOCH FROM pg_catalog.now() - pg_catalog.pg_last_xact_replay_timestamp())";

namespace {
std::optional<bool> boolean(const std::optional<std::string>& v) {
    if (!v) return std::nullopt;
    if (*v == "t") return true;
    if (*v == "f") return false;
    return std::nullopt;
}
}  // namespace

std::optional<RoleReading> parse_role_row(const std::vector<std::optional<std::string>>& row) {
    if (row.size() != 4) return std::nullopt;
    auto recovery = boolean(row[0]);
    auto caught_up = boolean(row[1]);
    auto streaming = boolean(row[2]);
    if (!recovery || !caught_up || !streaming) return std::nullopt;
    RoleReading r;
    r.role = *recovery ? Role::Standby : Role::Primary;
    r.caught_up = *caught_up;
    r.streaming = *streaming;
    if (row[3]) {
        char* end = nullptr;
        double v = std::strtod(row[3]->c_str(), &end);
        if (end == row[3]->c_str() || *end != '\0') return std::nullopt;
        r.since_replay_s = v < 0 ? 0 : v;  // clocks of two hosts may disagree a little
    }
    return r;
}

double standby_lag_s(const RoleReading& r) {
    if (r.role != Role::Standby) return 0;
    if (r.caught_up) return 0;
    return r.since_replay_s;
}

bool read_eligible(bool answered, const RoleReading& r, bool primary_up, int max_lag_ms) {
    if (!answered || r.role != Role::Standby) return false;
    if (!r.streaming && primary_up) return false;
    double lag = standby_lag_s(r);
    return lag >= 0 && lag * 1000 <= max_lag_ms;
}

PrimaryDecision decide_primary(int current, std::span<const EndpointView> endpoints) {
    PrimaryDecision d;
    d.primary = current;
    int primaries = 0, other = -1;
    for (int i = 0; i < int(endpoints.size()); ++i) {
        if (!endpoints[i].answered || endpoints[i].role != Role::Primary) continue;
        ++primaries;
        if (i != current) other = i;
    }
    if (primaries > 1) {
        d.split_brain = true;
        return d;
    }
    if (primaries == 1 && other >= 0) {
        d.primary = other;
        return d;
    }
    if (primaries == 0 && current >= 0 && current < int(endpoints.size()) &&
        endpoints[current].answered && endpoints[current].role == Role::Standby)
        d.current_in_recovery = true;
    return d;
}

}  // namespace sg::proxy::health
