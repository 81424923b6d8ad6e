#include "common/config.h"

#include <fmt/format.h>

#include <toml++/toml.h>
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "common/cluster_config_parse.h"
#include "common/config_section.h"
#include "common/replica_config_parse.h"

extern char** environ;

namespace sg {

const char* to_string(PoolMode m) {
    return m == PoolMode::Session ? "session" : "transaction";
}

const char* to_string(AuthMethod m) {
    switch (m) {
        case AuthMethod::ScramSha256:
            return "scram-sha-256";
        case AuthMethod::Md5:
            return "md5";
        case AuthMethod::Trust:
            return "trust";
    }
    return "?";
}

const char* to_string(KeyType t) {
    switch (t) {
        case KeyType::SmallInt:
            return "smallint";
        case KeyType::Integer:
            return "integer";
        case KeyType::BigInt:
            return "bigint";
        case KeyType::Text:
            return "text";
        case KeyType::Varchar:
            return "varchar";
        case KeyType::Uuid:
            return "uuid";
    }
    return "?";
}

const char* to_string(TableKind k) {
    return k == TableKind::Reference ? "reference" : "sharded";
}

std::optional<KeyType> parse_key_type(std::string_view s) {
    if (s == "smallint" || s == "int2") return KeyType::SmallInt;
    if (s == "integer" || s == "int" || s == "int4") return KeyType::Integer;
    if (s == "bigint" || s == "int8") return KeyType::BigInt;
    if (s == "text") return KeyType::Text;
    if (s == "varchar" || s == "character varying") return KeyType::Varchar;
    if (s == "uuid") return KeyType::Uuid;
    return std::nullopt;
}

ConfigError::ConfigError(std::string file, std::string key, std::string problem)
    : std::runtime_error(fmt::format("{}: {}: {}", file, key, problem)),
      file_(std::move(file)),
      key_(std::move(key)),
      problem_(std::move(problem)) {}

const ShardConfig* Config::find_shard(std::string_view name) const {
    for (const auto& s : shards)
        if (s.name == name) return &s;
    return nullptr;
}

int Config::shard_index(std::string_view name) const {
    for (size_t i = 0; i < shards.size(); ++i)
        if (shards[i].name == name) return static_cast<int>(i);
    return -1;
}

const UserConfig* Config::find_user(std::string_view name) const {
    for (const auto& u : users)
        if (u.name == name) return &u;
    return nullptr;
}

int Config::default_shard_index() const {
    if (sharding.default_shard.empty()) return 0;
    return shard_index(sharding.default_shard);
}

std::string Config::map_path() const {
    namespace fs = std::filesystem;
    fs::path p(sharding.map_file);
    if (p.is_absolute() || source.empty()) return p.string();
    return (fs::absolute(fs::path(source)).parent_path() / p).lexically_normal().string();
}

ServerLogin server_login(const ShardConfig& shard, const UserConfig* user) {
    ServerLogin l;
    if (user && !user->server_user.empty()) {
        l.user = user->server_user;
        l.password = user->server_password;
        return l;
    }
    if (!shard.user.empty()) {
        l.user = shard.user;
        l.password = shard.password;
        return l;
    }
    if (user) {
        l.user = user->name;
        // A stored verifier or hash cannot be replayed to a server: only plain text can.
        bool hashed = user->password.starts_with("SCRAM-SHA-256$") ||
                      (user->password.starts_with("md5") && user->password.size() == 35);
        if (!user->server_password.empty())
            l.password = user->server_password;
        else if (!hashed)
            l.password = user->password;
    }
    return l;
}

EnvMap shardgate_environment() {
    EnvMap env;
    for (char** e = environ; e && *e; ++e) {
        std::string_view kv(*e);
        if (!kv.starts_with("SHARDGATE_")) continue;
        auto eq = kv.find('=');
        if (eq == std::string_view::npos) continue;
        env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
    }
    return env;
}

namespace {

using config_detail::array_of_tables;
using config_detail::Section;
using config_detail::subtable;

void read_proxy(Section s, ProxyConfig& p) {
    s.get("listen_addr", p.listen_addr);
    s.get_int("port", p.port, 1, 65535);
    s.get_int("workers", p.workers, 1, 64);
    if (p.workers != 1)
        s.fail(
            "workers",
            fmt::format("{} event-loop threads requested; this version runs one (set workers = 1)",
                        p.workers));
    std::string mode = to_string(p.pool_mode);
    s.get("pool_mode", mode);
    if (mode == "transaction")
        p.pool_mode = PoolMode::Transaction;
    else if (mode == "session")
        p.pool_mode = PoolMode::Session;
    else
        s.fail("pool_mode", fmt::format("'{}' is not one of: transaction, session", mode));
    s.get_int("pool_size", p.pool_size, 1, 10000);
    s.get_int("max_client_conn", p.max_client_conn, 1, 1000000);
    s.get_int("pool_timeout_ms", p.pool_timeout_ms, 0, 86400000);
    s.get_int("max_pause_ms", p.max_pause_ms, 10, 86400000);
    s.get_int("stamp_poll_ms", p.stamp_poll_ms, 10, 3600000);
    s.get_int("connect_timeout_ms", p.connect_timeout_ms, 1, 86400000);
    s.get_int("login_timeout_ms", p.login_timeout_ms, 1, 86400000);
    s.get_int("idle_client_timeout_s", p.idle_client_timeout_s, 0, 86400 * 365);
    s.get_int("idle_server_timeout_s", p.idle_server_timeout_s, 0, 86400 * 365);
    s.get_int("shutdown_timeout_s", p.shutdown_timeout_s, 0, 86400);
    s.get_int("max_message_bytes", p.max_message_bytes, 1024, int64_t(1) << 30);
    s.get_int("offload_parse_bytes", p.offload_parse_bytes, 0, int64_t(1) << 40);
    s.get_int("analysis_threads", p.analysis_threads, 1, 64);
    s.get_int("max_merge_bytes", p.max_merge_bytes, 1024, int64_t(1) << 40);
    s.get("tls_cert", p.tls_cert);
    s.get("tls_key", p.tls_key);
    s.get("log_level", p.log_level);
    s.get("prepare_lookups", p.prepare_lookups);
    std::optional<ReadFrom> read_from;
    s.get("read_from", read_from);
    if (read_from) p.read_from = *read_from;
    s.get_int("max_replica_lag_ms", p.max_replica_lag_ms, 1, 86400000);
    s.get_int("read_your_writes_ms", p.read_your_writes_ms, 0, 86400000);
    static const std::set<std::string> levels{"trace", "debug",    "info", "warn",
                                              "error", "critical", "off"};
    if (!levels.count(p.log_level))
        s.fail("log_level",
               fmt::format("'{}' is not one of: trace, debug, info, warn, error, critical, off",
                           p.log_level));
    if (p.tls_cert.empty() != p.tls_key.empty())
        s.fail(p.tls_cert.empty() ? "tls_cert" : "tls_key",
               "tls_cert and tls_key must be set together");
    s.reject_unknown();
}

void read_health(Section s, HealthConfig& h) {
    s.get_int("query_timeout_ms", h.query_timeout_ms, 0, 86400000);
    s.get_int("query_timeout_grace_ms", h.query_timeout_grace_ms, 1, 600000);
    s.get_int("server_check_delay_ms", h.server_check_delay_ms, 0, 86400000);
    s.get_int("server_lifetime_s", h.server_lifetime_s, 0, 86400 * 365);
    s.get("tcp_keepalive", h.tcp_keepalive);
    s.get_int("tcp_keepidle_s", h.tcp_keepidle_s, 1, 86400);
    s.get_int("tcp_keepintvl_s", h.tcp_keepintvl_s, 1, 86400);
    s.get_int("tcp_keepcnt", h.tcp_keepcnt, 1, 127);
    s.get_int("tcp_user_timeout_ms", h.tcp_user_timeout_ms, 0, 86400000);
    s.get("check_enabled", h.check_enabled);
    s.get_int("check_interval_ms", h.check_interval_ms, 10, 3600000);
    s.get_int("check_timeout_ms", h.check_timeout_ms, 10, 600000);
    s.get_int("breaker_failures", h.breaker_failures, 1, 1000);
    s.reject_unknown();
}

// "user:password" as HTTP Basic sends it: the user part cannot hold a colon, neither part may
// be empty, and control characters cannot be typed into a browser's login prompt.
void check_http_auth(Section& s, const std::string& v) {
    const size_t colon = v.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == v.size())
        s.fail("http_auth", "must be \"user:password\" (both non-empty)");
    for (char c : v)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            s.fail("http_auth", "must not contain control characters");
}

void read_admin(Section s, AdminConfig& a) {
    s.get("http_listen", a.http_listen);
    if (!a.http_listen.empty() && a.http_listen.rfind(':') == std::string::npos)
        s.fail("http_listen", fmt::format("'{}' must be HOST:PORT", a.http_listen));
    s.get("http_auth", a.http_auth);
    if (!a.http_auth.empty()) check_http_auth(s, a.http_auth);
    s.get("database", a.database);
    s.reject_unknown();
}

void read_stats(Section s, StatsConfig& st) {
    s.get("enabled", st.enabled);
    s.get_int("max_fingerprints", st.max_fingerprints, 1, 10000000);
    s.get_int("slow_query_ms", st.slow_query_ms, 0, 86400000);
    s.get("log_parameters", st.log_parameters);
    s.get_int("n_plus_one_min", st.n_plus_one_min, 2, 1000000);
    s.get_int("top_k_metrics", st.top_k_metrics, 0, 10000);
    // Each interval may hold max_fingerprints statement cells: the count bounds that memory.
    s.get_int("window_seconds", st.window_seconds, 1, 3600);
    s.get_int("window_count", st.window_count, 2, 1440);
    s.reject_unknown();
}

void read_transactions(Section s, TransactionsConfig& t) {
    s.get("two_phase_commit", t.two_phase_commit);
    s.get_int("max_participants", t.max_participants, 0, 65536);
    s.get("instance_id", t.instance_id);
    s.get_int("recovery_interval_s", t.recovery_interval_s, 1, 86400);
    s.get_int("recovery_grace_s", t.recovery_grace_s, 1, 86400);
    s.get_int("step_timeout_ms", t.step_timeout_ms, 100, 3600000);
    s.get_int("deadlock_timeout_ms", t.deadlock_timeout_ms, 0, 3600000);
    // Another proxy's transaction must be older than any of its protocol steps can take.
    if (t.recovery_grace_s * 1000 <= 2 * t.step_timeout_ms)
        s.fail("recovery_grace_s",
               "must exceed twice step_timeout_ms (a live proxy's commit could be undone)");
    s.reject_unknown();
}

void read_sharding(Section s, ShardingConfig& sh) {
    s.get("database", sh.database);
    s.get_int("bucket_bits", sh.bucket_bits, 1, 16);
    s.get("map_file", sh.map_file);
    s.get("default_shard", sh.default_shard);
    if (sh.database.empty()) s.fail("database", "must not be empty");
    s.reject_unknown();
}

void read_shard(Section s, ShardConfig& sh) {
    if (!s.has("name")) s.fail("name", "missing (every shard needs a name)");
    s.get("name", sh.name);
    s.get("host", sh.host);
    s.get_int("port", sh.port, 1, 65535);
    s.get("dbname", sh.dbname);
    s.get("user", sh.user);
    s.get("password", sh.password);
    if (const toml::node* n = s.raw("replicas"))
        sh.replicas = parse_replicas(*n, s.file(), s.key_name("replicas"), sh.host);
    if (sh.name.empty()) s.fail("name", "must not be empty");
    s.reject_unknown();
}

void read_table(Section s, TableConfig& t) {
    if (!s.has("name")) s.fail("name", "missing (every table needs a name)");
    s.get("name", t.name);
    std::string kind = "sharded";
    s.get("kind", kind);
    if (kind == "sharded")
        t.kind = TableKind::Sharded;
    else if (kind == "reference")
        t.kind = TableKind::Reference;
    else
        s.fail("kind", fmt::format("'{}' is not one of: sharded, reference", kind));
    s.get("shard_key", t.shard_key);
    std::string key_type;
    s.get("key_type", key_type);
    if (t.kind == TableKind::Sharded) {
        if (t.shard_key.empty())
            s.fail("shard_key", fmt::format("sharded table '{}' has no shard_key", t.name));
        if (key_type.empty())
            s.fail("key_type", fmt::format("sharded table '{}' has no key_type", t.name));
        auto kt = parse_key_type(key_type);
        if (!kt)
            s.fail("key_type",
                   fmt::format("'{}' is not one of: smallint, integer, bigint, text, varchar, uuid",
                               key_type));
        t.key_type = *kt;
    } else if (!t.shard_key.empty()) {
        s.fail("shard_key", fmt::format("reference table '{}' cannot have a shard_key", t.name));
    }
    s.reject_unknown();
}

void read_user(Section s, UserConfig& u) {
    if (!s.has("name")) s.fail("name", "missing (every user needs a name)");
    s.get("name", u.name);
    s.get("password", u.password);
    std::string auth = to_string(u.auth);
    s.get("auth", auth);
    if (auth == "scram-sha-256")
        u.auth = AuthMethod::ScramSha256;
    else if (auth == "md5")
        u.auth = AuthMethod::Md5;
    else if (auth == "trust")
        u.auth = AuthMethod::Trust;
    else
        s.fail("auth", fmt::format("'{}' is not one of: scram-sha-256, md5, trust", auth));
    s.get("admin", u.admin);
    s.get("server_user", u.server_user);
    s.get("server_password", u.server_password);
    s.get("read_from", u.read_from);
    if (u.auth != AuthMethod::Trust && u.password.empty())
        s.fail("password", fmt::format("user '{}' uses {} but has no password", u.name, auth));
    if (u.auth == AuthMethod::Md5 && u.password.starts_with("SCRAM-SHA-256$"))
        s.fail("password", "a SCRAM verifier cannot be used with auth = \"md5\"");
    if (u.auth == AuthMethod::ScramSha256 && u.password.starts_with("md5") &&
        u.password.size() == 35)
        s.fail("password", "an MD5 hash cannot be used with auth = \"scram-sha-256\"");
    s.reject_unknown();
}

void validate(const std::string& file, Config& c) {
    if (c.shards.empty())
        throw ConfigError(file, "shards", "at least one [[shards]] entry is required");
    std::map<std::string, size_t> seen;
    for (size_t i = 0; i < c.shards.size(); ++i) {
        auto& s = c.shards[i];
        if (auto [it, fresh] = seen.emplace(s.name, i); !fresh)
            throw ConfigError(
                file, fmt::format("shards[{}].name", i),
                fmt::format("duplicate shard name '{}' (also shards[{}])", s.name, it->second));
        if (s.dbname.empty()) s.dbname = c.sharding.database;
        for (size_t r = 0; r < s.replicas.size(); ++r) {
            bool dup = s.replicas[r].host == s.host && s.replicas[r].port == s.port;
            for (size_t q = 0; q < r; ++q) dup = dup || s.replicas[q] == s.replicas[r];
            if (dup)
                throw ConfigError(file, fmt::format("shards[{}].replicas[{}]", i, r),
                                  fmt::format("{}:{} is listed twice for shard '{}'",
                                              s.replicas[r].host, s.replicas[r].port, s.name));
        }
    }
    if (c.shards.size() > 65535) throw ConfigError(file, "shards", "at most 65535 shards");
    if (!c.sharding.default_shard.empty() && c.shard_index(c.sharding.default_shard) < 0)
        throw ConfigError(
            file, "sharding.default_shard",
            fmt::format("'{}' is not the name of a [[shards]] entry", c.sharding.default_shard));
    std::set<std::string> tables;
    for (size_t i = 0; i < c.tables.size(); ++i) {
        std::string n = c.tables[i].name;
        if (n.starts_with("public.")) n = n.substr(7);
        if (!tables.insert(n).second)
            throw ConfigError(file, fmt::format("tables[{}].name", i),
                              fmt::format("duplicate table '{}'", c.tables[i].name));
    }
    std::set<std::string> users;
    for (size_t i = 0; i < c.users.size(); ++i)
        if (!users.insert(c.users[i].name).second)
            throw ConfigError(file, fmt::format("users[{}].name", i),
                              fmt::format("duplicate user '{}'", c.users[i].name));
}

}  // namespace

Config parse_config(std::string_view text, const std::string& source, const EnvMap& env) {
    toml::table root;
    try {
        root = toml::parse(text, source);
    } catch (const toml::parse_error& e) {
        throw ConfigError(source, fmt::format("line {}", e.source().begin.line),
                          std::string(e.description()));
    }
    static const std::set<std::string_view> sections{
        "proxy",    "admin",   "stats",  "transactions", "health",
        "sharding", "cluster", "shards", "tables",       "users"};
    for (const auto& [k, v] : root)
        if (!sections.count(k.str()))
            throw ConfigError(source, std::string(k.str()),
                              "unknown section (expected proxy, admin, stats, transactions, "
                              "health, sharding, cluster, shards, "
                              "tables, users)");

    Config c;
    c.source = source;
    read_proxy(Section(source, "proxy", subtable(source, root, "proxy"), &env, "SHARDGATE_PROXY_"),
               c.proxy);
    read_admin(Section(source, "admin", subtable(source, root, "admin"), &env, "SHARDGATE_ADMIN_"),
               c.admin);
    read_stats(Section(source, "stats", subtable(source, root, "stats"), &env, "SHARDGATE_STATS_"),
               c.stats);
    read_transactions(Section(source, "transactions", subtable(source, root, "transactions"), &env,
                              "SHARDGATE_TRANSACTIONS_"),
                      c.transactions);
    read_health(
        Section(source, "health", subtable(source, root, "health"), &env, "SHARDGATE_HEALTH_"),
        c.health);
    read_sharding(Section(source, "sharding", subtable(source, root, "sharding"), &env,
                          "SHARDGATE_SHARDING_"),
                  c.sharding);
    c.cluster = parse_cluster(subtable(source, root, "cluster"), source);
    auto each = [&](std::string_view name, auto& out) {
        if (const toml::array* arr = array_of_tables(source, root, name)) {
            for (size_t i = 0; i < arr->size(); ++i) {
                out.emplace_back();
                Section s(source, fmt::format("{}[{}]", name, i), (*arr)[i].as_table(), nullptr,
                          "");
                if constexpr (std::is_same_v<std::decay_t<decltype(out)>, std::vector<ShardConfig>>)
                    read_shard(s, out.back());
                if constexpr (std::is_same_v<std::decay_t<decltype(out)>, std::vector<TableConfig>>)
                    read_table(s, out.back());
                if constexpr (std::is_same_v<std::decay_t<decltype(out)>, std::vector<UserConfig>>)
                    read_user(s, out.back());
            }
        }
    };
    each("shards", c.shards);
    each("tables", c.tables);
    each("users", c.users);
    validate(source, c);
    return c;
}

Config load_config(const std::string& path, const EnvMap& env) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw ConfigError(path, "(file)", "cannot be read: " + std::string(std::strerror(errno)));
    std::stringstream ss;
    ss << in.rdbuf();
    return parse_config(ss.str(), path, env);
}

}  // namespace sg
