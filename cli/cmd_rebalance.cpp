// `shardgate rebalance plan|run|status|verify`: command output on stdout (text or --json),
// logs and progress on stderr. Exit codes: 0 done/consistent, 1 a check failed or the run
// stopped with an error, 2 bad usage.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/rebalance.h"
#include "cli/rebalance_etcd.h"
#include "cli/rebalance_pauses.h"
#include "rebalance/abort.h"
#include "rebalance/estimate.h"
#include "rebalance/interrupt.h"
#include "rebalance/journal.h"
#include "rebalance/leftovers.h"
#include "rebalance/map_gate.h"
#include "rebalance/mover.h"
#include "rebalance/planner.h"
#include "rebalance/verify.h"
#include "router/shard_map.h"

namespace sg::cli {
namespace {

namespace rb = sg::rebalance;
using nlohmann::json;

int fail(const std::string& what) {
    std::cerr << "shardgate rebalance: " << what << "\n";
    return 1;
}

std::string journal_file(const Config& cfg, const RebalanceOptions& o) {
    std::string dir = o.state_dir;
    if (dir.empty()) dir = std::filesystem::path(cfg.map_path()).parent_path().string();
    return rb::journal_path(dir.empty() ? "." : dir);
}

rb::PlanInput plan_input(const RebalanceOptions& o) {
    return {o.weights, std::set<std::string>(o.drain.begin(), o.drain.end())};
}

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    size_t i = static_cast<size_t>(p * (v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
}

std::string abbreviated(const std::vector<uint32_t>& buckets) {
    std::string s = rb::format_runs(buckets);
    return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

// What a move does for its target's reference tables (journal.h, ReferenceCopy).
std::string reference_note(const rb::MoveState& m) {
    switch (m.reference) {
        case rb::ReferenceCopy::None:
            return "";
        case rb::ReferenceCopy::Planned:
            return "; reference tables: to be copied to " + m.target;
        case rb::ReferenceCopy::Copied:
            return "; reference tables: copied to " + m.target +
                   ", changes streamed until its first switch";
        case rb::ReferenceCopy::Done:
            return "; reference tables: " + m.target + " has them, proxies write them";
    }
    return "";
}

int cmd_plan(const Config& cfg, const RebalanceOptions& o) {
    auto map = router::load_configured_map(cfg.map_path(), cfg);
    if (!map) return fail(map.error().message);
    auto plan = rb::plan_moves(*map, plan_input(o));
    if (!plan) return fail(plan.error().message);
    auto est = rb::estimate_moves(cfg, *plan, false);
    if (!est) return fail(est.error().message);
    if (o.json) {
        json moves = json::array();
        for (size_t i = 0; i < plan->moves.size(); ++i) {
            const auto& m = plan->moves[i];
            moves.push_back({{"source", plan->shard_names[m.source]},
                             {"target", plan->shard_names[m.target]},
                             {"buckets", m.buckets.size()},
                             {"ranges", rb::format_runs(m.buckets)},
                             {"estimated_rows", (*est)[i].rows},
                             {"estimated_bytes", (*est)[i].bytes}});
        }
        std::cout << json{{"map_version", map->version()},
                          {"bucket_count", map->bucket_count()},
                          {"moved_buckets", plan->moved_buckets()},
                          {"shards", plan->shard_names},
                          {"before", plan->before},
                          {"after", plan->quota},
                          {"moves", moves}}
                         .dump(2)
                  << "\n";
        return 0;
    }
    std::cout << fmt::format("map v{}: {} buckets; {} move ({:.1f}%)\n\n", map->version(),
                             map->bucket_count(), plan->moved_buckets(),
                             100.0 * plan->moved_buckets() / map->bucket_count());
    std::cout << fmt::format("{:<10} {:>8} {:>8}\n", "shard", "before", "after");
    for (size_t i = 0; i < plan->shard_names.size(); ++i)
        std::cout << fmt::format("{:<10} {:>8} {:>8}\n", plan->shard_names[i], plan->before[i],
                                 plan->quota[i]);
    std::cout << fmt::format("\n{:<10} {:<10} {:>8} {:>12} {:>10}  {}\n", "source", "target",
                             "buckets", "est. rows", "est. MB", "buckets");
    double rows = 0, bytes = 0;
    for (size_t i = 0; i < plan->moves.size(); ++i) {
        const auto& m = plan->moves[i];
        rows += (*est)[i].rows;
        bytes += (*est)[i].bytes;
        std::cout << fmt::format("{:<10} {:<10} {:>8} {:>12.0f} {:>10.1f}  {}\n",
                                 plan->shard_names[m.source], plan->shard_names[m.target],
                                 m.buckets.size(), (*est)[i].rows, (*est)[i].bytes / 1e6,
                                 abbreviated(m.buckets));
    }
    std::cout << fmt::format("{:<21} {:>8} {:>12.0f} {:>10.1f}\n", "total", plan->moved_buckets(),
                             rows, bytes / 1e6);
    return 0;
}

int cmd_run(const Config& cfg, const RebalanceOptions& o) {
    if (o.dry_run) {
        int rc = cmd_plan(cfg, o);
        if (rc == 0 && !o.json) std::cout << "\ndry run: nothing moved\n";
        return rc;
    }
    if (o.max_pause_ms < 10) return fail("--max-pause-ms must be at least 10");
    rb::RunOptions ro;
    ro.plan_input = plan_input(o);
    ro.proxies = o.proxies;
    ro.max_pause_ms = o.max_pause_ms;
    ro.journal_path = journal_file(cfg, o);
    ro.parallel = o.parallel;
    ro.lease_ms = o.pause_lease_ms;
    // [cluster] etcd: the lock, the registered proxies and every map version through etcd.
    std::unique_ptr<EtcdRebalance> etcd;
    std::unique_ptr<EtcdPauses> pauses;  // destroyed before the lock it lives under
    if (cfg.cluster.uses_etcd()) {
        auto e = EtcdRebalance::open(cfg);
        if (!e) return fail(e.error().message);
        etcd = std::move(*e);
        pauses = std::make_unique<EtcdPauses>(cfg, *etcd);
        ro.participants = pauses.get();
        ro.proxies_exact = true;
        ro.publish_map = etcd->publisher();
    }
    rb::install_interrupt_handlers();  // Ctrl-C mid-switch resumes the paused buckets first
    auto s = rb::run_rebalance_moves(cfg, ro);
    if (!s)
        return fail(s.error().message + "\nthe journal " + ro.journal_path +
                    " records the progress: fix the cause and rerun `shardgate rebalance run`, "
                    "or see `shardgate rebalance status`");
    double rate_rows = s->copy_seconds > 0 ? s->rows_copied / s->copy_seconds : 0;
    double rate_mb = s->copy_seconds > 0 ? s->bytes_copied / 1e6 / s->copy_seconds : 0;
    double p50 = percentile(s->pause_ms, 0.5), p99 = percentile(s->pause_ms, 0.99);
    double mx = s->pause_ms.empty() ? 0 : *std::max_element(s->pause_ms.begin(), s->pause_ms.end());
    if (o.json) {
        std::cout << json{{"buckets", s->buckets},
                          {"rows_switched", s->rows},
                          {"rows_copied", s->rows_copied},
                          {"bytes_copied", s->bytes_copied},
                          {"copy_seconds", s->copy_seconds},
                          {"copy_rows_per_s", rate_rows},
                          {"copy_mb_per_s", rate_mb},
                          {"switches", s->pause_ms.size()},
                          {"pause_ms_p50", p50},
                          {"pause_ms_p99", p99},
                          {"pause_ms_max", mx},
                          {"aborted_switches", s->aborted_switches},
                          {"resumed", s->resumed}}
                         .dump(2)
                  << "\n";
        return 0;
    }
    if (s->pause_ms.empty() && s->buckets == 0 && !s->resumed) {
        std::cout << "nothing to move: the map already matches the shards' shares\n";
        return 0;
    }
    std::cout << fmt::format(
        "rebalance done{}: {} buckets, {} rows switched; copy {} rows / {:.1f} MB in {:.2f} s "
        "({:.0f} rows/s, {:.1f} MB/s); {} switches, pause p50 {:.1f} ms, p99 {:.1f} ms, max "
        "{:.1f} ms; {} aborted and retried\n",
        s->resumed ? " (resumed)" : "", s->buckets, s->rows, s->rows_copied, s->bytes_copied / 1e6,
        s->copy_seconds, rate_rows, rate_mb, s->pause_ms.size(), p50, p99, mx, s->aborted_switches);
    return 0;
}

int cmd_status(const Config& cfg, const RebalanceOptions& o) {
    std::string path = journal_file(cfg, o);
    auto j = rb::load_journal(path);
    if (!j) return fail(j.error().message);
    auto objects = rb::list_rebalance_objects(cfg);
    if (!objects) return fail(objects.error().message);
    const bool active = j->has_value() && !(*j)->finished;
    auto owned = [&](const rb::RebalanceObject& obj) {
        if (!active) return false;
        if (obj.name.find((*j)->run_id) != std::string::npos) return true;
        if (obj.kind != "staging table") return false;
        for (const auto& m : (*j)->moves)
            if (m.phase != rb::Phase::Cleaned && obj.shard == m.target) return true;
        return false;
    };
    if (o.json) {
        json out = {{"journal", path}, {"active", active}};
        if (j->has_value()) out["run"] = json::parse(rb::journal_to_json(**j));
        json objs = json::array();
        for (const auto& obj : *objects)
            objs.push_back({{"shard", obj.shard},
                            {"kind", obj.kind},
                            {"name", obj.name},
                            {"active", obj.active},
                            {"leaked", !owned(obj)}});
        out["objects"] = objs;
        std::cout << out.dump(2) << "\n";
        return 0;
    }
    if (!j->has_value()) {
        std::cout << "no rebalance journal at " << path << "\n";
    } else {
        const auto& jr = **j;
        std::cout << fmt::format("rebalance {} ({}), planned from map v{}, journal {}\n", jr.run_id,
                                 jr.finished ? "finished" : "interrupted or running",
                                 jr.start_version, path);
        for (const auto& m : jr.moves)
            std::cout << fmt::format("  {} -> {}: {}/{} buckets switched, phase {}{}\n", m.source,
                                     m.target, m.switched.size(), m.buckets.size(),
                                     rb::to_string(m.phase), reference_note(m));
        if (jr.pending && !jr.finished)
            std::cout << fmt::format(
                "  switch {} of {} buckets {} -> {} may have been in progress: `rebalance run` "
                "commits it if the map already assigns them to {}, and rolls it back otherwise\n",
                jr.pending->gid, jr.pending->buckets.size(), jr.pending->source, jr.pending->target,
                jr.pending->target);
        if (!jr.pause_ms.empty())
            std::cout << fmt::format("  {} switches, pause p50 {:.1f} ms, p99 {:.1f} ms\n",
                                     jr.pause_ms.size(), percentile(jr.pause_ms, 0.5),
                                     percentile(jr.pause_ms, 0.99));
        if (active)
            std::cout << "  run `shardgate rebalance run` with the same config to continue\n";
    }
    size_t leaked = 0;
    for (const auto& obj : *objects) {
        bool mine = owned(obj);
        leaked += !mine;
        std::cout << fmt::format("  shard {}: {} {}{} — {}\n", obj.shard, obj.kind, obj.name,
                                 obj.active ? " (streaming)" : "",
                                 mine ? "in use by this run" : "LEAKED (the next run drops it)");
    }
    if (objects->empty()) std::cout << "  no replication slot, publication or staging table left\n";
    return leaked ? 1 : 0;
}

int cmd_verify(const Config& cfg, const RebalanceOptions& o) {
    auto r = rb::verify_placement(cfg);
    if (!r) return fail(r.error().message);
    if (o.json) {
        json tables = json::array();
        for (const auto& t : r->tables) {
            json shards = json::array();
            for (const auto& s : t.shards)
                shards.push_back({{"shard", s.shard},
                                  {"rows", s.rows},
                                  {"misplaced", s.misplaced},
                                  {"checksum", fmt::format("{:016x}", s.checksum)}});
            tables.push_back(
                {{"table", t.table},
                 {"sharded", t.sharded},
                 {"rows", t.rows},
                 {"misplaced", t.misplaced},
                 {"checksum", fmt::format("{:016x}", t.sharded          ? t.checksum
                                                     : t.shards.empty() ? 0
                                                                        : t.shards[0].checksum)},
                 {"reference_consistent", t.reference_consistent},
                 {"shards", shards}});
        }
        std::cout
            << json{{"map_version", r->map_version}, {"ok", r->ok()}, {"tables", tables}}.dump(2)
            << "\n";
        return r->ok() ? 0 : 1;
    }
    std::cout << fmt::format("map v{}\n", r->map_version);
    for (const auto& t : r->tables) {
        uint64_t sum = t.sharded ? t.checksum : (t.shards.empty() ? 0 : t.shards[0].checksum);
        std::cout << fmt::format("{} ({}): {} rows, checksum {:016x}, {}\n", t.table,
                                 t.sharded ? "sharded" : "reference", t.rows, sum,
                                 t.sharded ? fmt::format("{} on the wrong shard", t.misplaced)
                                 : t.reference_consistent ? "identical on every shard"
                                                          : "DIFFERS between shards");
        for (const auto& s : t.shards)
            std::cout << fmt::format("  {:<10} {:>10} rows {:>8} misplaced  {:016x}\n", s.shard,
                                     s.rows, s.misplaced, s.checksum);
    }
    std::cout << (r->ok() ? "ok: every row is on the shard that owns its bucket\n"
                          : "FAILED: see the rows above\n");
    return r->ok() ? 0 : 1;
}

}  // namespace

void add_rebalance_options(CLI::App* sub, RebalanceOptions& o) {
    sub->add_option("action", o.action, "plan | run | status | verify | abort")
        ->required()
        ->check(CLI::IsMember({"plan", "run", "status", "verify", "abort"}));
    sub->add_option("--drain", o.drain, "empty this shard (repeat for several)");
    sub->add_flag("--dry-run", o.dry_run, "run: print the plan, move nothing");
    sub->add_option("--max-pause-ms", o.max_pause_ms,
                    "bound on the write pause of one bucket switch (default 100)")
        ->check(CLI::Range(10, 60000));
    sub->add_option(
           "--pause-lease-ms", o.pause_lease_ms,
           "lease of a switch's pause on the proxies: if this process dies mid-switch, they "
           "resume by themselves within it (default max(2000, 10 x --max-pause-ms))")
        ->check(CLI::Range(100, 600000));
    sub->add_option("--parallel", o.parallel,
                    "source shards copied at once, each with its own replication slot (default 1); "
                    "switches stay one at a time")
        ->check(CLI::Range(1, 64));
    sub->add_option_function<std::vector<std::string>>(
        "--weight",
        [&o](const std::vector<std::string>& specs) {
            for (const auto& s : specs) {
                auto eq = s.find('=');
                if (eq == std::string::npos)
                    throw CLI::ValidationError("--weight", "expected NAME=W");
                try {
                    o.weights[s.substr(0, eq)] = std::stod(s.substr(eq + 1));
                } catch (const std::exception&) {
                    throw CLI::ValidationError("--weight", "W in " + s + " is not a number");
                }
            }
        },
        "relative share of a shard, NAME=W (default 1; repeat)");
    sub->add_flag("--json", o.json, "print JSON");
    sub->add_option("--state-dir", o.state_dir, "journal directory (default: the map file's)");
    sub->add_option("--proxy", o.proxies,
                    "another proxy HOST:PORT to switch besides [proxy] (repeat)");
}

int run_rebalance(const Config& configured, const RebalanceOptions& opts) {
    // With etcd, the shards follow etcd's list (a config lacking a shard, or naming another
    // endpoint, is completed or corrected by it) and the map file is the local copy of the
    // etcd map: bring both up to date first.
    Config cfg = configured;
    if (auto err = follow_rebalance_shards(cfg); !err.empty()) return fail(err);
    if (auto err = sync_rebalance_map(cfg); !err.empty()) return fail(err);
    if (opts.action == "plan" || opts.action == "run" || opts.action == "verify") {
        // Never plan, move or judge rows by a map the shards have moved past (issue 22).
        auto gated = rb::open_cluster_map(cfg, rb::GateMode::Bootstrap);
        if (!gated) return fail(gated.error().message);
        if (!gated->map.fence().empty()) return fail(gated->map.fence());
    }
    if (opts.action == "plan") return cmd_plan(cfg, opts);
    if (opts.action == "run") return cmd_run(cfg, opts);
    if (opts.action == "status") return cmd_status(cfg, opts);
    if (opts.action == "verify") return cmd_verify(cfg, opts);
    if (opts.action == "abort") {
        const std::string path = journal_file(cfg, opts);
        // With etcd: under the rebalance lock (no run may be going on), the registered proxies.
        std::unique_ptr<EtcdRebalance> etcd;
        std::unique_ptr<EtcdPauses> pauses;
        if (cfg.cluster.uses_etcd()) {
            auto e = EtcdRebalance::open(cfg);
            if (!e) return fail(e.error().message);
            etcd = std::move(*e);
            pauses = std::make_unique<EtcdPauses>(cfg, *etcd);
        }
        auto dropped =
            etcd ? rb::abort_rebalance(cfg, opts.proxies, path, pauses.get(), etcd->publisher())
                 : rb::abort_rebalance(cfg, opts.proxies, path);
        if (!dropped)
            return fail(dropped.error().message + "\nthe journal " + path +
                        " is kept; run abort again");
        for (const auto& o : *dropped)
            std::cout << fmt::format("{}: dropped {} {}\n", o.shard, o.kind, o.name);
        std::cout << fmt::format("rebalance aborted: {} object(s) dropped, journal {} removed\n",
                                 dropped->size(), path);
        return 0;
    }
    std::cerr << "shardgate rebalance: unknown action '" << opts.action
              << "'; use plan, run, status or verify\n";
    return 2;
}

}  // namespace sg::cli
