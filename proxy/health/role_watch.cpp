// The monitor's side of standbys and failover (issue 19): a role check per endpoint of every
// shard that lists replicas, and what follows from the answers (see roles.h for the rules).
//
// Failover: the writes of a shard go to the one endpoint that answers pg_is_in_recovery() =
// false. When another endpoint than the current primary is the only one answering so, the
// shard's primary pools are failed (clients with a transaction on the old primary get 08006
// saying so) and retargeted to it, its breaker starts closed: writes go there from the next
// role check after the promotion (check_interval_ms). A write can never land on a standby:
// the primary pools only ever point at an endpoint that answered as primary, and should it
// later be demoted, PostgreSQL itself refuses the write (25006) and the next role check stops
// writes for the shard. Two endpoints answering as primary (split brain): writes for the
// shard are refused until only one does, rather than guessed.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <algorithm>

#include "common/sqlstate.h"
#include "proxy/health/monitor.h"
#include "proxy/health/probe.h"
#include "proxy/proxy.h"
#include "proxy/spawn.h"

namespace sg::proxy::health {

namespace asio = net::asio;

namespace {
SysTime sys_now() {
    return std::chrono::system_clock::now();
}
constexpr uint64_t kRoleCheckIdBase = (uint64_t(1) << 62) + (uint64_t(1) << 60);
uint64_t g_next_role_check_id = 1;
}  // namespace

ServerTarget Monitor::endpoint_target(const ShardHealth& h, const EndpointHealth& e) const {
    ServerTarget t = check_target(h);
    t.host = e.host;
    t.port = e.port;
    t.read_endpoint = e.index;
    return t;
}

void Monitor::sync_endpoints(ShardHealth& h) {
    const auto& sc = proxy_.config().shards[h.shard];
    if (sc.replicas.empty() && h.endpoints.empty()) return;
    std::vector<std::pair<std::string, uint16_t>> want{{sc.host, sc.port}};
    for (const auto& r : sc.replicas) want.emplace_back(r.host, r.port);
    const size_t had = h.endpoints.size();
    for (size_t i = 0; i < want.size(); ++i) {
        if (i < had) {
            auto& e = h.endpoints[i];
            if (e.host == want[i].first && e.port == want[i].second) continue;
            spdlog::warn("shard \"{}\": endpoint {} -> {}:{} (RELOAD)", h.name, e.endpoint(),
                         want[i].first, want[i].second);
            if (e.conn) e.conn->close("the endpoint's address changed");
            e.conn.reset();
            e.host = want[i].first;
            e.port = want[i].second;
            e.answered = false;
            e.eligible = false;
            for (auto& [key, pool] : proxy_.pools())
                if (pool->target().shard == h.shard && pool->target().read_endpoint == int(i))
                    pool->retarget(e.host, e.port);
            continue;
        }
        EndpointHealth e;
        e.index = int(i);
        e.host = want[i].first;
        e.port = want[i].second;
        e.since = sys_now();
        // A read pool left from an endpoint once at this index (removed by an earlier RELOAD)
        // would still point at that one's address.
        for (auto& [key, pool] : proxy_.pools())
            if (pool->target().shard == h.shard && pool->target().read_endpoint == int(i))
                pool->retarget(e.host, e.port);
        h.endpoints.push_back(std::move(e));
    }
    // Endpoints dropped from the config: their loops end, their read pools are not chosen again
    // (Proxy::read_or_primary_pool) and drain: idle connections close now, busy ones when given
    // back.
    while (h.endpoints.size() > want.size()) {
        auto& gone = h.endpoints.back();
        if (gone.conn) gone.conn->close("the endpoint left the configuration");
        for (auto& [key, pool] : proxy_.pools())
            if (pool->target().shard == h.shard && pool->target().read_endpoint == gone.index)
                pool->reconnect();
        h.endpoints.pop_back();
    }
    if (h.primary >= int(h.endpoints.size())) h.primary = 0;
    if (started_)
        for (size_t i = had; i < h.endpoints.size(); ++i)
            asio::co_spawn(proxy_.io(), role_loop(&h, int(i), alive_),
                           LogUnhandled("endpoint role check"));
}

awaitable<std::string> Monitor::role_check_once(ShardHealth& h, int endpoint, RoleReading& out) {
    const auto timeout = std::chrono::milliseconds(proxy_.config().health.check_timeout_ms);
    auto& e = h.endpoints[endpoint];
    std::shared_ptr<ServerConn> conn = e.conn;
    if (!conn || !conn->usable()) {
        e.conn.reset();
        conn = std::make_shared<ServerConn>(proxy_.io().get_executor(), endpoint_target(h, e),
                                            kRoleCheckIdBase + g_next_role_check_id++);
        std::string err = co_await conn->connect();
        if (!err.empty()) co_return "connect: " + err;
        if (size_t(endpoint) >= h.endpoints.size()) co_return "the endpoint left the configuration";
        h.endpoints[endpoint].conn = conn;
    }
    ProbeRow row;
    std::string err = co_await probe_query(*conn, kRoleQuery, timeout, &row);
    if (err.empty()) {
        auto r = parse_role_row(row);
        if (r)
            out = *r;
        else
            err = "the role check's answer is not understood";
    }
    if (!err.empty()) {
        conn->close("role check failed: " + err);
        if (size_t(endpoint) < h.endpoints.size() && h.endpoints[endpoint].conn == conn)
            h.endpoints[endpoint].conn.reset();
    }
    co_return err;
}

awaitable<void> Monitor::role_loop(ShardHealth* h, int endpoint, std::shared_ptr<bool> alive) {
    asio::steady_timer timer(proxy_.io());
    while (*alive && !proxy_.shutting_down() && size_t(endpoint) < h->endpoints.size()) {
        const HealthConfig& hc = proxy_.config().health;
        if (hc.check_enabled) {
            RoleReading r;
            std::string err = co_await role_check_once(*h, endpoint, r);
            if (!*alive || size_t(endpoint) >= h->endpoints.size()) co_return;
            note_role(*h, endpoint, err, r);
            apply_roles(*h);
        }
        // While the shard has no usable primary a promotion is what everyone waits for: look
        // more often, so writes follow it within about 100 ms whatever check_interval_ms is.
        int wait_ms = hc.check_interval_ms;
        if (!h->breaker.admits() || !h->write_block.empty()) wait_ms = std::min(wait_ms, 100);
        timer.expires_after(std::chrono::milliseconds(wait_ms));
        error_code ec;
        co_await timer.async_wait(net::ec_token(ec));
    }
}

void Monitor::note_role(ShardHealth& h, int endpoint, const std::string& err,
                        const RoleReading& r) {
    auto& e = h.endpoints[endpoint];
    ++e.checks;
    e.answered = err.empty();
    if (e.answered) {
        e.reading = r;
    } else {
        ++e.failures;
        e.last_error = err;
        e.last_error_at = sys_now();
        e.reading = RoleReading{};
    }
    const int max_lag = proxy_.config().proxy.max_replica_lag_ms;
    const bool primary_up = h.breaker.admits() && h.primary != endpoint;
    e.eligible = endpoint != h.primary && read_eligible(e.answered, e.reading, primary_up, max_lag);
    std::string state;
    if (!e.answered)
        state = "down";
    else if (e.reading.role == Role::Primary)
        state = "primary";
    else if (e.eligible)
        state = "standby";
    else if (!e.reading.streaming && primary_up)
        state = "detached";
    else
        state = "lagging";
    if (state == e.state) return;
    const double lag = standby_lag_s(e.reading);
    std::string detail =
        !e.answered ? err
        : e.reading.role == Role::Standby
            ? fmt::format("replay lag {}, max_replica_lag_ms={}, receiver {}",
                          lag < 0 ? std::string("unknown") : fmt::format("{:.3f} s", lag), max_lag,
                          e.reading.streaming ? "streaming" : "not streaming")
            : std::string("pg_is_in_recovery() = false");
    if (state == "down" || state == "lagging" || state == "detached")
        spdlog::warn(
            "shard \"{}\" endpoint {}: {} -> {} ({}){}", h.name, e.endpoint(), e.state, state,
            detail,
            endpoint == h.primary ? "" : ": no reads go to it until it is back within the bound");
    else
        spdlog::info("shard \"{}\" endpoint {}: {} -> {} ({})", h.name, e.endpoint(), e.state,
                     state, detail);
    e.state = std::move(state);
    e.since = sys_now();
}

void Monitor::apply_roles(ShardHealth& h) {
    std::vector<EndpointView> views;
    for (const auto& e : h.endpoints)
        views.push_back({e.answered, e.answered ? e.reading.role : Role::Unknown});
    PrimaryDecision d = decide_primary(h.primary, views);
    if (!d.split_brain && d.primary != h.primary) fail_over(h, d.primary);
    std::string block;
    if (d.split_brain) {
        std::string who;
        for (const auto& e : h.endpoints)
            if (e.answered && e.reading.role == Role::Primary)
                who += (who.empty() ? "" : ", ") + e.endpoint();
        block = fmt::format(
            "split brain: {} all answer as primary (pg_is_in_recovery() = false); writes are "
            "refused until only one "
            "does (demote the others)",
            who);
    } else if (d.current_in_recovery) {
        block = fmt::format(
            "its primary {} is in recovery (a standby) and no other endpoint answers as primary; "
            "promote one",
            h.endpoint());
    }
    if (block == h.write_block) return;
    if (block.empty()) {
        spdlog::warn("shard \"{}\" ({}): writes allowed again: one primary", h.name, h.endpoint());
        h.write_block.clear();
        return;
    }
    spdlog::error("shard \"{}\": {}", h.name, block);
    h.write_block = std::move(block);
    fail_shard(h);  // a transaction on either side of a split brain must not go on
}

void Monitor::fail_over(ShardHealth& h, int to) {
    const auto& e = h.endpoints[to];
    const std::string from = h.endpoint();
    ++h.failovers;
    spdlog::warn(
        "shard \"{}\": failover: primary {} -> {} (it answers pg_is_in_recovery() = false); writes "
        "go there now",
        h.name, from, e.endpoint());
    const std::string why = fmt::format(
        "shard \"{}\" failed over from {} to {}: this connection was to the old primary and is "
        "closed; a transaction "
        "on it did not commit unless its COMMIT was answered; run it again",
        h.name, from, e.endpoint());
    for (auto& [key, pool] : proxy_.pools()) {
        if (pool->target().shard != h.shard || pool->target().read_endpoint >= 0) continue;
        pool->retarget(e.host, e.port);
        pool->fail_all(sqlstate::kConnectionFailure, why);
    }
    h.primary = to;
    h.host = e.host;
    h.port = e.port;
    h.write_block.clear();
    if (h.conn) h.conn->close("the shard failed over");
    h.conn.reset();
    h.breaker.reset(sys_now());
    for (auto& x : h.endpoints) x.eligible = x.eligible && x.index != to;
    proxy_.primary_moved();  // 2PC recovery and the stamp watcher follow it too
}

}  // namespace sg::proxy::health
