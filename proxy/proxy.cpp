#include "proxy/proxy.h"
#include "common/sqlstate.h"
#include "proxy/analysis_workers.h"
#include "proxy/txn/deadlock_detector.h"

#include <fmt/format.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include "common/cluster_reload.h"
#include "common/logging.h"
#include "proxy/cluster/etcd_agent.h"
#include "proxy/front_door.h"
#include "proxy/health/report.h"
#include "proxy/http/http_server.h"
#include "proxy/notify/service.h"
#include "proxy/session.h"
#include "proxy/spawn.h"
#include "proxy/stamp_watcher.h"
#include "proxy/stats/live_report.h"
#include "proxy/stats/prometheus.h"
#include "proxy/txn/coordinator.h"
#include "proxy/txn/startup.h"
#include "proxy/wire/frame_cursor.h"
#include "proxy/wire/messages/error_response.h"
#include "proxy/wire/writer.h"
#include "rebalance/map_gate.h"

namespace sg::proxy {

namespace asio = net::asio;

Proxy::Proxy(asio::io_context& io, Config cfg, std::string config_path)
    : io_(io),
      cfg_(std::move(cfg)),
      config_path_(std::move(config_path)),
      acceptor_(io),
      signals_(io),
      health_(std::make_unique<health::Monitor>(*this)),
      stats_(std::make_unique<stats::QueryStats>(cfg_.stats)),
      pauses_(std::make_unique<PauseControl>(io.get_executor())) {
    txn_ = std::make_unique<txn::Coordinator>(cfg_);
    users_ = std::make_shared<const std::vector<UserConfig>>(cfg_.users);
    make_notify_service();
    for (const auto& s : cfg_.shards) shard_totals_.push_back(stats::ShardTotals{s.name});
}

std::string Proxy::take_read_buffer() {
    if (spare_read_buffers_.empty()) return std::string(kClientReadBuffer, '\0');
    std::string b = std::move(spare_read_buffers_.back());
    spare_read_buffers_.pop_back();
    return b;
}

void Proxy::give_read_buffer(std::string&& buf) {
    // Buffers grown for a large message are freed; the spares never exceed what was in use
    // at once, bounded anyway.
    if (buf.size() == kClientReadBuffer && spare_read_buffers_.size() < 4096)
        spare_read_buffers_.push_back(std::move(buf));
    buf = std::string();
}

const std::vector<std::string>* Proxy::known_columns(const std::string& table) const {
    auto it = table_columns_.find(table);
    return it == table_columns_.end() ? nullptr : &it->second;
}

void Proxy::remember_columns(const std::string& table, std::vector<std::string> columns) {
    table_columns_[table] = std::move(columns);
}

Proxy::~Proxy() {
    analysis_workers_.reset();  // waits for the jobs running; their results are posted to io_
    etcd_agent_.reset();        // joins its threads before anything they post to goes away
    recovery_.reset();          // joins its thread before the coordinator it reads goes
    if (http_) http_->stop();
    stamp_watcher_.reset();  // joins its thread before anything it reports to goes away
}

stats::ProxyMetrics Proxy::metrics() const {
    stats::ProxyMetrics m;
    for (const auto& [key, pool] : pools_) {
        stats::PoolMetrics pm;
        pm.shard = pool->target().shard_name;
        pm.user = pool->target().user;
        pm.active = pool->active_count();
        pm.idle = pool->idle_count();
        pm.waiting =
            pool->waiting() + held_clients(key.first, key.second);  // as SHOW POOLS' cl_waiting
        pm.total = pool->total();
        pm.checkouts = pool->stats().checkouts;
        pm.timeouts = pool->stats().timeouts;
        pm.wait_seconds = pool->stats().wait_seconds;
        m.pools.push_back(std::move(pm));
    }
    m.shards = shard_totals_;
    m.clients = sessions_.size();
    m.clients_accepted = counters_.clients_accepted;
    m.lookups_prepared = counters_.lookups_prepared;
    m.clients_paused = static_cast<uint64_t>(std::max(0, pauses_->held_clients()));
    m.pauses_active = pauses_->views().size();
    m.pause_expired = pauses_->expired_total();
    m.bytes_in = counters_.bytes_in;
    m.bytes_out = counters_.bytes_out;
    m.uptime_seconds = std::chrono::duration<double>(net::Clock::now() - started_).count();
    return m;
}

std::string Proxy::build_credentials(const Config& cfg,
                                     std::map<std::string, auth::Credential>& out) {
    for (const auto& u : cfg.users) {
        if (u.auth == AuthMethod::Trust) continue;
        auth::Credential c;
        if (auto st = auth::parse_credential(u.name, u.password, c); !st.ok())
            return fmt::format("{}: users: user \"{}\": password: {}", cfg.source, u.name,
                               st.error());
        out.emplace(u.name, std::move(c));
    }
    return {};
}

const auth::Credential* Proxy::credential(const std::string& user) const {
    auto it = credentials_.find(user);
    return it == credentials_.end() ? nullptr : &it->second;
}

std::string Proxy::setup_tls() {
    if (cfg_.proxy.tls_cert.empty()) return {};
    auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                     asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                     asio::ssl::context::no_tlsv1_1);
    error_code ec;
    ctx->use_certificate_chain_file(cfg_.proxy.tls_cert, ec);
    if (ec)
        return fmt::format("{}: proxy.tls_cert: cannot load '{}': {}", cfg_.source,
                           cfg_.proxy.tls_cert, ec.message());
    ctx->use_private_key_file(cfg_.proxy.tls_key, asio::ssl::context::pem, ec);
    if (ec)
        return fmt::format("{}: proxy.tls_key: cannot load '{}': {}", cfg_.source,
                           cfg_.proxy.tls_key, ec.message());
    tls_ = std::move(ctx);
    return {};
}

std::string Proxy::start() {
    if (auto err = build_credentials(cfg_, credentials_); !err.empty()) return err;
    if (auto err = sync_map_from_etcd(); !err.empty()) return err;
    auto gated = rebalance::open_cluster_map(cfg_, rebalance::GateMode::Bootstrap);
    if (!gated) return gated.error().message;
    map_ = std::make_unique<router::ShardMap>(std::move(gated->map));
    map_from_file_ = gated->from_file;
    stamp_readings_ = std::move(gated->readings);
    statements_ = std::make_unique<router::StatementCache>(4096, router::TableCatalog(cfg_.tables));
    analysis_workers_ = std::make_unique<AnalysisWorkers>(cfg_.proxy.analysis_threads);
    if (!map_->fence().empty())
        spdlog::error("sharded statements are refused: {}", map_->fence());
    else
        spdlog::info("shard map {} version {} (hash {}): {} buckets over {} shard(s)",
                     cfg_.map_path(), map_->version(), router::content_hash(*map_),
                     map_->bucket_count(), cfg_.shards.size());
    stamp_watcher_ = std::make_unique<StampWatcher>(
        io_, cfg_, std::chrono::milliseconds(cfg_.proxy.stamp_poll_ms),
        [this](std::vector<router::ShardStampReading> r, net::Clock::time_point began) {
            on_stamp_readings(std::move(r), began);
        });
    // A switch's pause that lapses holds its buckets until the shards show no switch in doubt
    // (settle_lapsed_pause); with etcd, proxy_etcd.cpp adds its own steps.
    pauses_->set_on_buckets_lapsed([this] { return on_bucket_pause_lapsed(); });
    if (auto err = setup_tls(); !err.empty()) return err;
    // Prepared leftovers of this instance's previous life are resolved before clients can
    // connect (and before the port accepts, so "accepting" means "recovered").
    recovery_ = txn::start_recovery(cfg_, *txn_);
    deadlocks_ = std::make_unique<txn::DeadlockDetector>(*this);
    error_code ec;
    auto addr = asio::ip::make_address(cfg_.proxy.listen_addr, ec);
    if (ec)
        return fmt::format("{}: proxy.listen_addr: '{}' is not an IP address", cfg_.source,
                           cfg_.proxy.listen_addr);
    net::tcp::endpoint ep(addr, cfg_.proxy.port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(net::tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
        return fmt::format("cannot listen on {}:{}: {}", cfg_.proxy.listen_addr, cfg_.proxy.port,
                           ec.message());
    if (!cfg_.admin.http_listen.empty()) {
        http_ = std::make_unique<http::HttpServer>();
        // The live report is built on this event loop (QueryStats is single-threaded) when a
        // page is asked for, at most once per Options::max_age.
        auto pages = std::make_shared<stats::live::Pages>(
            [this] {
                std::vector<std::string> names;
                for (const auto& s : cfg_.shards) names.push_back(s.name);
                return stats::live::build(*stats_, names, stats::live::Options{});
            },
            stats::live::Options{});
        http::Endpoints endpoints{
            [this] {
                return stats::render_prometheus(*stats_, metrics()) + txn::render_metrics(*txn_) +
                       health::render_prometheus(*health_) + etcd_metrics() + notify_metrics();
            },
            [this] {
                auto r = health::readiness(*health_);
                // A pause stuck past its bound: not ready for new clients (proxy/pause_control.h).
                std::string stuck =
                    stuck_pauses(*pauses_, std::chrono::milliseconds(cfg_.proxy.max_pause_ms),
                                 net::Clock::now());
                if (!stuck.empty())
                    r = {false, (r.ready ? std::string("degraded\n") : r.text) + stuck};
                return r;
            },
            [pages] { return pages->html(); }, [pages] { return pages->json(); },
            [this] { return cfg_.admin.http_auth; }};
        std::string err = http_->start(io_, cfg_.admin.http_listen, std::move(endpoints));
        if (!err.empty()) return fmt::format("{}: admin.http_listen: {}", cfg_.source, err);
        spdlog::info("metrics on http://{}/metrics, live report on http://{}/{}",
                     cfg_.admin.http_listen, cfg_.admin.http_listen,
                     cfg_.admin.http_auth.empty() ? "" : " (http_auth)");
    }
    setup_signals();
    asio::co_spawn(io_, accept_loop(), LogUnhandled("accept loop"));
    asio::co_spawn(io_, housekeeping(), LogUnhandled("housekeeping"));
    health_->start();
    start_etcd_agent();
    spdlog::info("shardgate listening on {}:{} ({} shard(s), pool_mode={}, pool_size={})",
                 cfg_.proxy.listen_addr, cfg_.proxy.port, cfg_.shards.size(),
                 to_string(cfg_.proxy.pool_mode), cfg_.proxy.pool_size);
    return {};
}

void Proxy::setup_signals() {
    signals_.add(SIGTERM);
    signals_.add(SIGINT);
    signals_.add(SIGHUP);
    signals_.async_wait([this](error_code ec, int sig) {
        if (ec) return;
        if (sig == SIGHUP) {
            std::string err = reload();
            if (!err.empty()) spdlog::error("reload on SIGHUP rejected: {}", err);
            setup_signals();
            return;
        }
        shutdown(sig == SIGTERM ? "SIGTERM" : "SIGINT");
    });
}

awaitable<void> Proxy::accept_loop() {
    for (;;) {
        error_code ec;
        net::tcp::socket sock = co_await acceptor_.async_accept(net::ec_token(ec));
        if (ec) {
            if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
            if (auto pause = accept_backoff(ec)) {
                // The connection stays in the backlog: accepting again at once would spin.
                if (counters_.accept_backoffs++ % 100 == 0)
                    spdlog::error(
                        "accept failed: {} ({} time(s) so far); pausing accepts for {} ms",
                        ec.message(), counters_.accept_backoffs, pause->count());
                asio::steady_timer t(io_, *pause);
                co_await t.async_wait(net::ec_token(ec));
                continue;
            }
            spdlog::warn("accept failed: {}", ec.message());
            continue;
        }
        // Connections still logging in count: they hold a descriptor and a session already.
        if (*live_clients_ >= cfg_.proxy.max_client_conn) {
            ++counters_.clients_refused;
            std::string out;
            wire::MessageWriter w(out);
            wire::ErrorBuilder(wire::Severity::Fatal, sqlstate::kTooManyConnections,
                               fmt::format("too many client connections (max_client_conn={})",
                                           cfg_.proxy.max_client_conn))
                .encode_error(w);
            asio::co_spawn(
                io_,
                refuse_connection(std::move(sock), std::move(out), std::chrono::milliseconds(2000)),
                LogUnhandled("max_client_conn refusal"));
            continue;
        }
        ++counters_.clients_accepted;
        auto session = std::make_shared<Session>(*this, std::move(sock));
        ++*live_clients_;
        asio::co_spawn(
            io_,
            [live = live_clients_, session]() -> awaitable<void> {
                struct Count {  // the session's coroutine ends however it ends
                    std::shared_ptr<int> n;
                    ~Count() { --*n; }
                } count{live};
                co_await session->run();
            },
            LogUnhandled("client session"));
    }
}

awaitable<void> Proxy::housekeeping() {
    asio::steady_timer t(io_);
    while (!shutting_down_) {
        t.expires_after(std::chrono::seconds(1));
        error_code ec;
        co_await t.async_wait(net::ec_token(ec));
        report_to_etcd();  // pauses come and go without a map change
        check_etcd_session();
        if (cfg_.proxy.idle_server_timeout_s > 0)
            for (auto& [key, pool] : pools_)
                pool->close_idle(std::chrono::seconds(cfg_.proxy.idle_server_timeout_s));
        if (cfg_.proxy.idle_client_timeout_s > 0) {
            auto cutoff =
                net::Clock::now() - std::chrono::seconds(cfg_.proxy.idle_client_timeout_s);
            std::vector<Session*> idle;
            for (auto& [pid, s] : sessions_)
                if (s->state() == SessionState::Ready && !s->server() &&
                    s->last_activity() < cutoff)
                    idle.push_back(s);
            for (auto* s : idle)
                s->terminate_with(sqlstate::kAdminShutdown,
                                  "terminating connection due to idle_client_timeout_s",
                                  "idle_client_timeout");
        }
    }
}

Pool& Proxy::pool(int shard, const UserConfig& user) {
    ServerLogin login = server_login(cfg_.shards[shard], &user);
    auto key = std::make_pair(shard, login.user);
    auto it = pools_.find(key);
    if (it != pools_.end()) return *it->second;
    // After a failover the shard's primary is not the configured host
    // (proxy/health/role_watch.cpp).
    health::ShardHealth* h = health_->shard(shard);
    const auto& sc = cfg_.shards[shard];
    return add_pool(std::move(key), shard, login, h ? h->host : sc.host, h ? h->port : sc.port, -1,
                    h);
}

Pool& Proxy::add_pool(std::pair<int, std::string> key, int shard, const ServerLogin& login,
                      const std::string& host, uint16_t port, int read_endpoint,
                      health::ShardHealth* breaker) {
    const HealthConfig& hc = cfg_.health;
    ServerTarget t{shard,
                   cfg_.shards[shard].name,
                   host,
                   port,
                   cfg_.shards[shard].dbname,
                   login.user,
                   login.password,
                   cfg_.proxy.connect_timeout_ms,
                   health::TcpOptions{hc.tcp_keepalive, hc.tcp_keepidle_s, hc.tcp_keepintvl_s,
                                      hc.tcp_keepcnt, hc.tcp_user_timeout_ms},
                   0,
                   read_endpoint};
    auto p = std::make_unique<Pool>(io_.get_executor(), t, cfg_.proxy.pool_size,
                                    cfg_.proxy.pool_timeout_ms);
    p->set_checks(
        PoolChecks{breaker, hc.server_check_delay_ms, hc.check_timeout_ms, hc.server_lifetime_s});
    auto& ref = *p;
    pools_.emplace(std::move(key), std::move(p));
    return ref;
}

int32_t Proxy::register_session(Session* s, int32_t& secret) {
    int32_t pid;
    do {
        pid = next_pid_++;
        if (next_pid_ <= 0) next_pid_ = 1000;
    } while (sessions_.count(pid));
    unsigned char b[4];
    if (RAND_bytes(b, 4) != 1) {
        b[0] = b[1] = b[2] = b[3] = 0x5a;
    }
    secret = static_cast<int32_t>(wire::load_be32(b));
    sessions_[pid] = s;
    return pid;
}

void Proxy::unregister_session(int32_t pid) {
    sessions_.erase(pid);
    if (shutting_down_ && sessions_.empty()) io_.stop();
}

Session* Proxy::find_session(int32_t pid) const {
    auto it = sessions_.find(pid);
    return it == sessions_.end() ? nullptr : it->second;
}

int Proxy::sessions_touching_paused() const {
    int n = 0;
    for (const auto& [pid, s] : sessions_) n += s->touches_paused_bucket();
    return n;
}

int Proxy::active_sessions() const {
    int n = 0;
    for (const auto& [pid, s] : sessions_) n += s->server() != nullptr;
    return n;
}

std::string Proxy::reload() {
    Config next;
    try {
        next = load_config(config_path_, shardgate_environment());
    } catch (const ConfigError& e) {
        return e.what();
    }
    if (auto why = cluster_reload_refusal(cfg_.cluster, next.cluster); !why.empty()) return why;
    next.shards = shards_following_etcd(next.shards);  // with etcd, its shard list rules
    // Shards may be appended (a new shard owns no buckets until `shardgate rebalance run`
    // moves some); removing or reordering them would change what every shard index means.
    if (next.shards.size() < cfg_.shards.size())
        return "[[shards]] entries were removed: drain a shard with `shardgate rebalance run "
               "--drain NAME`, "
               "then restart the proxy without it";
    for (size_t i = 0; i < cfg_.shards.size(); ++i)
        if (next.shards[i].name != cfg_.shards[i].name)
            return fmt::format("shards[{}].name changed from '{}' to '{}': not supported by RELOAD",
                               i, cfg_.shards[i].name, next.shards[i].name);
    std::map<std::string, auth::Credential> creds;
    if (auto err = build_credentials(next, creds); !err.empty()) return err;
    auto map = router::load_configured_map(next.map_path(), next);
    if (!map && map_from_file_) return map.error().message;
    // A proxy never routes by an older map than one it has used.
    if (map && map->version() < map_->version())
        return fmt::format("{}: version {} is older than the version {} in use", next.map_path(),
                           map->version(), map_->version());
    bool same_users = next.users.size() == cfg_.users.size();
    for (size_t i = 0; same_users && i < next.users.size(); ++i)
        same_users = next.users[i].name == cfg_.users[i].name;
    if (!same_users && !sessions_.empty())
        spdlog::info(
            "reload: the user list changed; connected clients keep their login until they "
            "reconnect");
    users_ = std::make_shared<const std::vector<UserConfig>>(next.users);
    cfg_.users = next.users;
    credentials_ = std::move(creds);
    cfg_.proxy.pool_size = next.proxy.pool_size;
    cfg_.proxy.pool_timeout_ms = next.proxy.pool_timeout_ms;
    cfg_.proxy.max_pause_ms = next.proxy.max_pause_ms;
    cfg_.proxy.pool_mode = next.proxy.pool_mode;
    cfg_.proxy.max_client_conn = next.proxy.max_client_conn;
    cfg_.proxy.idle_client_timeout_s = next.proxy.idle_client_timeout_s;
    cfg_.proxy.idle_server_timeout_s = next.proxy.idle_server_timeout_s;
    cfg_.proxy.login_timeout_ms = next.proxy.login_timeout_ms;
    cfg_.proxy.connect_timeout_ms = next.proxy.connect_timeout_ms;
    cfg_.proxy.shutdown_timeout_s = next.proxy.shutdown_timeout_s;
    cfg_.proxy.max_message_bytes = next.proxy.max_message_bytes;
    cfg_.proxy.log_level = next.proxy.log_level;
    cfg_.proxy.read_from = next.proxy.read_from;  // (replicas: read per statement, at once)
    cfg_.proxy.max_replica_lag_ms = next.proxy.max_replica_lag_ms;
    cfg_.proxy.read_your_writes_ms = next.proxy.read_your_writes_ms;
    cfg_.stats = next.stats;
    cfg_.admin.http_auth = next.admin.http_auth;  // read by the HTTP listener at each request
    cfg_.health = next.health;
    stats_->reconfigure(cfg_.stats);
    for (size_t i = cfg_.shards.size(); i < next.shards.size(); ++i) {
        spdlog::info(
            "reload: shard \"{}\" ({}:{}) added; it serves no buckets until a rebalance moves some",
            next.shards[i].name, next.shards[i].host, next.shards[i].port);
        shard_totals_.push_back(stats::ShardTotals{next.shards[i].name});
    }
    cfg_.shards = next.shards;
    cfg_.tables = next.tables;
    statements_->reset(router::TableCatalog(cfg_.tables));
    if (map) {
        *map_ = std::move(map.value());
        ++map_generation_;
        map_from_file_ = true;
    }
    refresh_fence(false);
    cfg_.sharding.default_shard = next.sharding.default_shard;
    set_log_level(cfg_.proxy.log_level);
    health_->reconfigure();  // after cfg_.shards: moved endpoints, new shards
    primary_moved();         // after the monitor: its primaries are the live addresses
    for (auto& [key, pool] : pools_) {
        pool->resize(cfg_.proxy.pool_size, cfg_.proxy.pool_timeout_ms);
        const HealthConfig& hc = cfg_.health;
        pool->set_checks(
            PoolChecks{pool->target().read_endpoint < 0 ? health_->shard(key.first) : nullptr,
                       hc.server_check_delay_ms, hc.check_timeout_ms, hc.server_lifetime_s});
    }
    spdlog::info("configuration reloaded from {}", config_path_);
    return {};
}

void Proxy::shutdown(const std::string& why) {
    if (shutting_down_) return;
    shutting_down_ = true;
    spdlog::info("shutting down ({}): no new clients; waiting up to {}s for transactions", why,
                 cfg_.proxy.shutdown_timeout_s);
    error_code ec;
    acceptor_.close(ec);
    signals_.cancel(ec);
    if (http_) http_->stop();
    asio::co_spawn(io_, drain_and_stop(), LogUnhandled("shutdown drain"));
}

awaitable<void> Proxy::drain_and_stop() {
    auto deadline = net::Clock::now() + std::chrono::seconds(cfg_.proxy.shutdown_timeout_s);
    asio::steady_timer t(io_);
    // Idle clients go at once; clients inside a transaction get until the deadline.
    for (;;) {
        std::vector<Session*> idle;
        for (auto& [pid, s] : sessions_)
            if (!s->server()) idle.push_back(s);
        for (auto* s : idle)
            s->terminate_with(sqlstate::kAdminShutdown,
                              "terminating connection: shardgate is shutting down", "shutdown");
        if (sessions_.empty() || active_sessions() == 0 || net::Clock::now() >= deadline) break;
        t.expires_after(std::chrono::milliseconds(50));
        error_code ec;
        co_await t.async_wait(net::ec_token(ec));
    }
    std::vector<Session*> rest;
    for (auto& [pid, s] : sessions_) rest.push_back(s);
    for (auto* s : rest)
        s->terminate_with(
            sqlstate::kAdminShutdown,
            "terminating connection: shardgate is shutting down (shutdown_timeout_s passed)",
            "shutdown");
    notify_->stop();
    for (auto& [key, pool] : pools_) pool->close_all("shutdown");
    // Give the sessions' coroutines a moment to unwind, then stop.
    t.expires_after(std::chrono::milliseconds(100));
    error_code ec;
    co_await t.async_wait(net::ec_token(ec));
    io_.stop();
}

namespace {
// An io_context whose pending work can be destroyed before it is: coroutine frames still
// suspended when the loop stops (sessions, loops) point at the Proxy, so they must be
// destroyed while it lives, and the Proxy's sockets and timers need the io_context's services.
// Order: run, shut down (destroys pending handlers and frames), destroy Proxy, destroy loop.
class EventLoop : public asio::io_context {
public:
    using asio::execution_context::shutdown;
    using asio::io_context::io_context;
};
}  // namespace

int run_proxy(Config cfg, const std::string& config_path) {
    // One thread runs the loop: the reactor needs no locking for socket operations.
    EventLoop io(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO);
    Proxy proxy(io, std::move(cfg), config_path);
    if (std::string err = proxy.start(); !err.empty()) {
        spdlog::error("{}", err);
        io.shutdown();
        return 1;
    }
    io.run();
    io.shutdown();
    spdlog::info("shardgate stopped");
    return 0;
}

Config Proxy::live_config() const {
    Config live = cfg_;
    for (size_t i = 0; i < live.shards.size(); ++i)
        if (const health::ShardHealth* h = health_ ? health_->shard(static_cast<int>(i)) : nullptr;
            h && !h->host.empty()) {
            live.shards[i].host = h->host;
            live.shards[i].port = h->port;
        }
    return live;
}

void Proxy::primary_moved() {
    if (!recovery_ && !stamp_watcher_) return;
    const Config live = live_config();
    if (recovery_) recovery_->reconfigure(live);
    if (stamp_watcher_) stamp_watcher_->set_shards(live);
}

}  // namespace sg::proxy
