#include "proxy/txn/deadlock_detector.h"

#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "proxy/health/probe.h"
#include "proxy/proxy.h"
#include "proxy/session.h"
#include "proxy/spawn.h"
#include "proxy/txn/coordinator.h"

namespace sg::proxy::txn {

namespace asio = net::asio;

namespace {

struct ConnDeleter {
    void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultDeleter {
    void operator()(PGresult* r) const { PQclear(r); }
};
using Conn = std::unique_ptr<PGconn, ConnDeleter>;
using Result = std::unique_ptr<PGresult, ResultDeleter>;

// Every wait of the search is bounded: the connect, and the query by statement_timeout (a
// frozen shard costs one search a few seconds, never the event loop anything).
constexpr int kConnectTimeoutS = 2;
constexpr const char* kOptions = "-c statement_timeout=2000 -c lock_timeout=1000";

// The backends waiting for a lock and whom they wait for. pg_locks, unlike pg_stat_activity,
// shows every backend's waits to any login; a prepared transaction's locks have no pid.
constexpr const char* kLockWaits =
    "SELECT pid, pg_blocking_pids(pid)::text FROM (SELECT DISTINCT pid FROM pg_catalog.pg_locks "
    "WHERE NOT granted AND pid IS NOT NULL) AS waiting";

std::string conn_key(const ServerTarget& t) {
    return t.host + ":" + std::to_string(t.port) + "/" + t.dbname + "/" + t.user;
}

Conn connect(const ServerTarget& t, std::string& error) {
    const std::string port = std::to_string(t.port), timeout = std::to_string(kConnectTimeoutS);
    const char* keys[] = {"host",     "port",    "dbname",          "user",
                          "password", "options", "connect_timeout", "application_name",
                          nullptr};
    const char* vals[] = {t.host.c_str(),  port.c_str(),          t.dbname.c_str(),
                          t.user.c_str(),  t.password.c_str(),    kOptions,
                          timeout.c_str(), "shardgate-deadlocks", nullptr};
    Conn c(PQconnectdbParams(keys, vals, 0));
    if (!c || PQstatus(c.get()) != CONNECTION_OK) {
        error = c ? PQerrorMessage(c.get()) : "out of memory";
        while (!error.empty() && (error.back() == '\n' || error.back() == ' ')) error.pop_back();
        return nullptr;
    }
    return c;
}

}  // namespace

DeadlockDetector::DeadlockDetector(Proxy& proxy) : proxy_(proxy), thread_([this] { worker(); }) {
    asio::co_spawn(proxy_.io(), loop(alive_), LogUnhandled("deadlock detector"));
}

DeadlockDetector::~DeadlockDetector() {
    *alive_ = false;
    {
        std::lock_guard<std::mutex> lock(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
}

net::awaitable<void> DeadlockDetector::loop(std::shared_ptr<bool> alive) {
    asio::steady_timer timer(proxy_.io());
    while (*alive && !proxy_.shutting_down()) {
        const int bound = proxy_.config().transactions.deadlock_timeout_ms;
        timer.expires_after(
            std::chrono::milliseconds(bound > 0 ? std::clamp(bound / 4, 20, 250) : 1000));
        net::error_code ec;
        co_await timer.async_wait(net::ec_token(ec));
        if (!*alive) co_return;
        if (bound <= 0 || searching_) continue;
        std::optional<Search> s = due();
        if (!s) {
            suspected_.clear();  // nothing waits any more
            continue;
        }
        searching_ = true;
        {
            std::lock_guard<std::mutex> lock(mu_);
            job_ = std::move(*s);
        }
        cv_.notify_all();
    }
}

std::optional<DeadlockDetector::Search> DeadlockDetector::due() const {
    const auto bound = std::chrono::milliseconds(proxy_.config().transactions.deadlock_timeout_ms);
    const auto now = net::coarse_now();
    Search s;
    bool waited = false;
    for (const auto& [pid, session] : proxy_.sessions()) {
        std::optional<Session::SpanningTransaction> t = session->spanning_transaction();
        if (!t) continue;
        const auto txn = static_cast<uint64_t>(static_cast<uint32_t>(pid));
        s.started.emplace_back(txn, t->since.time_since_epoch().count());
        for (const auto& c : t->conns) {
            s.backends.push_back({txn, c->target().shard, c->backend_pid()});
            s.shards.try_emplace(c->target().shard, c->target());
            if (c->outstanding() > 0 && now - c->busy_since() >= bound) waited = true;
        }
    }
    if (!waited) return std::nullopt;
    return s;
}

void DeadlockDetector::worker() {
    std::map<std::string, Conn> conns;  // kept between searches, dropped on error
    for (;;) {
        Search s;
        {
            std::unique_lock<std::mutex> lock(mu_);
            cv_.wait(lock, [&] { return stop_ || job_.has_value(); });
            if (stop_) return;
            s = std::move(*job_);
            job_.reset();
        }
        std::vector<LockWait> waits;
        for (const auto& [shard, target] : s.shards) {
            const std::string key = conn_key(target);
            std::string error;
            auto it = conns.find(key);
            if (it == conns.end()) {
                Conn c = connect(target, error);
                if (!c) {
                    spdlog::warn("deadlock search: cannot read the lock waits of shard \"{}\": {}",
                                 target.shard_name, error);
                    continue;
                }
                it = conns.emplace(key, std::move(c)).first;
            }
            Result r(PQexec(it->second.get(), kLockWaits));
            if (!r || PQresultStatus(r.get()) != PGRES_TUPLES_OK) {
                spdlog::warn("deadlock search: reading the lock waits of shard \"{}\" failed: {}",
                             target.shard_name, r ? PQresultErrorMessage(r.get()) : "no result");
                conns.erase(it);
                continue;
            }
            for (int row = 0; row < PQntuples(r.get()); ++row) {
                LockWait w;
                w.shard = shard;
                w.pid = static_cast<int32_t>(std::strtol(PQgetvalue(r.get(), row, 0), nullptr, 10));
                w.blockers = parse_pid_array(PQgetvalue(r.get(), row, 1));
                if (!w.blockers.empty()) waits.push_back(std::move(w));
            }
        }
        std::vector<DeadlockVictim> victims = find_deadlocks(s.backends, s.started, waits);
        std::shared_ptr<bool> alive = alive_;
        asio::post(proxy_.io(),
                   [this, alive, victims = std::move(victims), s = std::move(s)]() mutable {
                       if (*alive) found(std::move(victims), s);
                   });
    }
}

void DeadlockDetector::found(std::vector<DeadlockVictim> victims, const Search& s) {
    searching_ = false;
    std::set<std::tuple<uint64_t, int64_t, int, int32_t>> seen;
    for (const auto& v : victims) {
        int64_t since = 0;
        for (const auto& [t, at] : s.started)
            if (t == v.txn) since = at;
        bool confirmed = false;
        for (const auto& [shard, pid] : v.waiting) {
            auto key = std::make_tuple(v.txn, since, shard, pid);
            if (suspected_.count(key)) confirmed = true;
            seen.insert(key);
        }
        if (confirmed) cancel(v, s);
    }
    suspected_ = std::move(seen);
}

void DeadlockDetector::cancel(const DeadlockVictim& v, const Search& s) {
    Session* session = proxy_.find_session(static_cast<int32_t>(v.txn));
    if (!session) return;
    std::optional<Session::SpanningTransaction> t = session->spanning_transaction();
    int64_t since = 0;
    for (const auto& [txn, at] : s.started)
        if (txn == v.txn) since = at;
    if (!t || t->since.time_since_epoch().count() != since) return;  // that transaction ended

    auto shard_name = [&](int shard) {
        auto it = s.shards.find(shard);
        return it == s.shards.end() ? std::to_string(shard) : it->second.shard_name;
    };
    std::string shards, others;
    for (int shard : v.shards)
        shards += (shards.empty() ? "\"" : ", \"") + shard_name(shard) + "\"";
    for (uint64_t txn : v.cycle)
        if (txn != v.txn) others += (others.empty() ? "" : ", ") + std::to_string(txn);
    bool acted = false;
    for (const auto& [shard, pid] : v.waiting) {
        for (const auto& c : t->conns) {
            if (c->target().shard != shard || c->backend_pid() != pid || c->outstanding() == 0 ||
                c->deadlock_victim())
                continue;
            std::string detail = fmt::format(
                "Its statement waited for a lock on shard \"{}\" in a cycle of lock waits across "
                "shards {} "
                "with the transactions of clients {}; no single PostgreSQL sees such a cycle, and "
                "shardgate "
                "cancelled the youngest transaction in it.",
                shard_name(shard), shards, others);
            spdlog::warn(
                "deadlock across shards {}: cancelling the statement of client {} (the youngest of "
                "the "
                "transactions of clients {}) waiting on shard \"{}\" (backend {})",
                shards, v.txn,
                others.empty() ? std::to_string(v.txn) : others + ", " + std::to_string(v.txn),
                shard_name(shard), pid);
            c->mark_deadlock_victim(std::move(detail));
            health::send_cancel_bounded(proxy_.io().get_executor(), c->target(), c->backend_pid(),
                                        c->backend_secret(), std::chrono::seconds(2));
            acted = true;
        }
    }
    if (!acted) return;
    ++proxy_.txn().counters().deadlocks;
    session->abort_parked_participants();
}

}  // namespace sg::proxy::txn
