#include "proxy/health/monitor.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/sqlstate.h"
#include "proxy/health/probe.h"
#include "proxy/proxy.h"
#include "proxy/spawn.h"

namespace sg::proxy::health {

namespace asio = net::asio;

namespace {
SysTime sys_now() {
    return std::chrono::system_clock::now();
}
// Check connections get ids far from the pools' so SHOW SERVERS and logs never mix them up.
constexpr uint64_t kCheckIdBase = uint64_t(1) << 62;
}  // namespace

// ---- ShardHealth -------------------------------------------------------------------------

std::string ShardHealth::endpoint() const {
    return fmt::format("{}:{}", host, port);
}

const char* ShardHealth::state_name() const {
    if (!write_block.empty() && breaker.admits()) return "no-primary";
    switch (breaker.state()) {
        case BreakerState::Closed:
            return breaker.consecutive_failures() > 0 ? "down" : "up";
        case BreakerState::Open:
            return "open";
        case BreakerState::HalfOpen:
            return "half-open";
    }
    return "?";
}

std::string EndpointHealth::endpoint() const {
    return fmt::format("{}:{}", host, port);
}

std::string ShardHealth::refusal() const {
    if (!write_block.empty() && breaker.admits())
        return fmt::format("shard \"{}\" refuses statements for its primary: {}", name,
                           write_block);
    return fmt::format(
        "shard \"{}\" ({}) is unavailable since {}: {} (circuit breaker {}; statements for it "
        "fail at once until a health check gets an answer)",
        name, endpoint(), format_utc(breaker.since()), breaker.open_reason(),
        to_string(breaker.state()));
}

void ShardHealth::failure(std::string_view reason) {
    auto change = breaker.on_failure(sys_now(), reason);
    if (monitor) monitor->report(*this, change);
}

// ---- Monitor -----------------------------------------------------------------------------

Monitor::Monitor(Proxy& proxy) : proxy_(proxy) {}

Monitor::~Monitor() {
    *alive_ = false;
    for (auto& h : shards_) {
        if (h->conn) h->conn->close("shutdown");
        for (auto& e : h->endpoints)
            if (e.conn) e.conn->close("shutdown");
    }
}

void Monitor::add_shard(int i) {
    const auto& sc = proxy_.config().shards[i];
    auto h = std::make_unique<ShardHealth>();
    h->shard = i;
    h->name = sc.name;
    h->host = sc.host;
    h->port = sc.port;
    h->config_host = sc.host;
    h->config_port = sc.port;
    h->breaker.set_threshold(proxy_.config().health.breaker_failures);
    h->breaker.reset(sys_now());
    h->monitor = this;
    shards_.push_back(std::move(h));
    if (started_) {
        asio::co_spawn(proxy_.io(), check_loop(shards_.back().get(), alive_),
                       LogUnhandled("health check"));
        sync_endpoints(*shards_.back());
    }
}

void Monitor::start() {
    for (size_t i = shards_.size(); i < proxy_.config().shards.size(); ++i) add_shard(int(i));
    started_ = true;
    for (auto& h : shards_) {
        asio::co_spawn(proxy_.io(), check_loop(h.get(), alive_), LogUnhandled("health check"));
        sync_endpoints(*h);
    }
    asio::co_spawn(proxy_.io(), sweep_loop(alive_), LogUnhandled("health sweep"));
}

void Monitor::reconfigure() {
    const Config& cfg = proxy_.config();
    for (auto& h : shards_) {
        h->breaker.set_threshold(cfg.health.breaker_failures);
        const auto& sc = cfg.shards[h->shard];
        std::vector<std::string> before;
        for (const auto& e : h->endpoints) before.push_back(e.endpoint());
        sync_endpoints(*h);
        for (size_t i = before.size(); i < h->endpoints.size(); ++i)
            spdlog::warn("shard \"{}\": endpoint {} added (RELOAD)", h->name,
                         h->endpoints[i].endpoint());
        for (size_t i = h->endpoints.size(); i < before.size(); ++i)
            spdlog::warn(
                "shard \"{}\": endpoint {} removed (RELOAD): reads leave it, its connections drain",
                h->name, before[i]);
        // Compared with what the config said, not with the current primary: after a failover
        // h->host is the promoted standby, and an unrelated RELOAD must not move writes back.
        if (sc.host == h->config_host && sc.port == h->config_port) continue;
        h->config_host = sc.host;
        h->config_port = sc.port;
        spdlog::warn(
            "shard \"{}\": endpoint {} -> {}:{} (RELOAD): new connections go to the new address; "
            "old ones "
            "are closed when idle",
            h->name, h->endpoint(), sc.host, sc.port);
        h->host = sc.host;
        h->port = sc.port;
        h->breaker.reset(sys_now());
        if (h->conn) h->conn->close("the shard's address changed");
        h->conn.reset();
        for (auto& [key, pool] : proxy_.pools())
            if (pool->target().shard == h->shard && pool->target().read_endpoint < 0)
                pool->retarget(sc.host, sc.port);
    }
    for (size_t i = shards_.size(); i < cfg.shards.size(); ++i) add_shard(int(i));
}

int Monitor::degraded() const {
    int n = 0;
    for (const auto& h : shards_) n += !h->admits();
    return n;
}

void Monitor::report(ShardHealth& h, const std::optional<BreakerChange>& change) {
    if (!change) return;
    if (change->to == BreakerState::Open && change->from == BreakerState::Closed) {
        spdlog::error("shard \"{}\" ({}): down, circuit breaker open after {} failure(s): {}",
                      h.name, h.endpoint(), h.breaker.threshold(), change->reason);
        fail_shard(h);
    } else if (change->to == BreakerState::Closed) {
        spdlog::warn(
            "shard \"{}\" ({}): up again, circuit breaker {} -> closed: {} (last error: {})",
            h.name, h.endpoint(), to_string(change->from), change->reason, h.breaker.last_error());
    } else {
        // Open <-> HalfOpen every check interval while the shard stays down: not worth a line each.
        spdlog::debug("shard \"{}\" ({}): circuit breaker {} -> {}: {}", h.name, h.endpoint(),
                      to_string(change->from), to_string(change->to), change->reason);
    }
}

void Monitor::fail_shard(ShardHealth& h) {
    std::string why = h.refusal();
    for (auto& [key, pool] : proxy_.pools())
        if (pool->target().shard == h.shard && pool->target().read_endpoint < 0)
            pool->fail_all(sqlstate::kConnectionFailure, why);
}

ServerTarget Monitor::check_target(const ShardHealth& h) const {
    const Config& cfg = proxy_.config();
    const auto& sc = cfg.shards[h.shard];
    // The check logs in as the first non-admin user would (its server login), else the first user.
    const UserConfig* user = nullptr;
    for (const auto& u : cfg.users)
        if (!u.admin) {
            user = &u;
            break;
        }
    if (!user && !cfg.users.empty()) user = &cfg.users.front();
    ServerLogin login = server_login(sc, user);
    const HealthConfig& hc = cfg.health;
    ServerTarget t{h.shard,
                   sc.name,
                   h.host,
                   h.port,
                   sc.dbname,
                   login.user,
                   login.password,
                   hc.check_timeout_ms,
                   TcpOptions{hc.tcp_keepalive, hc.tcp_keepidle_s, hc.tcp_keepintvl_s,
                              hc.tcp_keepcnt, hc.tcp_user_timeout_ms},
                   0};
    t.connect_timeout_key = "[health] check_timeout_ms";
    return t;
}

awaitable<std::string> Monitor::check_once(ShardHealth& h) {
    const auto timeout = std::chrono::milliseconds(proxy_.config().health.check_timeout_ms);
    if (!h.conn || !h.conn->usable()) {
        h.conn.reset();
        auto c = std::make_shared<ServerConn>(proxy_.io().get_executor(), check_target(h),
                                              kCheckIdBase + next_check_id_++);
        std::string err = co_await c->connect();
        if (!err.empty()) {
            // A shard that refuses the login answered: it is up (the check's credentials are
            // wrong, or it is full) unless it says it is starting or shutting down.
            const std::string& st = c->login_refused_sqlstate();
            if (!st.empty() && !st.starts_with("57P0")) {
                spdlog::debug("shard \"{}\": health check login refused: {}", h.name, err);
                co_return std::string();
            }
            co_return "connect: " + err;
        }
        h.conn = std::move(c);
    }
    auto conn = h.conn;  // a RELOAD may replace h.conn meanwhile
    std::string err = co_await probe(*conn, timeout);
    if (!err.empty()) {
        conn->close("health check failed: " + err);
        if (h.conn == conn) h.conn.reset();
    }
    co_return err;
}

awaitable<void> Monitor::check_loop(ShardHealth* h, std::shared_ptr<bool> alive) {
    asio::steady_timer timer(proxy_.io());
    while (*alive && !proxy_.shutting_down()) {
        const HealthConfig& hc = proxy_.config().health;
        auto wait = std::chrono::milliseconds(hc.check_interval_ms);
        if (hc.check_enabled) {
            report(*h, h->breaker.on_probe(sys_now()));
            auto t0 = net::Clock::now();
            std::string err = co_await check_once(*h);
            if (!*alive) co_return;
            double secs = std::chrono::duration<double>(net::Clock::now() - t0).count();
            ++h->checks;
            h->last_check_seconds = secs;
            h->check_seconds_sum += secs;
            h->last_check_at = sys_now();
            h->last_check_ok = err.empty();
            if (err.empty()) {
                report(*h, h->breaker.on_success(sys_now()));
            } else if (h->breaker.admits() && primary_answered_since(*h, t0)) {
                // The shard answered pooled statements while the check waited: the check itself
                // was slow (a CPU-starved host: a new backend's fork and login past
                // check_timeout_ms), not the shard. Opening the breaker would fail every
                // statement in flight on a shard that is serving them.
                ++h->check_failures;
                ++h->checks_overruled;
                spdlog::debug(
                    "shard \"{}\": health check failed ({}) but pooled connections got answers "
                    "meanwhile",
                    h->name, err);
            } else {
                ++h->check_failures;
                report(*h, h->breaker.on_failure(sys_now(), "health check: " + err));
                // A first failure is confirmed soon, not a full interval later: the breaker
                // opens within about (threshold x check_timeout_ms) of a freeze.
                if (h->admits())
                    wait = std::chrono::milliseconds(std::min(hc.check_interval_ms, 50));
            }
        }
        timer.expires_after(wait);
        error_code ec;
        co_await timer.async_wait(net::ec_token(ec));
    }
}

bool Monitor::primary_answered_since(const ShardHealth& h, net::Clock::time_point t) const {
    for (const auto& [key, pool] : proxy_.pools()) {
        if (pool->target().shard != h.shard || pool->target().read_endpoint >= 0) continue;
        for (const auto& w : pool->all())
            if (auto s = w.lock(); s && s->usable() && s->ready_at() >= t) return true;
    }
    return false;
}

void Monitor::sweep_queries() {
    const HealthConfig& hc = proxy_.config().health;
    if (hc.query_timeout_ms <= 0) return;
    const auto limit = std::chrono::milliseconds(hc.query_timeout_ms);
    const auto grace = std::chrono::milliseconds(hc.query_timeout_grace_ms);
    const auto now = net::coarse_now();
    std::vector<std::shared_ptr<ServerConn>> overdue;
    for (auto& [key, pool] : proxy_.pools()) {
        for (const auto& w : pool->all()) {
            auto s = w.lock();
            if (!s || !s->usable() || s->outstanding() == 0 || now - s->busy_since() < limit)
                continue;
            ShardHealth* h = shard(s->target().shard);
            if (!s->cancel_sent()) {
                // The shard answers the cancel with its own 57014 and the connection stays usable.
                s->mark_cancel_sent();
                if (h) ++h->query_timeouts;
                spdlog::warn(
                    "server {} (shard \"{}\"): a statement passed query_timeout_ms={}: cancelling "
                    "it",
                    s->id(), s->target().shard_name, hc.query_timeout_ms);
                send_cancel_bounded(proxy_.io().get_executor(), s->target(), s->backend_pid(),
                                    s->backend_secret(), grace);
            } else if (now - s->busy_since() >= limit + grace) {
                overdue.push_back(std::move(s));
            }
        }
    }
    for (auto& s : overdue) {
        ShardHealth* h = shard(s->target().shard);
        if (h) ++h->dropped_timeouts;
        std::string why = fmt::format(
            "canceling statement due to query_timeout_ms={}: shard \"{}\" did not answer the "
            "cancel within {} ms "
            "(the connection to it was closed)",
            hc.query_timeout_ms, s->target().shard_name, hc.query_timeout_grace_ms);
        spdlog::warn("server {} (shard \"{}\"): {}", s->id(), s->target().shard_name, why);
        s->abort(sqlstate::kQueryCanceled, why);
        if (h && s->target().read_endpoint < 0)  // a standby's silence is its role check's business
            h->failure(fmt::format(
                "a statement passed query_timeout_ms={} and the shard did not answer its cancel",
                hc.query_timeout_ms));
    }
}

awaitable<void> Monitor::sweep_loop(std::shared_ptr<bool> alive) {
    asio::steady_timer timer(proxy_.io());
    auto last_lifetime = net::Clock::now();
    while (*alive && !proxy_.shutting_down()) {
        const HealthConfig& hc = proxy_.config().health;
        // Fine enough that a statement is cancelled within ~10% of query_timeout_ms after it.
        int tick_ms =
            hc.query_timeout_ms > 0 ? std::clamp(hc.query_timeout_ms / 10, 10, 100) : 1000;
        timer.expires_after(std::chrono::milliseconds(tick_ms));
        error_code ec;
        co_await timer.async_wait(net::ec_token(ec));
        if (!*alive) co_return;
        sweep_queries();
        if (hc.server_lifetime_s > 0 &&
            net::Clock::now() - last_lifetime >= std::chrono::seconds(1)) {
            last_lifetime = net::Clock::now();
            for (auto& [key, pool] : proxy_.pools())
                pool->close_expired(std::chrono::seconds(hc.server_lifetime_s));
        }
    }
}

}  // namespace sg::proxy::health
