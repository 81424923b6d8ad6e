#include "proxy/txn/coordinator.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>

#include "common/sqlstate.h"
#include "proxy/txn/fault.h"
#include "proxy/txn/gid.h"

namespace sg::proxy::txn {

const char* const kDecisionTableDdl =
    "CREATE SCHEMA IF NOT EXISTS shardgate; "
    "CREATE TABLE IF NOT EXISTS shardgate.commit_decisions ("
    "gid text PRIMARY KEY, decided_at timestamptz NOT NULL DEFAULT now())";

namespace {

std::string default_instance(const Config& cfg) {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0) host[0] = 0;
    return fmt::format("{}-{}", host, cfg.proxy.port);
}

int64_t now_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// The first failure among `out` (participants `which`), as the client should see it.
CommitResult failure_of(Participants& p, const std::vector<StepOutcome>& out,
                        const std::vector<size_t>& which) {
    for (size_t i : which) {
        const StepOutcome& o = out[i];
        if (o.ok) continue;
        CommitResult r;
        r.kind = CommitResult::Kind::Failed;
        if (o.lost) {
            r.sqlstate = sqlstate::kConnectionFailure;
            r.message = fmt::format("shard \"{}\": connection lost while committing: {}",
                                    p.shard_name(i), o.message);
        } else {
            r.sqlstate = o.sqlstate.empty() ? sqlstate::kInternalError : o.sqlstate;
            r.message = fmt::format("shard \"{}\": {}", p.shard_name(i), o.message);
        }
        return r;
    }
    return {};
}

}  // namespace

Coordinator::Coordinator(const Config& cfg)
    : cfg_(cfg.transactions),
      instance_(sanitize_instance(cfg.transactions.instance_id.empty()
                                      ? default_instance(cfg)
                                      : cfg.transactions.instance_id)),
      epoch_us_(static_cast<uint64_t>(now_us())) {}

std::string Coordinator::next_gid(int coordinator_shard) {
    return make_gid(instance_, coordinator_shard, epoch_us_, ++sequence_);
}

void Coordinator::begin_flight(const std::string& gid, Participants& p,
                               const std::vector<size_t>& writers) {
    InFlight f;
    f.gid = gid;
    for (size_t i : writers) f.shards.push_back(p.shard_name(i));
    f.phase = "preparing";
    f.started = net::Clock::now();
    std::lock_guard lock(mu_);
    in_flight_[gid] = std::move(f);
}

void Coordinator::set_phase(const std::string& gid, const char* phase) {
    std::lock_guard lock(mu_);
    if (auto it = in_flight_.find(gid); it != in_flight_.end()) it->second.phase = phase;
}

void Coordinator::end_flight(const std::string& gid, bool leftover) {
    {
        std::lock_guard lock(mu_);
        in_flight_.erase(gid);
    }
    // Only once it is out of the registry may recovery take it over.
    if (leftover && kick_) kick_();
}

bool Coordinator::in_flight(const std::string& gid) const {
    std::lock_guard lock(mu_);
    return in_flight_.count(gid) > 0;
}

std::vector<InFlight> Coordinator::snapshot() const {
    std::lock_guard lock(mu_);
    std::vector<InFlight> out;
    for (const auto& [gid, f] : in_flight_) out.push_back(f);
    return out;
}

void Coordinator::mark_table_ready(int shard) {
    std::lock_guard lock(mu_);
    table_ready_[shard] = true;
}

bool Coordinator::table_ready(int shard) const {
    std::lock_guard lock(mu_);
    auto it = table_ready_.find(shard);
    return it != table_ready_.end() && it->second;
}

net::awaitable<void> Coordinator::rollback(Participants& p) {
    std::vector<std::string> sql(p.count(), "ROLLBACK");
    co_await p.step(sql);
    counters_.aborts.fetch_add(1, std::memory_order_relaxed);
}

net::awaitable<CommitResult> Coordinator::commit(Participants& p, const std::vector<bool>& wrote) {
    const auto started = net::Clock::now();
    auto elapsed_us = [&] {
        return static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(net::Clock::now() - started)
                .count());
    };
    const size_t n = p.count();
    std::vector<size_t> writers, all;
    for (size_t i = 0; i < n; ++i) {
        all.push_back(i);
        if (wrote[i]) writers.push_back(i);
    }

    if (writers.size() <= 1) {
        // At most one participant changed anything: its COMMIT alone decides, readers have
        // nothing to make durable. One round trip, as for a single-shard transaction.
        auto out = co_await p.step(std::vector<std::string>(n, "COMMIT"));
        CommitResult r = failure_of(p, out, writers.empty() ? all : writers);
        if (r.committed()) {
            counters_.single_shard_commits.fetch_add(1, std::memory_order_relaxed);
            counters_.single_latency.observe(elapsed_us());
        } else {
            counters_.aborts.fetch_add(1, std::memory_order_relaxed);
            if (r.sqlstate == sqlstate::kConnectionFailure) {
                // The COMMIT may or may not have happened on the shard that broke.
                r.kind = CommitResult::Kind::Unknown;
                r.sqlstate = sqlstate::kTransactionResolutionUnknown;
                r.detail = "the connection broke during COMMIT; the shard may have committed";
            }
        }
        co_return r;
    }

    // The coordinator: the lowest-numbered writing shard (any fixed choice works; recovery
    // reads it from the gid).
    size_t coord = writers.front();
    for (size_t i : writers)
        if (p.shard(i) < p.shard(coord)) coord = i;
    const std::string gid = next_gid(p.shard(coord));
    begin_flight(gid, p, writers);

    // 1. PREPARE everywhere; the coordinator's transaction also records the decision row.
    std::vector<std::string> sql(n);
    for (size_t i = 0; i < n; ++i)
        sql[i] = wrote[i] ? fmt::format("PREPARE TRANSACTION '{}'", gid) : "COMMIT";
    const bool ddl = !table_ready(p.shard(coord));
    sql[coord] = fmt::format("{}{}INSERT INTO shardgate.commit_decisions (gid) VALUES ('{}'); {}",
                             ddl ? kDecisionTableDdl : "", ddl ? "; " : "", gid, sql[coord]);
    if (crash_point_armed("between-prepares")) {
        std::vector<std::string> first(n);
        first[coord] = sql[coord];
        co_await p.step(first);
        crash_point("between-prepares");
    }
    auto prepared = co_await p.step(sql);
    if (CommitResult r = failure_of(p, prepared, writers); !r.committed()) {
        // No decision exists and none can appear (only this proxy commits the coordinator, and
        // it is still registered in flight): undo every part that got prepared.
        set_phase(gid, "rolling back");
        std::vector<std::string> undo(n);
        bool lost = false;
        for (size_t i : writers) {
            if (prepared[i].lost)
                lost = true;
            else
                undo[i] = prepared[i].ok ? fmt::format("ROLLBACK PREPARED '{}'", gid) : "ROLLBACK";
        }
        auto undone = co_await p.step(undo);
        for (size_t i : writers) lost = lost || (prepared[i].ok && !undone[i].ok);
        end_flight(gid, lost);
        counters_.aborts.fetch_add(1, std::memory_order_relaxed);
        r.detail = "the transaction was rolled back on every shard";
        if (r.sqlstate == sqlstate::kObjectNotInPrerequisiteState &&
            r.message.find("prepared transactions are disabled") != std::string::npos)
            r.detail += "; two-phase commit needs max_prepared_transactions > 0 on every shard";
        co_return r;
    }
    if (ddl) mark_table_ready(p.shard(coord));
    crash_point("prepared");

    // 2. The decision.
    set_phase(gid, "deciding");
    std::vector<std::string> decide(n);
    decide[coord] = fmt::format("COMMIT PREPARED '{}'", gid);
    auto decided = co_await p.step(decide);
    if (!decided[coord].ok) {
        CommitResult r;
        if (decided[coord].lost) {
            // The COMMIT PREPARED may have reached the shard: only the shard knows. Recovery
            // finishes it either way, consistently on every participant.
            end_flight(gid, true);
            counters_.unknown_outcomes.fetch_add(1, std::memory_order_relaxed);
            r.kind = CommitResult::Kind::Unknown;
            r.sqlstate = sqlstate::kTransactionResolutionUnknown;
            r.message = fmt::format(
                "shard \"{}\": connection lost while committing; the outcome is unknown",
                p.shard_name(coord));
            r.detail = fmt::format(
                "global transaction {} will be committed or rolled back on every shard by "
                "recovery, as one",
                gid);
            co_return r;
        }
        // It refused: nothing committed it, so no decision exists (only a recovery that took
        // this transaction for abandoned could have removed it, and that rolls back). Undo
        // the rest.
        set_phase(gid, "rolling back");
        std::vector<std::string> undo(n);
        for (size_t i : writers)
            if (i != coord) undo[i] = fmt::format("ROLLBACK PREPARED '{}'", gid);
        auto undone = co_await p.step(undo);
        bool lost = false;
        for (size_t i : writers) lost = lost || (i != coord && !undone[i].ok);
        end_flight(gid, lost);
        counters_.aborts.fetch_add(1, std::memory_order_relaxed);
        r.kind = CommitResult::Kind::Failed;
        r.sqlstate = sqlstate::kTransactionRollback;
        r.message = fmt::format("shard \"{}\": the commit decision failed: {}", p.shard_name(coord),
                                decided[coord].message);
        r.detail = "the transaction was rolled back on every shard";
        co_return r;
    }
    crash_point("decided");

    // 3. Committed. The rest only carries the decision out.
    set_phase(gid, "committing");
    std::vector<std::string> finish(n);
    for (size_t i : writers)
        if (i != coord) finish[i] = fmt::format("COMMIT PREPARED '{}'", gid);
    if (crash_point_armed("between-commits")) {
        std::vector<std::string> first(n);
        for (size_t i : writers)
            if (i != coord) {
                first[i] = finish[i];
                break;
            }
        co_await p.step(first);
        crash_point("between-commits");
    }
    auto committed = co_await p.step(finish);
    bool leftover = false;
    for (size_t i : writers)
        if (i != coord && !committed[i].ok) {
            leftover = true;
            spdlog::warn(
                "transaction {}: COMMIT PREPARED on shard \"{}\" failed ({}); recovery will retry "
                "it",
                gid, p.shard_name(i), committed[i].message);
        }
    end_flight(gid, leftover);
    counters_.two_phase_commits.fetch_add(1, std::memory_order_relaxed);
    counters_.two_phase_latency.observe(elapsed_us());
    co_return CommitResult{};
}

}  // namespace sg::proxy::txn
