#include "proxy/admin.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <ctime>
#include <functional>
#include <vector>

#include "common/sqlstate.h"
#include "proxy/admin_pause.h"
#include "proxy/admin_pgbouncer.h"
#include "proxy/admin_result.h"
#include "proxy/cluster/etcd_agent.h"
#include "proxy/health/report.h"
#include "proxy/pool.h"
#include "proxy/proxy.h"
#include "proxy/session.h"
#include "proxy/stats/admin_shards.h"
#include "proxy/stats/admin_tables.h"
#include "proxy/stats/admin_windows.h"
#include "proxy/txn/coordinator.h"
#include "proxy/wire/messages/error_response.h"
#include "proxy/wire/messages/session_status.h"
#include "proxy/wire/protocol.h"
#include "proxy/wire/writer.h"
#include "router/map_stamp.h"

#ifndef SHARDGATE_VERSION
#define SHARDGATE_VERSION "0.1.0"
#endif

namespace sg::proxy {

namespace {

using admin::command_complete;
using admin::error;
using admin::ms_since;
using admin::ResultSet;
using admin::seconds_since;
using admin::utc_time;

// A handler gets the (upper-cased) text after the command name; most take none.
using Handler = std::function<net::awaitable<void>(Proxy&, Session&, std::string&)>;
using ArgHandler =
    std::function<net::awaitable<void>(Proxy&, Session&, const std::string&, std::string&)>;

struct Command {
    const char* name;
    const char* help;
    Handler run;
    ArgHandler run_args = nullptr;
};

net::awaitable<void> show_pools(Proxy& p, Session&, std::string& out) {
    // "database" (the shard) to sv_login: pgbouncer's columns, for pgbouncer_exporter.
    ResultSet rs({"shard", "user", "cl_waiting", "sv_active", "sv_idle", "sv_total", "pool_size",
                  "checkouts", "waits", "timeouts", "connect_failures", "avg_wait_ms", "database",
                  "cl_active", "sv_used", "sv_tested", "sv_login", "pool_mode"});
    for (const auto& [key, pool] : p.pools()) {
        const auto& st = pool->stats();
        // cl_waiting: clients waiting for a connection, and those a pause holds for this pool.
        const int waiting = pool->waiting() + p.held_clients(key.first, key.second);
        rs.row({pool->target().shard_name, pool->target().user, std::to_string(waiting),
                std::to_string(pool->active_count()), std::to_string(pool->idle_count()),
                std::to_string(pool->total()), std::to_string(pool->size()),
                std::to_string(st.checkouts), std::to_string(st.waits), std::to_string(st.timeouts),
                std::to_string(st.connect_failures),
                fmt::format("{:.3f}", st.waits ? st.wait_seconds * 1000 / double(st.waits) : 0.0),
                pool->target().shard_name, std::to_string(pool->active_count()), "0", "0",
                std::to_string(pool->total() - pool->idle_count() - pool->active_count()),
                to_string(p.config().proxy.pool_mode)});
    }
    rs.encode(out);
    co_return;
}

net::awaitable<void> show_clients(Proxy& p, Session&, std::string& out) {
    ResultSet rs({"pid", "user", "database", "addr", "state", "tls", "server_shard", "connected_s",
                  "application_name", "waiting_since", "wait_ms", "pause_id"});
    std::vector<Session*> all;
    for (const auto& [pid, s] : p.sessions()) all.push_back(s);
    std::sort(all.begin(), all.end(), [](auto* a, auto* b) { return a->pid() < b->pid(); });
    for (auto* s : all) {
        auto app = s->startup_parameters().find("application_name");
        const auto& held =
            s->paused_hold();  // a client held by a pause shows as "paused" (issue 22)
        rs.row({std::to_string(s->pid()), s->user(), s->database(), s->peer(),
                held ? "paused" : to_string(s->state()), "",
                s->server() ? s->server()->target().shard_name : "",
                seconds_since(s->connected_at()),
                app == s->startup_parameters().end() ? "" : app->second,
                held ? utc_time(held->since_wall) : "",
                held ? std::to_string(ms_since(held->since)) : "",
                held ? std::to_string(held->pause_id) : ""});
    }
    rs.encode(out);
    co_return;
}

net::awaitable<void> show_servers(Proxy& p, Session&, std::string& out) {
    ResultSet rs({"id", "shard", "user", "addr", "state", "tx_status", "backend_pid", "queries",
                  "prepared", "idle_s", "shard_state", "role"});
    for (const auto& [key, pool] : p.pools()) {
        for (const auto& w : pool->all()) {
            auto s = w.lock();
            if (!s) continue;
            rs.row({std::to_string(s->id()), s->target().shard_name, s->target().user,
                    fmt::format("{}:{}", s->target().host, s->target().port), to_string(s->state()),
                    std::string(1, s->tx_status()), std::to_string(s->backend_pid()),
                    std::to_string(s->queries()), std::to_string(s->prepared().size()),
                    seconds_since(s->last_used()),
                    health::shard_health_values(p.health(), s->target().shard).front(),
                    s->target().read_endpoint < 0 ? "primary" : "standby"});
        }
    }
    rs.encode(out);
    co_return;
}

net::awaitable<void> show_shards(Proxy& p, Session&, std::string& out) {
    std::vector<std::string> columns{"index",  "name",    "host",  "port",
                                     "dbname", "default", "pools", "server_connections"};
    for (auto& c : health::shard_health_columns())
        columns.push_back(std::move(c));  // proxy/health/report.h
    ResultSet rs(std::move(columns));
    const auto& cfg = p.config();
    for (size_t i = 0; i < cfg.shards.size(); ++i) {
        int pools = 0, conns = 0;
        for (const auto& [key, pool] : p.pools())
            if (key.first == static_cast<int>(i)) {
                ++pools;
                conns += pool->total();
            }
        const auto& s = cfg.shards[i];
        std::vector<std::string> row{
            std::to_string(i),
            s.name,
            s.host,
            std::to_string(s.port),
            s.dbname,
            static_cast<int>(i) == cfg.default_shard_index() ? "yes" : "no",
            std::to_string(pools),
            std::to_string(conns)};
        for (auto& v : health::shard_health_values(p.health(), static_cast<int>(i)))
            row.push_back(std::move(v));
        rs.row(std::move(row));
    }
    rs.encode(out);
    co_return;
}

// In-flight two-phase commits of this proxy (proxy/txn/coordinator.h).
net::awaitable<void> show_transactions(Proxy& p, Session&, std::string& out) {
    ResultSet rs({"gid", "participants", "phase", "age_s"});
    for (const auto& f : p.txn().snapshot())
        rs.row({f.gid, fmt::format("{}", fmt::join(f.shards, ",")), f.phase,
                seconds_since(f.started)});
    rs.encode(out);
    co_return;
}

net::awaitable<void> show_config(Proxy& p, Session&, std::string& out) {
    const auto& c = p.config();
    // key, value, default, changeable: pgbouncer's columns (the exporter needs 3 or 4).
    ResultSet rs({"key", "value", "default", "changeable"});
    auto kv = [&](std::string k, std::string v) { rs.row({std::move(k), std::move(v), "", "no"}); };
    kv("config_file", c.source);
    kv("proxy.listen_addr", c.proxy.listen_addr);
    kv("proxy.port", std::to_string(c.proxy.port));
    kv("proxy.workers", std::to_string(c.proxy.workers));
    kv("proxy.pool_mode", to_string(c.proxy.pool_mode));
    kv("proxy.pool_size", std::to_string(c.proxy.pool_size));
    kv("proxy.max_client_conn", std::to_string(c.proxy.max_client_conn));
    kv("proxy.pool_timeout_ms", std::to_string(c.proxy.pool_timeout_ms));
    kv("proxy.connect_timeout_ms", std::to_string(c.proxy.connect_timeout_ms));
    kv("proxy.login_timeout_ms", std::to_string(c.proxy.login_timeout_ms));
    kv("proxy.idle_client_timeout_s", std::to_string(c.proxy.idle_client_timeout_s));
    kv("proxy.idle_server_timeout_s", std::to_string(c.proxy.idle_server_timeout_s));
    kv("proxy.shutdown_timeout_s", std::to_string(c.proxy.shutdown_timeout_s));
    kv("proxy.max_message_bytes", std::to_string(c.proxy.max_message_bytes));
    kv("proxy.tls", c.proxy.tls_cert.empty() ? "off" : "on");
    kv("proxy.log_level", c.proxy.log_level);
    kv("proxy.prepare_lookups", c.proxy.prepare_lookups ? "true" : "false");
    kv("admin.http_listen", c.admin.http_listen);
    kv("admin.http_auth", c.admin.http_auth.empty() ? "" : "(set)");  // never the secret
    kv("admin.database", c.admin.database);
    kv("stats.enabled", c.stats.enabled ? "true" : "false");
    kv("stats.max_fingerprints", std::to_string(c.stats.max_fingerprints));
    kv("stats.slow_query_ms", std::to_string(c.stats.slow_query_ms));
    kv("stats.window_seconds", std::to_string(c.stats.window_seconds));
    kv("stats.window_count", std::to_string(c.stats.window_count));
    kv("sharding.database", c.sharding.database);
    kv("sharding.bucket_bits", std::to_string(c.sharding.bucket_bits));
    kv("sharding.map_file", c.map_path());
    kv("sharding.default_shard", c.shards[c.default_shard_index()].name);
    kv("max_client_conn", std::to_string(c.proxy.max_client_conn));  // pgbouncer's names
    kv("default_pool_size", std::to_string(c.proxy.pool_size));
    kv("pool_mode", to_string(c.proxy.pool_mode));
    rs.encode(out);
    co_return;
}

net::awaitable<void> show_version(Proxy&, Session&, std::string& out) {
    ResultSet rs({"version"});
    rs.row({std::string("shardgate ") + SHARDGATE_VERSION});
    rs.encode(out);
    co_return;
}

// A statistics table rendered as a result set (an empty column list: a bare command tag).
void encode_table(const stats::Table& t, std::string& out) {
    if (t.columns.empty()) {
        command_complete(out, t.command_tag);
        return;
    }
    ResultSet rs(t.columns);
    for (const auto& r : t.rows) rs.row(r);
    rs.encode(out, t.command_tag);
}

net::awaitable<void> show_stats(Proxy& p, Session&, std::string& out) {
    auto shards = p.shard_totals();
    encode_table(stats::show_stats(p.stats(), shards), out);
    co_return;
}

net::awaitable<void> show_totals(Proxy& p, Session&, std::string& out) {
    const auto& c = p.counters();
    ResultSet rs({"clients_accepted", "clients_refused", "clients_connected", "login_failures",
                  "queries", "transactions", "errors", "lookups_prepared", "bytes_in", "bytes_out",
                  "uptime_s"});
    rs.row({std::to_string(c.clients_accepted), std::to_string(c.clients_refused),
            std::to_string(p.sessions().size()), std::to_string(c.login_failures),
            std::to_string(c.queries), std::to_string(c.transactions), std::to_string(c.errors),
            std::to_string(c.lookups_prepared), std::to_string(c.bytes_in),
            std::to_string(c.bytes_out), seconds_since(p.started())});
    rs.encode(out);
    co_return;
}

net::awaitable<void> show_queries(Proxy& p, Session&, const std::string& args, std::string& out) {
    auto req = stats::parse_show_queries(args);
    if (!req) {
        error(out, sqlstate::kSyntaxError, req.error());
        co_return;
    }
    encode_table(stats::show_queries(p.stats(), *req), out);
}

net::awaitable<void> show_slow(Proxy& p, Session&, std::string& out) {
    encode_table(stats::show_slow(p.stats()), out);
    co_return;
}

net::awaitable<void> show_nplusone(Proxy& p, Session&, std::string& out) {
    encode_table(stats::show_nplusone(p.stats()), out);
    co_return;
}

net::awaitable<void> show_shard_stats(Proxy& p, Session&, std::string& out) {
    std::vector<std::string> names;
    for (const auto& s : p.config().shards) names.push_back(s.name);
    encode_table(stats::show_shard_stats(p.stats(), names), out);
    co_return;
}

net::awaitable<void> show_refusals(Proxy& p, Session&, std::string& out) {
    encode_table(stats::show_refusals(p.stats()), out);
    co_return;
}

// pgbouncer's commands (admin_pgbouncer.h).
template <stats::Table (*F)(Proxy&)>
net::awaitable<void> pgbouncer_table(Proxy& p, Session&, std::string& out) {
    encode_table(F(p), out);
    co_return;
}

template <stats::Table (*F)(Proxy&, const std::string&, std::string&)>
net::awaitable<void> pgbouncer_command(Proxy& p, Session&, const std::string& args,
                                       std::string& out) {
    std::string err;
    auto t = F(p, args, err);
    if (!err.empty())
        error(out, sqlstate::kSyntaxError, err);
    else
        encode_table(t, out);
    co_return;
}

net::awaitable<void> show_window(Proxy& p, Session&, const std::string& args, std::string& out) {
    auto req = stats::parse_show_window(args);
    if (!req)
        error(out, sqlstate::kSyntaxError, req.error());
    else
        encode_table(stats::show_window(p.stats(), *req), out);
    co_return;
}

net::awaitable<void> show_windows(Proxy& p, Session&, std::string& out) {
    encode_table(stats::show_windows(p.stats()), out);
    co_return;
}

net::awaitable<void> show_stats_period(Proxy& p, Session&, std::string& out) {
    encode_table(stats::show_stats_period(p.stats()), out);
    co_return;
}

net::awaitable<void> set_window_seconds(Proxy& p, Session&, const std::string& args,
                                        std::string& out) {
    char* end = nullptr;
    const long v = std::strtol(args.c_str(), &end, 10);
    if (args.empty() || *end != '\0' || v < 1 || v > 3600) {
        error(out, sqlstate::kInvalidParameterValue,
              "SET WINDOW_SECONDS takes the interval width in seconds (1..3600)");
        co_return;
    }
    p.stats().set_window_width(std::chrono::seconds(v));
    command_complete(out, "SET");
}

net::awaitable<void> reset_queries(Proxy& p, Session&, std::string& out) {
    encode_table(stats::reset_queries(p.stats()), out);
    co_return;
}

net::awaitable<void> cmd_reload(Proxy& p, Session&, std::string& out) {
    std::string err = p.reload();
    if (!err.empty())
        error(out, sqlstate::kConfigFileError, "RELOAD rejected: " + err);
    else
        command_complete(out, "RELOAD");
    co_return;
}

net::awaitable<void> cmd_shutdown(Proxy& p, Session&, std::string& out) {
    command_complete(out, "SHUTDOWN");
    p.shutdown("SHUTDOWN from the admin console");
    co_return;
}

net::awaitable<void> show_buckets(Proxy& p, Session&, std::string& out) {
    ResultSet rs({"first_bucket", "last_bucket", "shard", "map_version"});
    const auto& map = p.shard_map();
    for (const auto& r : map.ranges())
        rs.row({std::to_string(r.first), std::to_string(r.last), map.shard_names()[r.shard],
                std::to_string(map.version())});
    rs.encode(out);
    co_return;
}

net::awaitable<void> show_map(Proxy& p, Session&, std::string& out) {
    const auto& map = p.shard_map();
    ResultSet rs({"version", "bucket_bits", "buckets", "shards", "file", "paused_buckets",
                  "content_hash", "refused", "pause_owner", "pause_expires_in_ms", "etcd_endpoint",
                  "etcd_connected", "etcd_lease", "etcd_map_version"});
    const auto etcd = p.etcd_state();  // empty columns without [cluster] etcd
    size_t paused = 0;
    for (uint32_t b = 0; b < map.bucket_count(); ++b) paused += p.bucket_paused(b);
    const auto& lease = p.pauses().bucket_lease().held();  // SHOW PAUSES has the details
    rs.row({std::to_string(map.version()), std::to_string(map.bucket_bits()),
            std::to_string(map.bucket_count()), std::to_string(map.shard_names().size()),
            p.config().map_path(), std::to_string(paused), router::content_hash(map), map.fence(),
            lease ? lease->owner : "",
            lease ? std::to_string(std::max<int64_t>(0, -ms_since(lease->expires))) : "",
            etcd ? etcd->endpoint : "", etcd ? (etcd->connected ? "yes" : "no") : "",
            etcd && etcd->lease_id ? fmt::format("{:x}", etcd->lease_id) : "",
            etcd ? std::to_string(etcd->etcd_map_version) : ""});
    rs.encode(out);
    co_return;
}

net::awaitable<void> cmd_reload_map(Proxy& p, Session&, std::string& out) {
    std::string err = p.reload_map();
    if (!err.empty()) {
        error(out, sqlstate::kConfigFileError, "RELOAD MAP rejected: " + err);
        co_return;
    }
    ResultSet rs({"version"});
    rs.row({std::to_string(p.shard_map().version())});
    rs.encode(out, "RELOAD MAP");
}

// The pause commands (proxy/admin_pause.h) as console handlers.
void send_reply(const AdminReply& r, std::string& out) {
    if (!r.sqlstate.empty())
        error(out, r.sqlstate, r.message);
    else
        encode_table(r.table, out);
}

net::awaitable<void> cmd_pause(Proxy& p, Session& self, const std::string& args, std::string& out) {
    send_reply(co_await admin_pause(p, self, args), out);
}
net::awaitable<void> cmd_pause_buckets(Proxy& p, Session& self, const std::string& args,
                                       std::string& out) {
    send_reply(co_await admin_pause_buckets(p, self, args), out);
}
template <AdminReply (*F)(Proxy&, const std::string&)>
net::awaitable<void> pause_command(Proxy& p, Session&, const std::string& args, std::string& out) {
    send_reply(F(p, args), out);
    co_return;
}
net::awaitable<void> show_pauses(Proxy& p, Session&, std::string& out) {
    send_reply(admin_show_pauses(p), out);
    co_return;
}

net::awaitable<void> show_help(Proxy&, Session&, std::string& out);

const std::vector<Command>& commands() {
    static const std::vector<Command> table{
        {"SHOW HELP", "this list", show_help},
        {"SHOW POOLS", "server pools per (shard, user): waiting clients, active/idle servers",
         show_pools},
        {"SHOW CLIENTS", "connected clients", show_clients},
        {"SHOW SERVERS", "server connections", show_servers},
        {"SHOW SHARDS", "configured shards", show_shards},
        {"SHOW TRANSACTIONS", "two-phase commits in flight: gid, participant shards, phase, age",
         show_transactions},
        {"SHOW STATS", "totals per database/user and per shard", show_stats},
        {"SHOW TOTALS", "proxy counters since start", show_totals},
        {"SHOW QUERIES",
         "SHOW QUERIES [ORDER BY total|total_with_held|held|mean|p99|calls|errors] [LIMIT n]: cost "
         "per statement",
         nullptr, show_queries},
        {"SHOW SLOW", "recent statements slower than [stats] slow_query_ms", show_slow},
        {"SHOW NPLUSONE", "N+1 query loops found, with what to do", show_nplusone},
        {"SHOW SHARD STATS", "each shard's statement legs, per statement, with the straggler shard",
         show_shard_stats},
        {"SHOW REFUSALS", "statements the proxy refused, by construct, with a way around each",
         show_refusals},
        {"RESET QUERIES", "forget per-statement statistics", reset_queries},
        {"SHOW WINDOW",
         "SHOW WINDOW [n] [OFFSET m]: cost per statement over the last n intervals, m intervals "
         "ago",
         nullptr, show_window},
        {"SHOW WINDOWS",
         "totals per interval (the last [stats] window_count intervals of window_seconds)",
         show_windows},
        {"SHOW STATS_PERIOD", "when statistics started and were last reset; the interval width",
         show_stats_period},
        {"SET WINDOW_SECONDS",
         "SET WINDOW_SECONDS n: width of the statistics' intervals (starts them over)", nullptr,
         set_window_seconds},
        {"SHOW DATABASES", "pgbouncer's SHOW DATABASES: one row per shard",
         pgbouncer_table<pgb_show_databases>},
        {"SHOW LISTS", "pgbouncer's SHOW LISTS: counts of shards, users, pools, clients, servers",
         pgbouncer_table<pgb_show_lists>},
        {"SHOW USERS", "pgbouncer's SHOW USERS", pgbouncer_table<pgb_show_users>},
        {"SHOW STATS_TOTALS", "pgbouncer's SHOW STATS_TOTALS per database (times in microseconds)",
         pgbouncer_table<pgb_show_stats_totals>},
        {"SHOW STATS_AVERAGES",
         "pgbouncer's SHOW STATS_AVERAGES per database, since the last reset",
         pgbouncer_table<pgb_show_stats_averages>},
        {"KILL", "KILL shard: close every server connection to the shard now", nullptr,
         pgbouncer_command<pgb_kill>},
        {"RECONNECT",
         "RECONNECT [shard]: renew server connections (idle now, busy ones when released)", nullptr,
         pgbouncer_command<pgb_reconnect>},
        {"SHOW CONFIG", "effective configuration", show_config},
        {"SHOW VERSION", "shardgate version", show_version},
        {"PAUSE",
         "PAUSE [TIMEOUT ms]: wait for running transactions to finish; hold new ones (lapses after "
         "ms, "
         "default [proxy] max_pause_ms)",
         nullptr, cmd_pause},
        {"RESUME", "RESUME [ID n]: let held transactions run", nullptr,
         pause_command<admin_resume>},
        {"RELOAD", "re-read the configuration file (also SIGHUP)", cmd_reload},
        {"SHUTDOWN", "stop accepting, drain, exit", cmd_shutdown},
        {"SHOW BUCKETS", "the shard map as bucket ranges, with its version", show_buckets},
        {"SHOW MAP", "shard map version, size and paused buckets", show_map},
        {"RELOAD MAP", "re-read the shard map file (never an older version)", cmd_reload_map},
        {"PAUSE BUCKETS",
         "PAUSE BUCKETS a-b[,c-d] [TIMEOUT ms] [DRAIN ms]: hold statements on those buckets "
         "(lapses after ms)",
         nullptr, cmd_pause_buckets},
        {"RESUME BUCKETS", "RESUME BUCKETS [ID n]: release statements held by PAUSE BUCKETS",
         nullptr, pause_command<admin_resume_buckets>},
        {"RENEW", "RENEW PAUSE ID n | RENEW BUCKETS ID n: extend a pause's lease", nullptr,
         pause_command<admin_renew>},
        {"SHOW PAUSES", "pauses in force: owner, age, lease, expiry, held clients", show_pauses},
    };
    return table;
}

net::awaitable<void> show_help(Proxy&, Session&, std::string& out) {
    ResultSet rs({"command", "description"});
    for (const auto& c : commands()) rs.row({c.name, c.help});
    rs.encode(out);
    co_return;
}

// Upper-cases and folds whitespace; drops a trailing ';'.
std::string normalize(std::string_view sql) {
    std::string out;
    bool space = false;
    for (char c : sql) {
        if (std::isspace(static_cast<unsigned char>(c))) {
            space = !out.empty();
            continue;
        }
        if (space) out += ' ';
        space = false;
        out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    while (!out.empty() && (out.back() == ';' || out.back() == ' ')) out.pop_back();
    return out;
}

}  // namespace

net::awaitable<std::string> run_admin_command(Proxy& proxy, Session& session,
                                              std::string_view sql) {
    std::string out;
    std::string cmd = normalize(sql);
    if (cmd.empty()) {
        wire::MessageWriter(out).empty_message(wire::be::kEmptyQueryResponse);
    } else {
        const Command* found = nullptr;
        std::string args;
        for (const auto& c : commands()) {
            std::string_view name = c.name;
            if (c.run && cmd == name) found = &c;
            if (c.run_args && cmd.starts_with(name) &&
                (cmd.size() == name.size() || cmd[name.size()] == ' ')) {
                found = &c;
                args = cmd.size() > name.size() ? cmd.substr(name.size() + 1) : std::string();
            }
        }
        if (found && found->run_args)
            co_await found->run_args(proxy, session, args, out);
        else if (found)
            co_await found->run(proxy, session, out);
        else
            error(out, sqlstate::kSyntaxError,
                  fmt::format("unknown admin command \"{}\"; SHOW HELP lists the commands",
                              std::string(sql)));
    }
    wire::append_ready_for_query(out, 'I');
    co_return out;
}

}  // namespace sg::proxy
