// Typed configuration: the TOML file of the architecture page, loaded once and validated.
// Every error names the file, the key and what is wrong, so an operator can fix it without
// reading code.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/cluster_config.h"
#include "common/health_config.h"
#include "common/replica_config.h"

namespace sg {

enum class PoolMode { Transaction, Session };
enum class AuthMethod { ScramSha256, Md5, Trust };
enum class KeyType { SmallInt, Integer, BigInt, Text, Varchar, Uuid };
enum class TableKind { Sharded, Reference };

const char* to_string(PoolMode m);
const char* to_string(AuthMethod m);
const char* to_string(KeyType t);
const char* to_string(TableKind k);
std::optional<KeyType> parse_key_type(std::string_view s);

struct ProxyConfig {
    std::string listen_addr = "127.0.0.1";
    uint16_t port = 6432;
    int workers = 1;  // event-loop threads; only 1 is supported so far
    PoolMode pool_mode = PoolMode::Transaction;
    int pool_size = 20;  // server connections per (shard, user)
    int max_client_conn = 1000;
    int pool_timeout_ms = 5000;     // how long a client waits for a server connection
    int max_pause_ms = 60000;       // lease of a PAUSE without TIMEOUT; longest a client is held
    int stamp_poll_ms = 200;        // how often the shards' map stamps are read (issue 22)
    int connect_timeout_ms = 3000;  // server connect + login
    int login_timeout_ms = 10000;   // client startup + authentication
    int idle_client_timeout_s = 0;  // 0 = never
    int idle_server_timeout_s = 600;
    int shutdown_timeout_s = 30;  // SIGTERM drain bound
    int64_t max_message_bytes = 64 * 1024 * 1024;
    // A simple-protocol statement of at least this many bytes is parsed, scanned and rewritten on
    // an analysis worker thread, not on the event loop (proxy/analysis_workers.h); 0 = never.
    int64_t offload_parse_bytes = 256 * 1024;
    int analysis_threads = 2;  // the workers (fixed at start: a RELOAD does not resize them)
    // What merging a multi-shard statement may buffer (every shard's rows, before the client
    // gets them); past it the statement fails with 54000 and its legs are cancelled.
    int64_t max_merge_bytes = int64_t(1) << 30;
    std::string tls_cert;  // both set => TLS offered to clients
    std::string tls_key;
    std::string log_level = "info";
    // Simple-protocol point lookups (Analysis::simple_lookup on a unique column) run as
    // statements prepared once per server connection.
    bool prepare_lookups = true;
    // Replicas (common/replica_config.h): where reads outside transactions go, how far behind a
    // standby may be to serve them, and how long after its own write a client reads from the
    // primary (0 = never; the default equals max_replica_lag_ms, so a client always sees its
    // own writes: a standby within the lag bound has replayed anything older than the bound).
    ReadFrom read_from = ReadFrom::Primary;
    int max_replica_lag_ms = 1000;
    int read_your_writes_ms = 1000;
};

struct AdminConfig {
    std::string http_listen;  // "127.0.0.1:9930"; empty = no HTTP endpoint
    // "user:password" HTTP Basic credentials the live report (/ and /report.json) requires;
    // empty = open. /metrics, /healthz and /readyz never ask for them.
    std::string http_auth;
    std::string database = "shardgate";  // the console's database name; [[users]] admin = true
};

struct StatsConfig {
    bool enabled = true;
    int max_fingerprints = 5000;
    int slow_query_ms = 1000;
    bool log_parameters = false;
    int n_plus_one_min = 5;
    int top_k_metrics = 20;
    // The time windows (SHOW WINDOW(S), report --since/--window): window_count intervals of
    // window_seconds each are kept besides the totals.
    int window_seconds = 60;
    int window_count = 60;
};

// [transactions]: multi-shard atomicity (see proxy/txn/coordinator.h).
struct TransactionsConfig {
    bool two_phase_commit = true;  // off: multi-shard writes run per shard, as before
    int max_participants = 0;      // shards one atomic unit may span; 0 = no limit
    std::string instance_id;       // names this proxy in its gids; default host-port
    int recovery_interval_s = 30;  // periodic resolution of prepared leftovers
    int recovery_grace_s = 60;     // another proxy's prepared transaction is left alone this long
    int step_timeout_ms = 10000;   // bound on each PREPARE/COMMIT PREPARED round trip
    // A statement of a transaction spanning shards that waits this long starts a search for a
    // deadlock across shards (proxy/txn/deadlock_detector.h); 0 = no search. Above the shards'
    // own deadlock_timeout (1 s by default), so that PostgreSQL breaks single-shard cycles first.
    int deadlock_timeout_ms = 2000;
};

struct ShardingConfig {
    std::string database = "app";  // the logical database clients connect to
    int bucket_bits = 12;
    std::string map_file = "shardmap.json";  // relative paths are relative to the config file
    std::string default_shard;               // unsharded tables; default = first shard
};

struct ShardConfig {
    std::string name;
    std::string host = "127.0.0.1";
    uint16_t port = 5432;
    std::string dbname;  // default = sharding.database
    std::string user;    // server login; default = the client's server user
    std::string password;
    std::vector<ReplicaEndpoint> replicas;  // standbys, any of which may be promoted
};

struct TableConfig {
    std::string name;  // "orders" or "public.orders"
    TableKind kind = TableKind::Sharded;
    std::string shard_key;               // sharded only
    KeyType key_type = KeyType::BigInt;  // sharded only
};

struct UserConfig {
    std::string name;
    // Plain text, PostgreSQL's SCRAM verifier ("SCRAM-SHA-256$<iter>:<salt>$<stored>:<server>")
    // or an MD5 hash ("md5" + md5(password || user)).
    std::string password;
    AuthMethod auth = AuthMethod::ScramSha256;
    bool admin = false;
    std::string server_user;            // login used towards shards; default = name
    std::string server_password;        // default = password when it is plain text
    std::optional<ReadFrom> read_from;  // overrides [proxy] read_from for this user
};

struct Config {
    std::string source;  // the file it came from
    ProxyConfig proxy;
    AdminConfig admin;
    StatsConfig stats;
    TransactionsConfig transactions;
    HealthConfig health;
    ShardingConfig sharding;
    ClusterConfig cluster;
    std::vector<ShardConfig> shards;
    std::vector<TableConfig> tables;
    std::vector<UserConfig> users;

    const ShardConfig* find_shard(std::string_view name) const;
    int shard_index(std::string_view name) const;  // -1 when unknown
    const UserConfig* find_user(std::string_view name) const;
    int default_shard_index() const;
    // The absolute path of the shard map file.
    std::string map_path() const;
};

// What went wrong, where: "FILE: KEY: PROBLEM".
class ConfigError : public std::runtime_error {
public:
    ConfigError(std::string file, std::string key, std::string problem);
    const std::string& file() const { return file_; }
    const std::string& key() const { return key_; }
    const std::string& problem() const { return problem_; }

private:
    std::string file_, key_, problem_;
};

// The credentials the proxy presents to a shard on behalf of a client user: the user's
// server_user/server_password, else the shard's user/password, else the client's own name and
// (plain-text) password.
struct ServerLogin {
    std::string user;
    std::string password;
};
ServerLogin server_login(const ShardConfig& shard, const UserConfig* user);

using EnvMap = std::map<std::string, std::string>;

// Reads the process environment's SHARDGATE_* variables.
EnvMap shardgate_environment();

// Parses and validates; throws ConfigError. `env` overrides keys as SHARDGATE_<SECTION>_<KEY>.
Config load_config(const std::string& path, const EnvMap& env = {});
Config parse_config(std::string_view toml_text, const std::string& source_name,
                    const EnvMap& env = {});

}  // namespace sg
