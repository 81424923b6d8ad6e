// `shardgate check`: validate the config and reach every shard, one row per shard.
#include "cli/check_tables.h"
#include "cli/commands.h"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>

namespace sg::cli {

namespace {

struct ShardProbe {
    std::string name, address;
    bool reachable = false;
    std::string version;
    double latency_ms = 0;
    std::string error;
    std::vector<std::string> problems;  // what the shard's schema gets wrong (check_tables.h)
};

ShardProbe probe(const Config& cfg, const ShardConfig& shard) {
    ShardProbe p;
    p.name = shard.name;
    p.address = fmt::format("{}:{}", shard.host, shard.port);
    const UserConfig* user = cfg.users.empty() ? nullptr : &cfg.users.front();
    ServerLogin login = server_login(shard, user);
    std::string port = std::to_string(shard.port);
    std::string timeout = std::to_string(std::max(1, cfg.proxy.connect_timeout_ms / 1000));
    const char* keys[] = {
        "host", "port", "dbname", "user", "password", "connect_timeout", "application_name",
        nullptr};
    const char* vals[] = {shard.host.c_str(),
                          port.c_str(),
                          shard.dbname.c_str(),
                          login.user.empty() ? nullptr : login.user.c_str(),
                          login.password.empty() ? nullptr : login.password.c_str(),
                          timeout.c_str(),
                          "shardgate-check",
                          nullptr};
    auto start = std::chrono::steady_clock::now();
    PGconn* conn = PQconnectdbParams(keys, vals, 0);
    if (PQstatus(conn) == CONNECTION_OK) {
        PGresult* r = PQexec(conn, "SELECT 1");
        auto end = std::chrono::steady_clock::now();
        if (PQresultStatus(r) == PGRES_TUPLES_OK) {
            p.reachable = true;
            p.latency_ms = std::chrono::duration<double, std::milli>(end - start).count();
            const char* v = PQparameterStatus(conn, "server_version");
            p.version = v ? v : "";
            p.problems = table_problems(conn, cfg);
        } else {
            p.error = PQresultErrorMessage(r);
        }
        PQclear(r);
    } else {
        p.error = PQerrorMessage(conn);
    }
    PQfinish(conn);
    while (!p.error.empty() && (p.error.back() == '\n' || p.error.back() == ' '))
        p.error.pop_back();
    for (auto& ch : p.error)
        if (ch == '\n' || ch == '\t') ch = ' ';
    return p;
}

}  // namespace

int run_check(const Config& cfg, bool json) {
    std::vector<ShardProbe> rows;
    for (const auto& s : cfg.shards) rows.push_back(probe(cfg, s));
    bool all_ok = true;
    for (const auto& r : rows) all_ok = all_ok && r.reachable && r.problems.empty();
    nlohmann::json map_report;

    if (json) {
        all_ok = check_map(cfg, &map_report) && all_ok;
        nlohmann::json out = nlohmann::json::array();
        for (const auto& r : rows)
            out.push_back({{"shard", r.name},
                           {"address", r.address},
                           {"reachable", r.reachable},
                           {"server_version", r.version},
                           {"latency_ms", r.latency_ms},
                           {"error", r.error},
                           {"problems", r.problems}});
        std::cout << nlohmann::json{{"config", cfg.source},
                                    {"ok", all_ok},
                                    {"shards", out},
                                    {"map", map_report}}
                         .dump(2)
                  << "\n";
        return all_ok ? 0 : 1;
    }
    std::cout << fmt::format(
        "config {} is valid: {} shard(s), {} table(s), {} user(s), bucket_bits={}\n\n", cfg.source,
        cfg.shards.size(), cfg.tables.size(), cfg.users.size(), cfg.sharding.bucket_bits);
    std::cout << fmt::format("{:<12} | {:<21} | {:<9} | {:<14} | {:>10} | {}\n", "shard", "address",
                             "reachable", "server_version", "latency_ms", "error");
    std::cout << std::string(90, '-') << "\n";
    for (const auto& r : rows)
        std::cout << fmt::format("{:<12} | {:<21} | {:<9} | {:<14} | {:>10} | {}\n", r.name,
                                 r.address, r.reachable ? "yes" : "NO", r.version,
                                 r.reachable ? fmt::format("{:.2f}", r.latency_ms) : "-", r.error);
    size_t bad = 0;
    for (const auto& r : rows) bad += !r.reachable;
    if (bad)
        std::cout << fmt::format("\n{} of {} shard(s) unreachable\n", bad, rows.size());
    else
        std::cout << fmt::format("\nall {} shard(s) reachable\n", rows.size());
    for (const auto& r : rows)
        for (const auto& p : r.problems) std::cout << fmt::format("shard {}: {}\n", r.name, p);
    all_ok = check_map(cfg, nullptr) && all_ok;
    return all_ok ? 0 : 1;
}

}  // namespace sg::cli
