// Thin RAII over libpq for the rebalancer: connections to shards (plain or replication) and to
// proxy admin consoles, results that free themselves, errors as values that say which server
// failed and what to do.
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "router/result.h"

namespace sg::rebalance {

using router::Error;
using router::Expected;
using router::Ok;
using router::Status;

struct ConnDeleter {
    void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultDeleter {
    void operator()(PGresult* r) const { PQclear(r); }
};
using Conn = std::unique_ptr<PGconn, ConnDeleter>;
using Result = std::unique_ptr<PGresult, ResultDeleter>;

// Where and as whom to connect.
struct Endpoint {
    std::string label;  // "shard s0" or "proxy 127.0.0.1:6432", for messages
    std::string host;
    int port = 0;
    std::string dbname, user, password;
    int connect_timeout_s = 10;
    std::string application = "shardgate-rebalance";  // application_name on the server
};

// The login the rebalancer uses on a shard: the shard's own user, else the config's first
// admin user's server login (it needs REPLICATION and ownership of the sharded tables).
Endpoint shard_endpoint(const Config& cfg, const ShardConfig& shard);
// The admin console of a proxy: database [admin] database, first admin user with a plain-text
// password.
Expected<Endpoint> proxy_endpoint(const Config& cfg, const std::string& host, int port);

// replication=true opens a `replication=database` walsender connection.
Expected<Conn> connect(const Endpoint& ep, bool replication = false);

// Runs one statement; any status but COMMAND_OK/TUPLES_OK/COPY_* is an error carrying the
// server's SQLSTATE and message prefixed by the endpoint label.
Expected<Result> exec(PGconn* c, const std::string& label, const std::string& sql);
Expected<Result> exec_params(PGconn* c, const std::string& label, const std::string& sql,
                             const std::vector<std::string>& params);
// The whole COPY-out or COPY-in must be ended with this once PQputCopyEnd/PQgetCopyData finish.
Status finish_copy(PGconn* c, const std::string& label);

std::string quote_ident(PGconn* c, const std::string& name);
std::string quote_literal(PGconn* c, const std::string& value);
// "public.orders" -> "public"."orders"; "orders" -> "orders".
std::string quote_qualified(PGconn* c, const std::string& name);

}  // namespace sg::rebalance
