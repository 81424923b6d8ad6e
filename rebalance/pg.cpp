#include "rebalance/pg.h"
#include "common/sqlstate.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace sg::rebalance {
namespace {

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    for (auto& ch : s)
        if (ch == '\n') ch = ' ';
    return s;
}

Error result_error(PGresult* r, PGconn* c, const std::string& label) {
    const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    std::string msg = r ? PQresultErrorMessage(r) : "";
    if (msg.empty()) msg = PQerrorMessage(c);
    return Error{state ? state : sqlstate::kConnectionFailure, label + ": " + trimmed(msg)};
}

Expected<Result> check(PGresult* raw, PGconn* c, const std::string& label) {
    Result r(raw);
    switch (PQresultStatus(raw)) {
        case PGRES_COMMAND_OK:
        case PGRES_TUPLES_OK:
        case PGRES_COPY_OUT:
        case PGRES_COPY_IN:
        case PGRES_COPY_BOTH:
            return r;
        default:
            return result_error(raw, c, label);
    }
}

}  // namespace

Endpoint shard_endpoint(const Config& cfg, const ShardConfig& shard) {
    const UserConfig* user = nullptr;
    for (const auto& u : cfg.users)
        if (u.admin) {
            user = &u;
            break;
        }
    if (!user && !cfg.users.empty()) user = &cfg.users.front();
    ServerLogin login = server_login(shard, user);
    return Endpoint{"shard " + shard.name,
                    shard.host,
                    shard.port,
                    shard.dbname.empty() ? cfg.sharding.database : shard.dbname,
                    login.user,
                    login.password};
}

Expected<Endpoint> proxy_endpoint(const Config& cfg, const std::string& host, int port) {
    for (const auto& u : cfg.users) {
        bool hashed = u.password.rfind("SCRAM-SHA-256$", 0) == 0 ||
                      (u.password.size() == 35 && u.password.rfind("md5", 0) == 0);
        if (u.admin && !hashed)
            return Endpoint{"proxy " + host + ":" + std::to_string(port),
                            host,
                            port,
                            cfg.admin.database,
                            u.name,
                            u.password};
    }
    return Error{sqlstate::kInvalidAuthorizationSpecification,
                 cfg.source +
                     ": [[users]]: the rebalancer needs an admin user (admin = true) "
                     "with a plain-text password to reach the proxy admin console"};
}

Expected<Conn> connect(const Endpoint& ep, bool replication) {
    std::string port = std::to_string(ep.port);
    std::string timeout = std::to_string(std::max(1, ep.connect_timeout_s));
    // TCP keepalive bounds how long a silent shard (frozen, partitioned) can hold this
    // connection's reads, instead of the kernel's two hours.
    const char* keys[] = {"host",
                          "port",
                          "dbname",
                          "user",
                          "password",
                          "connect_timeout",
                          "application_name",
                          "keepalives",
                          "keepalives_idle",
                          "keepalives_interval",
                          "keepalives_count",
                          "replication",
                          nullptr};
    const char* vals[] = {ep.host.c_str(),
                          port.c_str(),
                          ep.dbname.c_str(),
                          ep.user.empty() ? nullptr : ep.user.c_str(),
                          ep.password.empty() ? nullptr : ep.password.c_str(),
                          timeout.c_str(),
                          ep.application.c_str(),
                          "1",
                          "10",
                          "5",
                          "3",
                          replication ? "database" : nullptr,
                          nullptr};
    if (!replication) keys[11] = nullptr;
    Conn c(PQconnectdbParams(keys, vals, 0));
    if (PQstatus(c.get()) != CONNECTION_OK)
        return Error{sqlstate::kSqlclientUnableToEstablishSqlconnection,
                     ep.label + " (" + ep.host + ":" + port +
                         "): cannot connect: " + trimmed(PQerrorMessage(c.get()))};
    // Server notices (DROP ... IF EXISTS, ROLLBACK outside a transaction) are expected here;
    // they go to the debug log instead of the terminal.
    PQsetNoticeProcessor(
        c.get(), [](void*, const char* msg) { spdlog::debug("server notice: {}", trimmed(msg)); },
        nullptr);
    return c;
}

Expected<Result> exec(PGconn* c, const std::string& label, const std::string& sql) {
    return check(PQexec(c, sql.c_str()), c, label);
}

Expected<Result> exec_params(PGconn* c, const std::string& label, const std::string& sql,
                             const std::vector<std::string>& params) {
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p.c_str());
    return check(PQexecParams(c, sql.c_str(), static_cast<int>(values.size()), nullptr,
                              values.data(), nullptr, nullptr, 0),
                 c, label);
}

Status finish_copy(PGconn* c, const std::string& label) {
    Status st = Ok{};
    while (PGresult* raw = PQgetResult(c)) {
        Result r(raw);
        if (PQresultStatus(raw) != PGRES_COMMAND_OK && st.ok()) st = result_error(raw, c, label);
    }
    return st;
}

std::string quote_ident(PGconn* c, const std::string& name) {
    char* q = PQescapeIdentifier(c, name.data(), name.size());
    std::string out = q ? q : "";
    PQfreemem(q);
    return out;
}

std::string quote_literal(PGconn* c, const std::string& value) {
    char* q = PQescapeLiteral(c, value.data(), value.size());
    std::string out = q ? q : "";
    PQfreemem(q);
    return out;
}

std::string quote_qualified(PGconn* c, const std::string& name) {
    auto dot = name.find('.');
    if (dot == std::string::npos) return quote_ident(c, name);
    return quote_ident(c, name.substr(0, dot)) + "." + quote_ident(c, name.substr(dot + 1));
}

}  // namespace sg::rebalance
