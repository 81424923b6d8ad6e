#include "proxy/txn/startup.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "proxy/txn/coordinator.h"

namespace sg::proxy::txn {

std::string describe(const RecoveryReport& rep) {
    if (rep.committed == 0 && rep.rolled_back == 0 && rep.left == 0 && rep.problems.empty())
        return {};
    std::string out =
        fmt::format("transaction recovery: {} committed, {} rolled back, {} left for later",
                    rep.committed, rep.rolled_back, rep.left);
    if (!rep.problems.empty()) out += fmt::format(" ({})", fmt::join(rep.problems, "; "));
    return out;
}

namespace {

RecoveryOptions options(const Config& cfg, Coordinator& c) {
    RecoveryOptions o;
    o.own_instance = c.instance();
    o.grace_s = cfg.transactions.recovery_grace_s;
    o.in_flight = [&c](const std::string& gid) { return c.in_flight(gid); };
    o.table_ready = [&c](int shard) { c.mark_table_ready(shard); };
    return o;
}

void count(Coordinator& c, const RecoveryReport& rep) {
    c.counters().recovered_commits.fetch_add(rep.committed, std::memory_order_relaxed);
    c.counters().recovered_rollbacks.fetch_add(rep.rolled_back, std::memory_order_relaxed);
    if (std::string line = describe(rep); !line.empty()) {
        if (rep.problems.empty())
            spdlog::info("{}", line);
        else
            spdlog::warn("{}", line);
    }
}

}  // namespace

std::unique_ptr<RecoveryWorker> start_recovery(const Config& cfg, Coordinator& coordinator) {
    spdlog::info("transactions: instance id '{}', two_phase_commit={}", coordinator.instance(),
                 cfg.transactions.two_phase_commit);
    RecoveryOptions o = options(cfg, coordinator);
    count(coordinator, recover(cfg, o));
    auto worker = std::make_unique<RecoveryWorker>(
        cfg, o, [&coordinator](const RecoveryReport& rep) { count(coordinator, rep); });
    RecoveryWorker* w = worker.get();
    coordinator.on_leftover([w] { w->kick(); });
    return worker;
}

std::string render_metrics(Coordinator& c) {
    auto& k = c.counters();
    std::string out;
    auto counter = [&](const char* name, const char* help, double v) {
        out += fmt::format("# HELP {0} {1}\n# TYPE {0} counter\n{0} {2}\n", name, help, v);
    };
    counter("shardgate_txn_single_shard_commits_total",
            "Multi-shard units committed with one plain COMMIT.",
            double(k.single_shard_commits.load()));
    counter("shardgate_txn_two_phase_commits_total", "Transactions committed by two-phase commit.",
            k.two_phase_commits.load());
    counter("shardgate_txn_aborts_total", "Multi-shard units rolled back on every shard.",
            k.aborts.load());
    counter("shardgate_txn_unknown_outcomes_total",
            "Commits whose outcome the client was told is unknown (08007).",
            k.unknown_outcomes.load());
    counter("shardgate_txn_recovered_commits_total", "Prepared leftovers committed by recovery.",
            k.recovered_commits.load());
    counter("shardgate_txn_recovered_rollbacks_total",
            "Prepared leftovers rolled back by recovery.", k.recovered_rollbacks.load());
    counter("shardgate_txn_deadlocks_total",
            "Deadlocks across shards broken by cancelling a transaction (40P01).",
            k.deadlocks.load());
    counter("shardgate_txn_two_phase_commit_seconds_total", "Time spent in two-phase commits.",
            k.two_phase_latency.sum_us() / 1e6);
    out +=
        "# HELP shardgate_txn_commit_seconds Commit latency of multi-shard units: "
        "kind=\"two_phase\" "
        "(several shards wrote: PREPARE, decision, COMMIT PREPARED), kind=\"single\" (one plain "
        "COMMIT).\n"
        "# TYPE shardgate_txn_commit_seconds histogram\n";
    out += k.two_phase_latency.render("shardgate_txn_commit_seconds", "kind=\"two_phase\"");
    out += k.single_latency.render("shardgate_txn_commit_seconds", "kind=\"single\"");
    out += fmt::format(
        "# HELP shardgate_txn_in_flight Two-phase commits running now.\n"
        "# TYPE shardgate_txn_in_flight gauge\nshardgate_txn_in_flight {}\n",
        c.snapshot().size());
    return out;
}

}  // namespace sg::proxy::txn
