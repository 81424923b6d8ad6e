#include "rebalance/mover.h"

#include "common/sqlstate.h"
#include "rebalance/interrupt.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "rebalance/copier.h"
#include "rebalance/crash_point.h"
#include "rebalance/cutover.h"
#include "rebalance/interrupt.h"
#include "rebalance/journal_binding.h"
#include "rebalance/leftovers.h"
#include "rebalance/progress.h"
#include "rebalance/proxies.h"
#include "rebalance/schema.h"
#include "rebalance/staging.h"
#include "rebalance/stream.h"
#include "router/map_stamp.h"
#include "router/shard_map.h"

namespace sg::rebalance {
namespace {

constexpr int kMaxAbortsInARow = 100;  // with the backoff below, about a minute and a half
constexpr uint32_t kMaxGroup = 256;

std::string sanitize(const std::string& s) {
    std::string out;
    for (char ch : s) out += std::isalnum(static_cast<unsigned char>(ch)) ? std::tolower(ch) : '_';
    return out;
}

Status save(const Journal& j, const RunOptions& o) {
    return save_journal(j, o.journal_path);
}

// A target that owns no buckets gets the reference tables from the first source (in run
// order) that moves buckets to it; until then proxies do not write its reference tables.
void plan_reference_copies(Journal& j, const router::ShardMap& map, const Config& cfg) {
    bool any = std::any_of(cfg.tables.begin(), cfg.tables.end(),
                           [](const TableConfig& t) { return t.kind == TableKind::Reference; });
    if (!any) return;
    std::set<std::string> brought;
    for (const auto& source : j.source_order())
        for (auto& m : j.moves) {
            int idx = map.shard_index(m.target);
            if (m.source != source || idx < 0 || map.owns_any(static_cast<uint16_t>(idx))) continue;
            if (brought.insert(m.target).second) m.reference = ReferenceCopy::Planned;
        }
}

// A fresh journal from the plan over the current map.
Expected<Journal> start_journal(const Config& cfg, const RunOptions& opts) {
    auto map = router::load_configured_map(cfg.map_path(), cfg);
    if (!map) return map.error();
    auto plan = plan_moves(*map, opts.plan_input);
    if (!plan) return plan.error();
    Journal j;
    j.run_id = new_run_id();
    j.start_version = map->version();
    j.start_hash = router::content_hash(*map);
    auto ids = read_system_ids(cfg);
    if (!ids) return ids.error();
    j.system_ids = std::move(*ids);
    j.bucket_bits = map->bucket_bits();
    for (const auto& m : plan->moves)
        j.moves.push_back({plan->shard_names[m.source],
                           plan->shard_names[m.target],
                           m.buckets,
                           {},
                           Phase::Planned});
    plan_reference_copies(j, *map, cfg);
    return j;
}

class SourceMover {
public:
    SourceMover(const Config& cfg, const RunOptions& opts, Journal& j, CutoverEnv& env,
                Progress& progress, RunSummary& summary, std::string source, std::mutex& shared)
        : cfg_(cfg),
          opts_(opts),
          j_(j),
          env_(env),
          progress_(progress),
          summary_(summary),
          source_(std::move(source)),
          shared_(shared) {}

    // The three stages of a source, in order. open() and finish() run one source at a time;
    // copy() may run on a thread next to other sources' copies, and takes `shared` whenever it
    // touches the journal or the summary.
    Status open();
    Status copy();
    Status finish();

private:
    std::vector<size_t> my_moves() const;
    Phase phase() const;
    void set_phase(Phase p);
    Status open_context();
    Status open_target(MoveState& mv, const router::ShardMap& map);
    void set_reference(size_t target, ReferenceCopy state);
    Expected<Conn> create_slot_and_copy();
    Expected<bool> slot_exists(PGconn* c);
    Status switch_all(ChangeStream& stream);
    Status cleanup();

    const Config& cfg_;
    const RunOptions& opts_;
    Journal& j_;
    CutoverEnv& env_;
    Progress& progress_;
    RunSummary& summary_;
    std::string source_;
    std::mutex& shared_;
    SourceContext ctx_;
    Conn data_;  // plain connection to the source
    Conn repl_;  // replication connection, from copy() to finish()
    double rows_per_bucket_ = 0;
};

std::vector<size_t> SourceMover::my_moves() const {
    std::vector<size_t> out;
    for (size_t i = 0; i < j_.moves.size(); ++i)
        if (j_.moves[i].source == source_) out.push_back(i);
    return out;
}

Phase SourceMover::phase() const {
    Phase p = Phase::Cleaned;
    for (size_t i : my_moves()) p = std::min(p, j_.moves[i].phase);
    return p;
}

void SourceMover::set_phase(Phase p) {
    for (size_t i : my_moves()) j_.moves[i].phase = std::max(j_.moves[i].phase, p);
}

Status SourceMover::open_context() {
    const ShardConfig* src = cfg_.find_shard(source_);
    if (!src)
        return Error{sqlstate::kInvalidParameterValue,
                     "journal names shard " + source_ + ", absent from the config"};
    ctx_.source = source_;
    ctx_.source_endpoint = shard_endpoint(cfg_, *src);
    auto c = connect(ctx_.source_endpoint);
    if (!c) return c.error();
    data_ = std::move(*c);
    auto tables = describe_sharded(data_.get(), ctx_.source_endpoint.label, cfg_);
    if (!tables) return tables.error();
    ctx_.tables = std::move(*tables);
    ctx_.bucket_bits = j_.bucket_bits;
    ctx_.target_of_bucket.assign(size_t{1} << j_.bucket_bits, -1);
    for (const auto& t : ctx_.tables) ctx_.staging.push_back(j_.staging_table(t.name, source_));
    auto map = router::load_configured_map(cfg_.map_path(), cfg_);
    if (!map) return map.error();
    for (size_t i : my_moves())
        if (auto st = open_target(j_.moves[i], *map); !st) return st;
    bool brings = std::any_of(ctx_.targets.begin(), ctx_.targets.end(), [](const TargetConn& t) {
        return t.reference == ReferenceCopy::Planned || t.reference == ReferenceCopy::Copied;
    });
    if (brings) {
        auto refs = describe_reference(data_.get(), ctx_.source_endpoint.label, cfg_);
        if (!refs) return refs.error();
        ctx_.reference = std::move(*refs);
    }
    return Ok{};
}

Status SourceMover::open_target(MoveState& mv, const router::ShardMap& map) {
    const ShardConfig* dst = cfg_.find_shard(mv.target);
    if (!dst)
        return Error{sqlstate::kInvalidParameterValue,
                     "journal names shard " + mv.target + ", absent from the config"};
    TargetConn tc{mv.target, shard_endpoint(cfg_, *dst), nullptr, mv.reference};
    auto tconn = connect(tc.endpoint);
    if (!tconn) return tconn.error();
    tc.conn = std::move(*tconn);
    // A shard that owns no buckets yet gets the schema from this source.
    int idx = map.shard_index(mv.target);
    if (idx >= 0 && !map.owns_any(static_cast<uint16_t>(idx)))
        if (auto st =
                ensure_schema(cfg_, ctx_.source_endpoint, data_.get(), tc.endpoint, tc.conn.get());
            !st)
            return st;
    // The target must hold the same tables (with a primary key) before rows can land.
    auto check = describe_sharded(tc.conn.get(), tc.endpoint.label, cfg_);
    if (!check) return check.error();
    // Once the target owns buckets of this move, proxies write its reference tables.
    // (A run that stopped right after the first switch may not have recorded it yet.)
    if (mv.reference != ReferenceCopy::None && !mv.switched.empty())
        tc.reference = mv.reference = ReferenceCopy::Done;
    if (tc.reference == ReferenceCopy::Planned || tc.reference == ReferenceCopy::Copied) {
        auto refs = describe_reference(tc.conn.get(), tc.endpoint.label, cfg_);
        if (!refs) return refs.error();
    }
    int t = static_cast<int>(ctx_.targets.size());
    ctx_.targets.push_back(std::move(tc));
    for (uint32_t b : mv.buckets)
        if (!std::binary_search(mv.switched.begin(), mv.switched.end(), b))
            ctx_.target_of_bucket[b] = t;
    return Ok{};
}

// Records a target's reference state in the context (the stream reads it) and the journal.
void SourceMover::set_reference(size_t target, ReferenceCopy state) {
    ctx_.targets[target].reference = state;
    for (size_t i : my_moves())
        if (j_.moves[i].target == ctx_.targets[target].shard) j_.moves[i].reference = state;
}

Expected<bool> SourceMover::slot_exists(PGconn* c) {
    auto r = exec_params(c, ctx_.source_endpoint.label,
                         "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1",
                         {j_.sources[source_].slot});
    if (!r) return r.error();
    return PQntuples(r->get()) > 0;
}

// Publication, then the slot with an exported snapshot, then the copy under that snapshot on
// a second connection while the replication connection stays idle (which keeps the snapshot).
Expected<Conn> SourceMover::create_slot_and_copy() {
    const auto& names = j_.sources[source_];
    const std::string& label = ctx_.source_endpoint.label;
    PGconn* c = data_.get();
    auto exists = slot_exists(c);
    if (!exists) return exists.error();
    if (*exists) {  // an interrupted copy: its stream position means nothing without the copy
        auto r = exec_params(c, label, "SELECT pg_drop_replication_slot($1)", {names.slot});
        if (!r) return r.error();
    }
    std::string tables;
    for (const auto* list : {&ctx_.tables, &ctx_.reference})
        for (const auto& t : *list)
            tables += (tables.empty() ? "" : ", ") + quote_ident(c, t.schema) + "." +
                      quote_ident(c, t.relname);
    auto pub =
        exec(c, label,
             fmt::format("DROP PUBLICATION IF EXISTS {0}; CREATE PUBLICATION {0} FOR TABLE {1}",
                         quote_ident(c, names.publication), tables));
    if (!pub) return pub.error();
    if (auto st = prepare_staging(ctx_, /*reset=*/true); !st) return st.error();

    auto repl = connect(ctx_.source_endpoint, /*replication=*/true);
    if (!repl) return repl.error();
    auto slot = exec(repl->get(), label,
                     fmt::format("CREATE_REPLICATION_SLOT {} LOGICAL pgoutput (SNAPSHOT 'export')",
                                 quote_ident(repl->get(), names.slot)));
    if (!slot)
        return Error{slot.error().sqlstate,
                     slot.error().message +
                         " (the source needs wal_level=logical and a free replication slot)"};
    std::string snapshot = PQgetvalue(slot->get(), 0, 2);
    spdlog::info("{}: slot {} consistent at {}, copying under snapshot {}", label, names.slot,
                 PQgetvalue(slot->get(), 0, 1), snapshot);
    auto stats = copy_moving_rows(ctx_, c, snapshot, [&](const CopyStats& s) {
        progress_.copied(source_, s.rows_scanned, s.rows_moved, s.bytes_moved);
    });
    if (!stats) return stats.error();
    auto indexing = std::chrono::steady_clock::now();
    if (auto st = index_staging(ctx_); !st) return st.error();
    stats->seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - indexing).count();
    {
        std::lock_guard lock(shared_);
        summary_.rows_copied += stats->rows_moved;
        summary_.bytes_copied += stats->bytes_moved;  // copy_seconds: the group's wall time
    }
    size_t moving = std::count_if(ctx_.target_of_bucket.begin(), ctx_.target_of_bucket.end(),
                                  [](int t) { return t >= 0; });
    rows_per_bucket_ = moving ? double(stats->rows_moved) / moving : 0;
    spdlog::info("{}: copied {} of {} rows ({:.1f} MB) in {:.2f} s: {:.0f} rows/s, {:.1f} MB/s",
                 label, stats->rows_moved, stats->rows_scanned, stats->bytes_moved / 1e6,
                 stats->seconds, stats->rows_moved / std::max(stats->seconds, 1e-9),
                 stats->bytes_moved / 1e6 / std::max(stats->seconds, 1e-9));
    return std::move(*repl);
}

Status SourceMover::switch_all(ChangeStream& stream) {
    uint32_t group = 8;
    if (rows_per_bucket_ > 0)
        group = std::clamp<uint32_t>(uint32_t(1000 / rows_per_bucket_), 1, kMaxGroup);
    for (size_t mi : my_moves()) {
        auto& mv = j_.moves[mi];
        size_t target = 0;
        while (ctx_.targets[target].shard != mv.target) ++target;
        int aborts = 0;
        for (;;) {
            std::vector<uint32_t> left;
            for (uint32_t b : mv.buckets)
                if (!std::binary_search(mv.switched.begin(), mv.switched.end(), b))
                    left.push_back(b);
            if (left.empty()) break;
            left.resize(std::min<size_t>(left.size(), group));
            auto r = switch_group(env_, ctx_, stream, data_.get(), target, mi, left);
            if (!r) return r.error();
            if (interrupted())  // the switch aborted (or finished) and every proxy resumed
                return Error{
                    sqlstate::kQueryCanceled,
                    fmt::format("interrupted by signal {}: the paused buckets were resumed; run "
                                "`shardgate rebalance run` to continue or `shardgate rebalance "
                                "abort` to undo",
                                interrupt_signal())};
            if (r->switched) {
                aborts = 0;
                if (ctx_.targets[target].reference == ReferenceCopy::Copied) {
                    // The switch's fence brought every earlier reference change and its pause
                    // held later ones; proxies now write the target's reference tables.
                    set_reference(target, ReferenceCopy::Done);
                    if (auto st = save(j_, opts_); !st) return st;
                    spdlog::info("shard {}: owns buckets now; proxies write its reference tables",
                                 mv.target);
                }
                summary_.buckets += left.size();
                summary_.rows += r->rows;
                summary_.pause_ms.push_back(r->pause_ms);
                progress_.switched(static_cast<uint32_t>(left.size()), r->rows);
                // Aim at half the bound: the pause grows with the rows of the group.
                double ratio =
                    std::clamp(0.5 * opts_.max_pause_ms / std::max(r->pause_ms, 1.0), 0.5, 2.0);
                group = std::clamp<uint32_t>(uint32_t(group * ratio), 1, kMaxGroup);
                continue;
            }
            ++summary_.aborted_switches;
            spdlog::warn(
                "switch of {} bucket(s) {} -> {} aborted ({}); old owner keeps serving, "
                "retrying with a smaller group",
                left.size(), source_, mv.target, r->reason);
            group = std::max<uint32_t>(1, group / 2);
            if (++aborts >= kMaxAbortsInARow)
                return Error{sqlstate::kQueryCanceled,
                             fmt::format("{} consecutive switches {} -> {} could not "
                                         "finish within --max-pause-ms {}; raise the "
                                         "bound or lower the write load, then rerun",
                                         aborts, source_, mv.target, opts_.max_pause_ms)};
            std::this_thread::sleep_for(std::chrono::milliseconds(std::min(1000, 50 * aborts)));
        }
    }
    return Ok{};
}

Status SourceMover::cleanup() {
    const auto& names = j_.sources[source_];
    const std::string& label = ctx_.source_endpoint.label;
    // The walsender of a just-closed stream may hold the slot for a moment.
    for (int attempt = 0;; ++attempt) {
        auto r = exec_params(data_.get(), label,
                             "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                             "WHERE slot_name = $1",
                             {names.slot});
        if (r) break;
        if (attempt >= 50) return r.error();
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    crash_point("cleanup");
    auto pub = exec(data_.get(), label,
                    "DROP PUBLICATION IF EXISTS " + quote_ident(data_.get(), names.publication));
    if (!pub) return pub.error();
    return drop_staging(ctx_);
}

Status SourceMover::open() {
    if (phase() == Phase::Cleaned) return Ok{};
    if (!j_.sources.count(source_)) {
        j_.sources[source_] = {slot_name(j_.run_id, source_), publication_name(j_.run_id)};
        if (auto st = save(j_, opts_); !st) return st;
    }
    return open_context();
}

Status SourceMover::copy() {
    Phase ph;
    {
        std::lock_guard lock(shared_);
        ph = phase();
    }
    if (ph >= Phase::Switched) return Ok{};
    auto exists = slot_exists(data_.get());
    if (!exists) return exists.error();
    if (ph == Phase::Planned || !*exists) {
        if (ph != Phase::Planned)
            spdlog::warn("{}: slot {} is gone; copying the unswitched buckets again", source_,
                         j_.sources[source_].slot);
        auto r = create_slot_and_copy();
        if (!r) return r.error();
        repl_ = std::move(*r);
        std::lock_guard lock(shared_);
        for (size_t t = 0; t < ctx_.targets.size(); ++t)
            if (ctx_.targets[t].reference == ReferenceCopy::Planned)
                set_reference(t, ReferenceCopy::Copied);
        set_phase(Phase::Copied);
        return save(j_, opts_);
    }
    if (auto st = prepare_staging(ctx_, /*reset=*/false); !st) return st;
    auto r = connect(ctx_.source_endpoint, /*replication=*/true);
    if (!r) return r.error();
    repl_ = std::move(*r);
    return Ok{};
}

Status SourceMover::finish() {
    if (phase() == Phase::Cleaned) return Ok{};
    if (phase() < Phase::Switched) {
        crash_point("catch-up");
        ChangeStream stream(ctx_, std::move(repl_));
        if (auto st = stream.start(j_.sources[source_].slot, j_.sources[source_].publication); !st)
            return st;
        // Caught up: a fence emitted now has come through the stream.
        std::string token = "sg_rb_" + j_.run_id + "_catchup_" + source_;
        auto f = emit_fence(data_.get(), ctx_.source_endpoint.label, token);
        if (!f) return f.error();
        auto seen = stream.pump(ChangeStream::Clock::now() + std::chrono::minutes(30), token);
        if (!seen) return seen.error();
        set_phase(Phase::CaughtUp);
        if (auto st = save(j_, opts_); !st) return st;
        if (auto st = switch_all(stream); !st) return st;
        set_phase(Phase::Switched);
        if (auto st = save(j_, opts_); !st) return st;
    }
    if (auto st = cleanup(); !st) return st;
    set_phase(Phase::Cleaned);
    return save(j_, opts_);
}

// Copies of `group` at once, at most one thread per source; the first error wins.
Status copy_group(std::vector<std::unique_ptr<SourceMover>>& group) {
    std::vector<Status> results(group.size(), Ok{});
    std::vector<std::thread> threads;
    for (size_t i = 1; i < group.size(); ++i)
        threads.emplace_back([&, i] { results[i] = group[i]->copy(); });
    results[0] = group[0]->copy();
    for (auto& t : threads) t.join();
    for (auto& r : results)
        if (!r.ok()) return r;
    return Ok{};
}

}  // namespace

std::string slot_name(const std::string& run_id, const std::string& source) {
    return ("sg_rb_" + run_id + "_" + sanitize(source)).substr(0, 63);
}

std::string publication_name(const std::string& run_id) {
    return "sg_rb_" + run_id;
}

Expected<RunSummary> run_rebalance_moves(const Config& cfg, const RunOptions& opts) {
    RunSummary summary;
    auto loaded = load_journal(opts.journal_path);
    if (!loaded) return loaded.error();
    Journal j;
    if (loaded->has_value() && !(*loaded)->finished) {
        j = std::move(**loaded);
        // Only against the map and shards it was written for (journal_binding.h).
        auto current = router::load_configured_map(cfg.map_path(), cfg);
        if (!current) return current.error();
        auto ids = read_system_ids(cfg);
        if (!ids) return ids.error();
        if (auto st = check_binding(j, *current, *ids, opts.journal_path); !st) return st.error();
        summary.resumed = true;
        spdlog::info("resuming rebalance {} from {}", j.run_id, opts.journal_path);
    } else {
        auto fresh = start_journal(cfg, opts);
        if (!fresh) return fresh.error();
        // No run claims anything now: whatever a lost run left behind is garbage.
        auto swept = drop_rebalance_objects(cfg);
        if (!swept) return swept.error();
        for (const auto& o : *swept)
            spdlog::warn("shard {}: dropped {} {} left by an earlier rebalance", o.shard, o.kind,
                         o.name);
        j = std::move(*fresh);
        if (j.moves.empty()) {
            spdlog::info("the map is already balanced: nothing to move");
            return summary;
        }
        if (auto st = save(j, opts); !st) return st.error();
    }
    const std::string application = "shardgate rebalance " + j.run_id;
    std::optional<ProxySet> consoles;  // the file-based default: the proxies' admin consoles
    SwitchParticipants* proxies = opts.participants;
    if (!proxies) {
        auto set = ProxySet::connect_all(cfg, opts.proxies, application, opts.proxies_exact);
        if (!set) return set.error();
        consoles.emplace(std::move(*set));
        proxies = &*consoles;
    }
    if (auto st = proxies->refresh(); !st) return st.error();
    CutoverEnv env{cfg,
                   j,
                   opts.journal_path,
                   *proxies,
                   opts.max_pause_ms,
                   opts.lease_ms > 0 ? opts.lease_ms : std::max(2000, 10 * opts.max_pause_ms),
                   opts.publish_map};
    if (auto st = resolve_pending(env); !st) return st.error();

    uint32_t total = 0;
    std::vector<std::string> sources;
    for (const auto& m : j.moves) {
        total += static_cast<uint32_t>(m.buckets.size() - m.switched.size());
        if (std::find(sources.begin(), sources.end(), m.source) == sources.end())
            sources.push_back(m.source);
    }
    Progress progress(total);
    std::mutex shared;
    const size_t width = static_cast<size_t>(std::max(1, opts.parallel));
    for (size_t first = 0; first < sources.size(); first += width) {
        std::vector<std::unique_ptr<SourceMover>> group;
        for (size_t i = first; i < std::min(sources.size(), first + width); ++i)
            group.push_back(std::make_unique<SourceMover>(cfg, opts, j, env, progress, summary,
                                                          sources[i], shared));
        Status st = Ok{};
        for (auto& m : group)
            if (st.ok()) st = m->open();
        const auto copy_start = std::chrono::steady_clock::now();
        if (st.ok()) st = copy_group(group);
        summary.copy_seconds +=
            std::chrono::duration<double>(std::chrono::steady_clock::now() - copy_start).count();
        for (auto& m : group)
            if (st.ok()) st = m->finish();
        if (!st.ok()) {
            progress.finish();
            return st.error();
        }
    }
    progress.finish();
    j.finished = true;
    if (auto st = save(j, opts); !st) return st.error();
    summary.pause_ms = j.pause_ms;
    return summary;
}

}  // namespace sg::rebalance
