#include "proxy/txn/recovery.h"

#include <fmt/format.h>
#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include <map>
#include <memory>
#include <set>

#include "common/sqlstate.h"
#include "proxy/txn/coordinator.h"
#include "proxy/txn/gid.h"

namespace sg::proxy::txn {

namespace {

struct ConnDeleter {
    void operator()(PGconn* c) const { PQfinish(c); }
};
using Conn = std::unique_ptr<PGconn, ConnDeleter>;
struct ResultDeleter {
    void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

std::string one_line(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    for (auto& ch : s)
        if (ch == '\n') ch = ' ';
    return s;
}

// A connection to a shard as `login` (a prepared transaction can only be finished by its
// owner or a superuser).
Conn connect(const Config& cfg, const ShardConfig& shard, const ServerLogin& login,
             std::string& error) {
    const std::string dbname = shard.dbname.empty() ? cfg.sharding.database : shard.dbname;
    const std::string port = std::to_string(shard.port);
    const std::string timeout = std::to_string(std::max(1, cfg.proxy.connect_timeout_ms / 1000));
    const char* keys[] = {
        "host", "port", "dbname", "user", "password", "connect_timeout", "application_name",
        nullptr};
    const char* vals[] = {
        shard.host.c_str(),     port.c_str(),    dbname.c_str(),       login.user.c_str(),
        login.password.c_str(), timeout.c_str(), "shardgate-recovery", nullptr};
    Conn c(PQconnectdbParams(keys, vals, 0));
    if (!c || PQstatus(c.get()) != CONNECTION_OK) {
        error = c ? one_line(PQerrorMessage(c.get())) : "out of memory";
        return nullptr;
    }
    // NOTICEs ("schema already exists, skipping") go to the debug log, not to stderr.
    PQsetNoticeProcessor(
        c.get(), [](void*, const char* msg) { spdlog::debug("recovery: {}", one_line(msg)); },
        nullptr);
    return c;
}

// Runs `sql` (with text parameters); empty error on success.
Result exec(PGconn* c, const std::string& sql, const std::vector<std::string>& params,
            std::string& error) {
    std::vector<const char*> p;
    for (const auto& s : params) p.push_back(s.c_str());
    // Without parameters through PQexec: the decision table's DDL is several statements.
    Result r(p.empty() ? PQexec(c, sql.c_str())
                       : PQexecParams(c, sql.c_str(), static_cast<int>(p.size()), nullptr, p.data(),
                                      nullptr, nullptr, 0));
    auto st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        error = one_line(r ? PQresultErrorMessage(r.get()) : PQerrorMessage(c));
        const char* code = r ? PQresultErrorField(r.get(), PG_DIAG_SQLSTATE) : nullptr;
        if (code) error = std::string(code) + " " + error;
        return nullptr;
    }
    error.clear();
    return r;
}

// The decision table is created by whichever login gets there first (this pass, as the admin
// login; or a client's coordinator): every configured user's shard login must be able to
// record decisions (INSERT) and read them, or a multi-shard write of a user other than the
// table's owner fails with "permission denied" (seen with `make demo`: the admin login created
// it, the app login could not commit its DDL). Granted to those roles only, not to PUBLIC: a
// decision row decides a prepared transaction's fate. A role the shard does not know, or a
// login without the right to grant, leaves a debug line; the insert's error then says why.
void grant_decisions(const Config& cfg, int shard, PGconn* c) {
    std::set<std::string> roles;
    for (const auto& u : cfg.users) roles.insert(server_login(cfg.shards[shard], &u).user);
    for (const auto& role : roles) {
        if (role.empty()) continue;
        std::string err;
        // Most passes find the grants in place: no catalog write then.
        Result has = exec(c,
                          "SELECT has_schema_privilege($1, 'shardgate', 'USAGE') AND "
                          "has_table_privilege($1, 'shardgate.commit_decisions', 'SELECT, INSERT')",
                          {role}, err);
        if (!has ||
            (PQntuples(has.get()) == 1 && std::string_view(PQgetvalue(has.get(), 0, 0)) == "t")) {
            if (!err.empty())
                spdlog::debug("recovery: shard \"{}\": role {}: {}", cfg.shards[shard].name, role,
                              err);
            continue;
        }
        char* quoted = PQescapeIdentifier(c, role.c_str(), role.size());
        if (!quoted) continue;
        const std::string q(quoted);
        PQfreemem(quoted);
        exec(c,
             "GRANT USAGE ON SCHEMA shardgate TO " + q +
                 "; GRANT SELECT, INSERT ON shardgate.commit_decisions TO " + q,
             {}, err);
        if (!err.empty())
            spdlog::debug("recovery: shard \"{}\": grant to {}: {}", cfg.shards[shard].name, role,
                          err);
    }
}

struct Prepared {
    std::string owner;
    double age_s = 0;
};

// Connections of one pass: per shard, as the configured login and per prepared-transaction
// owner.
class Shards {
public:
    explicit Shards(const Config& cfg) : cfg_(cfg) {}

    PGconn* get(int shard, const std::string& owner, std::string& error) {
        auto key = std::make_pair(shard, owner);
        if (auto it = conns_.find(key); it != conns_.end()) return it->second.get();
        const ShardConfig& sc = cfg_.shards[shard];
        const UserConfig* pick = nullptr;
        for (const auto& u : cfg_.users)
            if (owner.empty() ? u.admin : server_login(sc, &u).user == owner) {
                pick = &u;
                break;
            }
        if (!pick && !cfg_.users.empty()) pick = &cfg_.users.front();
        Conn c = connect(cfg_, sc, server_login(sc, pick), error);
        if (!c) return nullptr;
        return (conns_[key] = std::move(c)).get();
    }

private:
    const Config& cfg_;
    std::map<std::pair<int, std::string>, Conn> conns_;
};

bool gone(const std::string& error) {
    return error.rfind(sqlstate::kUndefinedObject, 0) == 0;
}

}  // namespace

RecoveryReport recover(const Config& cfg, const RecoveryOptions& o) {
    RecoveryReport rep;
    Shards shards(cfg);
    const int n = static_cast<int>(cfg.shards.size());
    // Snapshot of this proxy's in-flight ids before the scan: one that finishes during the
    // scan is still skipped this pass.
    std::set<std::string> all_gids;
    std::map<std::string, std::map<int, Prepared>> found;  // gid -> shard -> entry
    std::vector<bool> reachable(n, false);
    for (int i = 0; i < n; ++i) {
        std::string err;
        PGconn* c = shards.get(i, "", err);
        if (!c) {
            rep.problems.push_back(fmt::format("shard \"{}\": {}", cfg.shards[i].name, err));
            continue;
        }
        reachable[i] = true;
        // Two proxies may create it at once: the loser's error is harmless if it exists.
        exec(c, kDecisionTableDdl, {}, err);
        if (!err.empty()) {
            exec(c, "SELECT 1 FROM shardgate.commit_decisions LIMIT 0", {}, err);
            if (!err.empty())
                rep.problems.push_back(
                    fmt::format("shard \"{}\": decision table: {}", cfg.shards[i].name, err));
        }
        if (err.empty()) grant_decisions(cfg, i, c);
        if (err.empty() && o.table_ready) o.table_ready(i);
        Result r = exec(c,
                        "SELECT gid, owner, extract(epoch FROM now() - prepared)::float8 FROM "
                        "pg_prepared_xacts "
                        "WHERE gid LIKE 'sgx\\_%' AND database = current_database()",
                        {}, err);
        if (!r) {
            reachable[i] = false;
            rep.problems.push_back(fmt::format("shard \"{}\": {}", cfg.shards[i].name, err));
            continue;
        }
        for (int row = 0; row < PQntuples(r.get()); ++row) {
            std::string gid = PQgetvalue(r.get(), row, 0);
            all_gids.insert(gid);
            found[gid][i] =
                Prepared{PQgetvalue(r.get(), row, 1), std::atof(PQgetvalue(r.get(), row, 2))};
        }
    }

    for (const auto& [gid, where] : found) {
        auto parts = parse_gid(gid);
        if (!parts || parts->coordinator >= n) {
            ++rep.left;
            rep.problems.push_back(
                fmt::format("{}: not a gid of this configuration; left alone", gid));
            continue;
        }
        double age = 0;
        for (const auto& [shard, p] : where) age = std::max(age, p.age_s);
        bool own = parts->instance == o.own_instance;
        if (!o.everything) {
            if (own && o.in_flight && o.in_flight(gid)) continue;  // still being committed here
            if (!own && age < o.grace_s) {
                ++rep.left;
                continue;
            }
        }
        const int coord = parts->coordinator;
        if (!reachable[coord]) {
            ++rep.left;
            rep.problems.push_back(
                fmt::format("{}: coordinator shard \"{}\" unreachable; left for later", gid,
                            cfg.shards[coord].name));
            continue;
        }
        std::string err;
        bool commit = false;
        auto coord_entry = where.find(coord);
        if (coord_entry != where.end()) {
            // Undecided: make sure it never commits by rolling the coordinator back first.
            PGconn* c = shards.get(coord, coord_entry->second.owner, err);
            if (c) exec(c, fmt::format("ROLLBACK PREPARED '{}'", gid), {}, err);
            if (!err.empty() && !gone(err)) {
                ++rep.left;
                rep.problems.push_back(fmt::format("{}: ROLLBACK PREPARED on shard \"{}\": {}", gid,
                                                   cfg.shards[coord].name, err));
                continue;
            }
            spdlog::info(
                "recovery: rolled back prepared transaction {} on coordinator shard \"{}\" "
                "(undecided)",
                gid, cfg.shards[coord].name);
        } else {
            PGconn* c = shards.get(coord, "", err);
            Result r =
                c ? exec(c, "SELECT 1 FROM shardgate.commit_decisions WHERE gid = $1", {gid}, err)
                  : nullptr;
            if (!r) {
                ++rep.left;
                rep.problems.push_back(fmt::format("{}: reading the decision on shard \"{}\": {}",
                                                   gid, cfg.shards[coord].name, err));
                continue;
            }
            commit = PQntuples(r.get()) > 0;
        }
        bool all_done = true;
        for (const auto& [shard, p] : where) {
            if (shard == coord) continue;
            PGconn* c = shards.get(shard, p.owner, err);
            if (c)
                exec(c, fmt::format("{} PREPARED '{}'", commit ? "COMMIT" : "ROLLBACK", gid), {},
                     err);
            if (!err.empty() && !gone(err)) {
                all_done = false;
                rep.problems.push_back(fmt::format("{}: {} PREPARED on shard \"{}\": {}", gid,
                                                   commit ? "COMMIT" : "ROLLBACK",
                                                   cfg.shards[shard].name, err));
                continue;
            }
            spdlog::info(
                "recovery: {} prepared transaction {} on shard \"{}\" (decision on shard \"{}\": "
                "{})",
                commit ? "committed" : "rolled back", gid, cfg.shards[shard].name,
                cfg.shards[coord].name, commit ? "commit" : "none, so roll back");
        }
        if (!all_done) {
            ++rep.left;
            continue;
        }
        ++(commit ? rep.committed : rep.rolled_back);
    }

    // Decision rows are needed while some participant of theirs is still prepared; older
    // than the grace period and not prepared anywhere, they are done with. Only when every
    // shard answered (an unreachable one may hold a prepared part).
    bool every = true;
    for (bool r : reachable) every = every && r;
    if (every) {
        std::string list = "{";
        for (const auto& g : all_gids) list += (list.size() > 1 ? "," : "") + g;
        list += "}";
        for (int i = 0; i < n; ++i) {
            std::string err;
            PGconn* c = shards.get(i, "", err);
            if (!c) continue;
            Result r = exec(c,
                            "DELETE FROM shardgate.commit_decisions WHERE decided_at < now() - "
                            "make_interval(secs => "
                            "$1::float8) AND gid <> ALL ($2::text[])",
                            {std::to_string(o.everything ? 0 : o.grace_s), list}, err);
            if (r) rep.decisions_deleted += std::atoi(PQcmdTuples(r.get()));
        }
    }
    return rep;
}

RecoveryWorker::RecoveryWorker(Config cfg, RecoveryOptions o,
                               std::function<void(const RecoveryReport&)> done)
    : cfg_(std::move(cfg)),
      opts_(std::move(o)),
      done_(std::move(done)),
      thread_([this] { loop(); }) {}

RecoveryWorker::~RecoveryWorker() {
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
}

void RecoveryWorker::kick() {
    {
        std::lock_guard lock(mu_);
        kicked_ = true;
    }
    cv_.notify_all();
}

void RecoveryWorker::reconfigure(const Config& cfg) {
    std::lock_guard lock(mu_);
    cfg_ = cfg;
}

void RecoveryWorker::loop() {
    for (;;) {
        Config cfg;
        {
            std::unique_lock lock(mu_);
            cv_.wait_for(lock, std::chrono::seconds(cfg_.transactions.recovery_interval_s),
                         [&] { return stop_ || kicked_; });
            if (stop_) return;
            kicked_ = false;
            cfg = cfg_;
        }
        RecoveryReport rep = recover(cfg, opts_);
        if (done_) done_(rep);
    }
}

}  // namespace sg::proxy::txn
