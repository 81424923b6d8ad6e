// The proxy: listener, the registry of client sessions, the server pools, signals, reload.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include "common/config.h"
#include "proxy/auth/credential.h"
#include "proxy/function_guard.h"
#include "proxy/health/monitor.h"
#include "proxy/net.h"
#include "proxy/pause_control.h"
#include "proxy/pool.h"
#include "proxy/prepared_lookups.h"
#include "proxy/stats/proxy_metrics.h"
#include "proxy/stats/query_stats.h"
#include "router/map_stamp.h"
#include "router/shard_map.h"
#include "router/statement_cache.h"

namespace sg::proxy {

class Session;
class StampWatcher;
class AnalysisWorkers;
}  // namespace sg::proxy
namespace sg::http {
class HttpServer;
}
namespace sg::cluster {
class EtcdAgent;
struct PauseOrder;
struct EtcdState;
}  // namespace sg::cluster
namespace sg::proxy::notify {
class NotifyService;
}
namespace sg::proxy::txn {
class Coordinator;
class RecoveryWorker;
class DeadlockDetector;
}  // namespace sg::proxy::txn
namespace sg::proxy {

struct ProxyCounters {
    uint64_t clients_accepted = 0;
    uint64_t clients_refused = 0;
    uint64_t accept_backoffs = 0;  // accept paused: out of file descriptors (or memory)
    uint64_t login_failures = 0;
    uint64_t queries = 0;
    uint64_t transactions = 0;
    uint64_t errors = 0;
    uint64_t lookups_prepared = 0;  // simple queries run as prepared lookups (prepare_lookups)
    uint64_t bytes_in = 0;
    uint64_t bytes_out = 0;
};

// Initial size of a client's read buffer; it grows for larger messages.
inline constexpr size_t kClientReadBuffer = 4 * 1024;

class Proxy {
public:
    Proxy(net::asio::io_context& io, Config cfg, std::string config_path);
    ~Proxy();

    // Binds the listener; returns an error text on failure.
    std::string start();
    // Stops accepting; lets transactions finish up to shutdown_timeout_s, then closes all.
    void shutdown(const std::string& why);
    // Re-reads the config file: pool sizes, timeouts, users, log level apply at once without
    // dropping clients. Returns an error text when the new file is rejected.
    std::string reload();

    const Config& config() const { return cfg_; }
    net::asio::io_context& io() { return io_; }
    // The current user list (replaced, never modified, by RELOAD).
    std::shared_ptr<const std::vector<UserConfig>> users() const { return users_; }

    // The pool for (shard, server login of user).
    Pool& pool(int shard, const UserConfig& user);
    // The read pool for (shard, standby endpoint, server login of user) (proxy/read_pools.cpp);
    // kept in pools() under the key (shard, "<login>@<endpoint>").
    Pool& read_pool(int shard, int endpoint, const UserConfig& user);
    // read_pool() when `endpoint` is still one of the shard's standbys, else the primary pool
    // (the endpoint left the configuration, or was promoted, since the read was planned).
    Pool& read_or_primary_pool(int shard, int endpoint, const UserConfig& user);
    const std::map<std::pair<int, std::string>, std::unique_ptr<Pool>>& pools() const {
        return pools_;
    }
    // Shard health: breakers, checks, query_timeout_ms (proxy/health).
    health::Monitor& health() { return *health_; }
    const health::Monitor& health() const { return *health_; }

    // Client registry, keyed by the BackendKeyData process id the proxy issued.
    int32_t register_session(Session* s, int32_t& secret);
    void unregister_session(int32_t pid);
    Session* find_session(int32_t pid) const;
    const std::unordered_map<int32_t, Session*>& sessions() const { return sessions_; }

    // Re-reads the shard map file (RELOAD MAP, the rebalancer's switch). Refuses an older
    // version than the one in use; returns an error text or empty.
    std::string reload_map();
    // The shards' map stamps, as the StampWatcher read them: the map is fenced while a shard
    // carries a newer map (or another map of its version), after first trying the map file.
    // `began`: when that reading started (proxy/stamp_watcher.h).
    void on_stamp_readings(std::vector<router::ShardStampReading> readings,
                           net::Clock::time_point began);
    // A shard failed over (health/role_watch.cpp): the proxy's own libpq clients of the shards
    // (the map-stamp watcher, two-phase-commit recovery) follow it to the new primary, as the
    // pools do, so prepared transactions there are still resolved.
    void primary_moved();
    const std::vector<router::ShardStampReading>& stamp_readings() const { return stamp_readings_; }

    // Pauses with leases (proxy/pause_control.h): PAUSE holds new transactions, PAUSE BUCKETS
    // holds statements touching those buckets (the rebalancer's switch); each lapses unless
    // renewed or resumed in time.
    PauseControl& pauses() { return *pauses_; }
    const PauseControl& pauses() const { return *pauses_; }
    bool any_bucket_paused() const { return pauses_->any_bucket_paused(); }
    bool bucket_paused(uint32_t b) const { return pauses_->bucket_paused(b); }
    bool paused() const { return pauses_->proxy_paused(); }
    // Sessions whose open transaction touched a paused bucket.
    int sessions_touching_paused() const;
    // Clients held by a pause now, per pool key (shard, server login): SHOW POOLS' cl_waiting.
    int held_clients(int shard, const std::string& server_user) const;

    // Bumped whenever the map clients are routed by changes: a server connection checks its
    // shard's stamp at checkout when it last checked under another generation
    // (proxy/session_map_check.cpp).
    uint64_t map_generation() const { return map_generation_; }
    // A stamp a checkout read from `shard` that contradicts the map: fences (or reloads) at once
    // rather than at the stamp watcher's next reading.
    void note_shard_stamp(int shard, const router::MapStamp& stamp);
    // Number of sessions holding a server connection (in a transaction or mid-request).
    int active_sessions() const;

    // [cluster] etcd (proxy/proxy_etcd.cpp): the map follows the etcd key and this proxy keeps
    // a registration there; nullopt without etcd.
    std::optional<cluster::EtcdState> etcd_state() const;
    // The etcd part of /metrics ("" without etcd).
    std::string etcd_metrics() const;

    // Routing state: analyses of recent statements, and the shard map clients are routed by.
    router::StatementCache& statements() { return *statements_; }
    const router::ShardMap& shard_map() const { return *map_; }
    // The map to route by: with etcd, past the routing window of the last confirmed lease
    // (proxy/cluster/etcd_agent.h) it is fenced first. One coarse clock read per statement.
    const router::ShardMap& shard_map();

    // Threads that analyse large statement texts off the event loop (proxy/analysis_workers.h).
    AnalysisWorkers& analysis_workers() { return *analysis_workers_; }
    // Query cost statistics (per fingerprint), per-shard totals and the metrics snapshot.
    stats::QueryStats& stats() { return *stats_; }
    stats::ShardTotals& shard_totals(int shard) { return shard_totals_[shard]; }
    std::vector<stats::ShardTotals> shard_totals() const { return shard_totals_; }
    stats::ProxyMetrics metrics() const;

    // The parsed password of a configured user (SCRAM secret derived once, not per login).
    const auth::Credential* credential(const std::string& user) const;

    net::asio::ssl::context* tls() { return tls_.get(); }
    ProxyCounters& counters() { return counters_; }
    // Client read buffers of the initial size, recycled: a session waiting for its client's
    // next message gives its buffer back, so idle clients hold none.
    std::string take_read_buffer();
    // Column order of sharded tables, for INSERTs without a column list: read from a shard on
    // first use, forgotten whenever DDL goes through this proxy.
    const std::vector<std::string>* known_columns(const std::string& table) const;
    void remember_columns(const std::string& table, std::vector<std::string> columns);
    void forget_columns() {
        table_columns_.clear();
        lookups_.schema_changed();
        risky_functions_.loaded.reset();  // a function may have been created or replaced
    }
    // User-defined functions that read sharded tables (proxy/function_guard.h).
    RiskyFunctions& risky_functions() { return risky_functions_; }
    PreparedLookups& lookups() { return lookups_; }
    // Multi-shard commits (two-phase commit) and their recovery.
    txn::Coordinator& txn() { return *txn_; }
    // LISTEN/NOTIFY in transaction pooling (proxy/notify/service.h).
    notify::NotifyService& notify() { return *notify_; }
    // Its part of /metrics (proxy/proxy_notify.cpp).
    std::string notify_metrics() const;
    void give_read_buffer(std::string&& buf);
    net::Clock::time_point started() const { return started_; }
    // Client connections alive, logged in or still logging in (what max_client_conn bounds).
    int live_clients() const { return *live_clients_; }
    bool shutting_down() const { return shutting_down_; }

private:
    // A new pool of server connections to host:port as `login` (the primary's when read_endpoint
    // is -1, else a standby's read pool), registered under `key`; `breaker`: the shard's, or null.
    Pool& add_pool(std::pair<int, std::string> key, int shard, const ServerLogin& login,
                   const std::string& host, uint16_t port, int read_endpoint,
                   health::ShardHealth* breaker);
    awaitable<void> accept_loop();
    awaitable<void> housekeeping();
    awaitable<void> drain_and_stop();
    void setup_signals();
    std::string setup_tls();
    std::string build_credentials(const Config& cfg, std::map<std::string, auth::Credential>& out);
    // Judges map_ against the last stamp readings and sets or lifts its fence; when fenced by
    // a newer stamp, first loads the map file, which the rebalancer may have written already.
    void refresh_fence(bool try_file);
    // A bucket pause that lapsed holds its buckets in doubt (pause_control.h) until, with the
    // map confirmed current (file re-read, or etcd reconfirmed), the switch shows as never
    // decided, or as committed by a stamp reading begun after the lapse (`began`; nullopt when
    // no reading comes with the call). See proxy_map.cpp.
    void settle_lapsed_pause(std::optional<net::Clock::time_point> began);
    // At a lapse: who owned each held bucket by the map in use (in_doubt_owners_).
    bool on_bucket_pause_lapsed();
    // cfg_ with each shard's address replaced by its current primary's (after failovers).
    Config live_config() const;
    // Before the map is opened: makes the map file hold the etcd map (or publishes the first
    // one); an error text when etcd cannot give a map. After start: the agent.
    std::string sync_map_from_etcd();
    void start_etcd_agent();
    // The shard list in etcd (proxy/proxy_etcd_shards.cpp): at start cfg_.shards follows it
    // (an error text when etcd cannot give it); the watch hands each new list to
    // on_etcd_shards(); RELOAD passes the file's [[shards]] through shards_following_etcd().
    std::string follow_etcd_shards_at_start();
    void on_etcd_shards(std::vector<ShardConfig> list);
    std::vector<ShardConfig> shards_following_etcd(const std::vector<ShardConfig>& configured);
    // Creates notify_ (proxy/proxy_notify.cpp).
    void make_notify_service();
    // Hands the agent the map version routed by and the paused buckets, for the registration.
    void report_to_etcd();
    // Non-empty past the routing window of the last confirmed etcd lease: the text refusing
    // sharded statements. check_etcd_session() re-judges the fence when that changes.
    std::string etcd_fence() const;
    void check_etcd_session();
    // The rebalancer's switch pause through etcd (proxy/proxy_etcd_pause.cpp): a new order
    // pauses, the same one renews, nullptr (the key is gone) resumes; acknowledged in the
    // registration. etcd_pause_lapsed() runs when a bucket pause lapses.
    void on_etcd_pause(const cluster::PauseOrder* order);
    net::awaitable<void> drain_etcd_pause(std::string id, uint64_t local,
                                          std::chrono::milliseconds bound);
    void etcd_pause_lapsed();
    void end_etcd_pause();

    net::asio::io_context& io_;
    Config cfg_;
    std::string config_path_;
    net::tcp::acceptor acceptor_;
    net::asio::signal_set signals_;
    std::unique_ptr<net::asio::ssl::context> tls_;
    std::unique_ptr<health::Monitor> health_;  // before pools_: outlives them
    std::map<std::pair<int, std::string>, std::unique_ptr<Pool>> pools_;
    std::map<std::string, auth::Credential> credentials_;
    std::unique_ptr<router::StatementCache> statements_;
    std::unique_ptr<AnalysisWorkers> analysis_workers_;  // joined first in ~Proxy
    std::unique_ptr<router::ShardMap> map_;
    bool map_from_file_ = false;  // false: a fenced placeholder (no usable map file at start)
    std::vector<router::ShardStampReading> stamp_readings_;
    // The buckets a lapsed pause holds in doubt and their owner (shard name) at the lapse.
    std::vector<std::pair<uint32_t, std::string>> in_doubt_owners_;
    std::unique_ptr<StampWatcher> stamp_watcher_;
    std::unique_ptr<stats::QueryStats> stats_;
    std::vector<stats::ShardTotals> shard_totals_;
    std::unique_ptr<http::HttpServer> http_;
    std::unique_ptr<txn::Coordinator> txn_;
    std::unique_ptr<notify::NotifyService> notify_;
    std::unique_ptr<txn::RecoveryWorker> recovery_;
    std::unique_ptr<txn::DeadlockDetector> deadlocks_;  // deadlocks across shards
    // The user list sessions log in against. A session keeps the list it logged in with (it
    // holds a pointer into it): a list replaced by RELOAD lives until its last session ends.
    std::shared_ptr<const std::vector<UserConfig>> users_;
    std::unordered_map<int32_t, Session*> sessions_;
    int32_t next_pid_ = 1000;
    std::unique_ptr<PauseControl> pauses_;
    uint64_t map_generation_ = 1;
    bool shutting_down_ = false;
    // Shared with the sessions' coroutines, whose frames may be destroyed after the Proxy.
    std::shared_ptr<int> live_clients_ = std::make_shared<int>(0);
    // Last: its threads post to the event loop and read cfg_, so it goes first.
    std::unique_ptr<cluster::EtcdAgent> etcd_agent_;
    bool etcd_fenced_ = false;       // etcd_fence() was non-empty at the last check
    std::string etcd_pause_id_;      // the etcd pause order seen last ("": none in force)
    uint64_t etcd_pause_local_ = 0;  // its PauseControl id while it holds buckets (0: not)
    std::optional<std::vector<ShardConfig>> etcd_shards_;  // etcd's shard list, as last watched
    std::set<std::string> etcd_shard_notes_;               // differences logged already
    ProxyCounters counters_;
    std::vector<std::string> spare_read_buffers_;
    std::unordered_map<std::string, std::vector<std::string>> table_columns_;
    PreparedLookups lookups_;
    RiskyFunctions risky_functions_;
    net::Clock::time_point started_ = net::Clock::now();
};

// Runs the proxy until SHUTDOWN or a signal stops it; returns the exit code.
int run_proxy(Config cfg, const std::string& config_path);

}  // namespace sg::proxy
