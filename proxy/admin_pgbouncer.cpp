#include "proxy/admin_pgbouncer.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include "proxy/pool.h"
#include "proxy/proxy.h"
#include "proxy/session.h"

namespace sg::proxy {

namespace {

std::string num(uint64_t v) {
    return std::to_string(v);
}

// Per (client-facing) database: the statistics' totals summed over users.
std::map<std::string, stats::Figures> figures_by_database(Proxy& p) {
    std::map<std::string, stats::Figures> out;
    for (const auto& [key, t] : p.stats().totals()) out[key.first].merge(t.figures);
    return out;
}

// A shard named by a console argument (case-insensitive: the console upper-cases commands).
int find_shard(const Proxy& p, const std::string& name) {
    const auto& shards = p.config().shards;
    for (size_t i = 0; i < shards.size(); ++i) {
        std::string a = shards[i].name, b = name;
        std::transform(a.begin(), a.end(), a.begin(), ::toupper);
        std::transform(b.begin(), b.end(), b.begin(), ::toupper);
        if (a == b) return int(i);
    }
    return -1;
}

}  // namespace

stats::Table pgb_show_databases(Proxy& p) {
    stats::Table t{{"name", "host", "port", "database", "force_user", "pool_size", "min_pool_size",
                    "reserve_pool", "pool_mode", "max_connections", "current_connections", "paused",
                    "disabled"},
                   {},
                   {}};
    const auto& cfg = p.config();
    for (size_t i = 0; i < cfg.shards.size(); ++i) {
        int conns = 0;
        for (const auto& [key, pool] : p.pools())
            if (key.first == int(i)) conns += pool->total();
        const auto& s = cfg.shards[i];
        t.rows.push_back({s.name, s.host, std::to_string(s.port),
                          s.dbname.empty() ? cfg.sharding.database : s.dbname, s.user,
                          std::to_string(cfg.proxy.pool_size), "0", "0",
                          to_string(cfg.proxy.pool_mode), "0", std::to_string(conns),
                          p.paused() ? "1" : "0", "0"});
    }
    return t;
}

stats::Table pgb_show_lists(Proxy& p) {
    uint64_t used_clients = 0, login_clients = 0, free_servers = 0, used_servers = 0;
    for (const auto& [pid, s] : p.sessions()) {
        if (s->state() == SessionState::Startup || s->state() == SessionState::Authenticating)
            ++login_clients;
        else
            ++used_clients;
    }
    for (const auto& [key, pool] : p.pools()) {
        free_servers += uint64_t(pool->idle_count());
        used_servers += uint64_t(std::max(pool->active_count(), 0));
    }
    stats::Table t{{"list", "items"}, {}, {}};
    auto row = [&](const char* name, uint64_t v) { t.rows.push_back({name, num(v)}); };
    row("databases", p.config().shards.size());
    row("users", p.config().users.size());
    row("pools", p.pools().size());
    row("free_clients", 0);
    row("used_clients", used_clients);
    row("login_clients", login_clients);
    row("free_servers", free_servers);
    row("used_servers", used_servers);
    row("dns_names", 0);
    row("dns_zones", 0);
    row("dns_queries", 0);
    row("dns_pending", 0);
    return t;
}

stats::Table pgb_show_users(Proxy& p) {
    stats::Table t{
        {"name", "pool_size", "reserve_pool_size", "pool_mode", "max_user_connections",
         "current_connections", "max_user_client_connections", "current_client_connections"},
        {},
        {}};
    const auto& cfg = p.config();
    for (const auto& u : cfg.users) {
        const std::string& login = u.server_user.empty() ? u.name : u.server_user;
        int servers = 0;
        for (const auto& [key, pool] : p.pools())
            if (key.second == login) servers += pool->total();
        uint64_t clients = 0;
        for (const auto& [pid, s] : p.sessions()) clients += s->user() == u.name;
        t.rows.push_back({u.name, std::to_string(cfg.proxy.pool_size), "0",
                          to_string(cfg.proxy.pool_mode), "0", std::to_string(servers), "0",
                          num(clients)});
    }
    return t;
}

stats::Table pgb_show_stats_totals(Proxy& p) {
    stats::Table t{{"database", "xact_count", "query_count", "bytes_received", "bytes_sent",
                    "query_time", "wait_time"},
                   {},
                   {}};
    for (const auto& [db, f] : figures_by_database(p))
        t.rows.push_back({db, num(f.transactions), num(f.calls), num(f.bytes_in), num(f.bytes_out),
                          num(f.server_ns / 1000), num(f.pool_wait_ns / 1000)});
    return t;
}

stats::Table pgb_show_stats_averages(Proxy& p) {
    stats::Table t{{"database", "xact_count", "query_count", "bytes_received", "bytes_sent",
                    "query_time", "wait_time"},
                   {},
                   {}};
    const double seconds = std::max(
        1e-3, std::chrono::duration<double>(std::chrono::system_clock::now() - p.stats().since())
                  .count());
    for (const auto& [db, f] : figures_by_database(p)) {
        const double calls = double(std::max<uint64_t>(f.calls, 1));
        t.rows.push_back({db, num(uint64_t(double(f.transactions) / seconds)),
                          num(uint64_t(double(f.calls) / seconds)),
                          num(uint64_t(double(f.bytes_in) / seconds)),
                          num(uint64_t(double(f.bytes_out) / seconds)),
                          num(uint64_t(double(f.server_ns) / 1000 / calls)),
                          num(uint64_t(double(f.pool_wait_ns) / 1000 / calls))});
    }
    return t;
}

stats::Table pgb_kill(Proxy& p, const std::string& shard, std::string& error) {
    const int i = find_shard(p, shard);
    if (i < 0) {
        error = fmt::format("KILL: no shard named \"{}\" (SHOW SHARDS lists them)", shard);
        return {};
    }
    for (const auto& [key, pool] : p.pools())
        if (key.first == i) pool->close_all("KILL from the admin console");
    return stats::Table{{}, {}, "KILL"};
}

stats::Table pgb_reconnect(Proxy& p, const std::string& shard, std::string& error) {
    const int i = shard.empty() ? -1 : find_shard(p, shard);
    if (!shard.empty() && i < 0) {
        error = fmt::format("RECONNECT: no shard named \"{}\" (SHOW SHARDS lists them)", shard);
        return {};
    }
    for (const auto& [key, pool] : p.pools())
        if (shard.empty() || key.first == i) pool->reconnect();
    return stats::Table{{}, {}, "RECONNECT"};
}

}  // namespace sg::proxy
