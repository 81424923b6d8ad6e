#include "rebalance/cutover.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "common/sqlstate.h"
#include "rebalance/crash_point.h"
#include "rebalance/interrupt.h"
#include "rebalance/planner.h"
#include "rebalance/stamps.h"
#include "router/shard_map.h"

namespace sg::rebalance {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

std::string int_array(const std::vector<uint32_t>& buckets) {
    std::string s = "{";
    for (size_t i = 0; i < buckets.size(); ++i) s += (i ? "," : "") + std::to_string(buckets[i]);
    return s + "}";
}

// Moves the group's rows of every table from staging into the real table on the target and
// returns, per table, the moved primary keys as a JSON array (for the source's delete).
Expected<std::vector<std::pair<uint64_t, std::string>>> move_on_target(SourceContext& ctx,
                                                                       PGconn* c,
                                                                       const std::string& label,
                                                                       const std::string& arr) {
    std::vector<std::pair<uint64_t, std::string>> out;
    for (size_t i = 0; i < ctx.tables.size(); ++i) {
        const auto& t = ctx.tables[i];
        std::string pk_json;
        for (int k : t.primary_key)
            pk_json += fmt::format("{}{}, {}", pk_json.empty() ? "" : ", ",
                                   quote_literal(c, t.columns[k]), quote_ident(c, t.columns[k]));
        std::string cols = column_list(c, t);
        std::string sql = fmt::format(
            "WITH moved AS (DELETE FROM {0} WHERE shardgate_bucket = ANY($1::int[]) RETURNING *), "
            "ins AS (INSERT INTO {1}.{2} ({3}) SELECT {3} FROM moved) "
            "SELECT count(*), coalesce(json_agg(json_build_object({4})), '[]') FROM moved",
            ctx.staging_ident(c, i), quote_ident(c, t.schema), quote_ident(c, t.relname), cols,
            pk_json);
        auto r = exec_params(c, label, sql, {arr});
        if (!r) return r.error();
        out.emplace_back(std::strtoull(PQgetvalue(r->get(), 0, 0), nullptr, 10),
                         PQgetvalue(r->get(), 0, 1));
    }
    return out;
}

// Deletes the moved rows from the source; the counts must match what the target received, or
// the stream missed something and nothing may commit.
Status delete_on_source(SourceContext& ctx, PGconn* c,
                        const std::vector<std::pair<uint64_t, std::string>>& moved) {
    for (size_t i = 0; i < ctx.tables.size(); ++i) {
        const auto& t = ctx.tables[i];
        std::string real = quote_ident(c, t.schema) + "." + quote_ident(c, t.relname);
        std::string pk;
        for (int k : t.primary_key) pk += (pk.empty() ? "" : ", ") + quote_ident(c, t.columns[k]);
        std::string sql = fmt::format(
            "DELETE FROM {0} WHERE ({1}) IN (SELECT {1} FROM json_populate_recordset(NULL::{0}, "
            "$1::json))",
            real, pk);
        auto r = exec_params(c, ctx.source_endpoint.label, sql, {moved[i].second});
        if (!r) return r.error();
        uint64_t deleted = std::strtoull(PQcmdTuples(r->get()), nullptr, 10);
        if (deleted != moved[i].first) {
            // Name a few staged keys the source lacks, so the cause can be traced.
            auto gone = exec_params(
                c, ctx.source_endpoint.label,
                fmt::format("SELECT string_agg(row_to_json(r)::text, ' ') FROM (SELECT {1} FROM "
                            "json_populate_recordset(NULL::{0}, $1::json) EXCEPT SELECT {1} "
                            "FROM {0} LIMIT 5) r",
                            real, pk),
                {moved[i].second});
            std::string keys = gone && PQntuples(gone->get()) ? PQgetvalue(gone->get(), 0, 0) : "";
            return Error{
                sqlstate::kInternalError,
                fmt::format("{}: table {}: staging had {} rows of the group but the "
                            "source deleted {} (staged keys missing on the source: {}); "
                            "the switch is rolled back. Were rows written to the shard "
                            "directly, bypassing the proxy?",
                            ctx.source_endpoint.label, t.name, moved[i].first, deleted, keys)};
        }
    }
    return Ok{};
}

void rollback(PGconn* c, const std::string& gid, bool prepared) {
    if (prepared)
        PQclear(PQexec(c, ("ROLLBACK PREPARED '" + gid + "'").c_str()));
    else
        PQclear(PQexec(c, "ROLLBACK"));
}

}  // namespace

Expected<router::ShardMap> assigned_map(const Config& cfg, const std::vector<uint32_t>& buckets,
                                        const std::string& target) {
    auto map = router::load_configured_map(cfg.map_path(), cfg);
    if (!map) return map.error();
    int idx = map->shard_index(target);
    if (idx < 0)
        return Error{sqlstate::kInvalidParameterValue, "shard " + target + " is not in the map"};
    std::vector<uint16_t> b = map->buckets();
    bool changed = false;
    for (uint32_t x : buckets) {
        changed = changed || b[x] != idx;
        b[x] = static_cast<uint16_t>(idx);
    }
    if (!changed) return map;
    return router::ShardMap::from_parts(map->version() + 1, map->bucket_bits(), map->shard_names(),
                                        std::move(b), cfg.map_path());
}

Expected<uint64_t> publish_assignment(const Config& cfg, const std::vector<uint32_t>& buckets,
                                      const std::string& target, const MapPublisher& publish) {
    auto current = router::load_configured_map(cfg.map_path(), cfg);
    if (!current) return current.error();
    auto next = assigned_map(cfg, buckets, target);
    if (!next) return next.error();
    if (next->version() == current->version()) return next->version();
    if (publish)
        if (auto st = publish(*next); !st) return st.error();
    if (auto st = router::save_shard_map(*next, cfg.map_path()); !st) {
        // Published in etcd, the switch is decided whatever the file says: it must not be
        // rolled back (the proxies load the published version). A rerun syncs the file.
        if (publish) return Error{kDecidedElsewhere, st.error().message};
        return st.error();
    }
    return next->version();
}

Expected<SwitchResult> switch_group(CutoverEnv& env, SourceContext& ctx, ChangeStream& stream,
                                    PGconn* source, size_t target, size_t move_index,
                                    const std::vector<uint32_t>& buckets) {
    SwitchResult res;
    // With etcd: the proxies registered now, each answering or gone (lease expired); one that
    // registers after this reading makes the decision's compare fail (the switch retries).
    if (auto st = env.proxies.refresh(); !st) return st.error();
    const auto start = Clock::now();
    const double bound = env.max_pause_ms;
    const std::string runs = format_runs(buckets);
    // Unique per attempt: a fence of an aborted attempt may still arrive later and must not be
    // mistaken for this one (that would switch before staging has every change).
    static uint64_t attempts = 0;
    const std::string token =
        fmt::format("{}{}_{}_{}", kSwitchGidPrefix, env.journal.run_id, ::getpid(), ++attempts);
    PGconn* tc = ctx.targets[target].conn.get();
    const std::string& tlabel = ctx.targets[target].endpoint.label;
    // The map after this switch, stamped on both shards inside the prepared transactions that
    // move the rows: a proxy still routing by the old map finds its version behind the stamp.
    auto next_map = assigned_map(env.cfg, buckets, ctx.targets[target].shard);
    if (!next_map) return next_map.error();
    const router::MapStamp next_stamp = router::stamp_of(*next_map);
    if (auto st = check_stamp_before(tc, tlabel, next_stamp); !st) return st.error();
    if (auto st = check_stamp_before(source, ctx.source_endpoint.label, next_stamp); !st)
        return st.error();
    const std::string stamp_and_prepare =
        stamp_statement(next_stamp) + "; PREPARE TRANSACTION '" + token + "'";

    // Catch up before pausing, so the fence has little to wait for. An empty socket does not
    // mean caught up (the walsender may be decoding far behind under write load): a fence
    // emitted now, without pausing, and seen come through, does. Repeat while that took long,
    // i.e. while the stream still lags.
    for (int round = 0;; ++round) {
        const auto t0 = Clock::now();
        const std::string pre = fmt::format("{}_pre{}", token, round);
        if (auto f = emit_fence(source, ctx.source_endpoint.label, pre); !f) return f.error();
        auto seen = stream.pump(t0 + std::chrono::seconds(30), pre);
        if (!seen) return seen.error();
        if (!*seen) {
            res.reason = "the change stream lags more than 30 s behind the source";
            return res;
        }
        if (ms_since(t0) <= bound / 4 || round >= 50) break;
    }
    // What a resumed run must settle if we die inside the switch; written before the pause so
    // no fsync of it counts against the bound.
    env.journal.pending = PendingSwitch{ctx.source, ctx.targets[target].shard, buckets, token};
    if (auto st = save_journal(env.journal, env.journal_path); !st) return st.error();
    const auto paused = Clock::now();  // clients wait from the PAUSE on, drain included
    SwitchInProgress in_switch;  // Ctrl-C now aborts the switch instead of killing the process
    if (auto st = env.proxies.pause(runs, next_map->version() - 1,
                                    std::max(5, env.max_pause_ms / 3), env.lease_ms);
        !st) {
        // A registered proxy that did not answer: the next switch's refresh waits for it.
        if (env.proxies.any_unanswered()) {
            res.reason = "a proxy did not answer the pause: " + st.error().message;
            return res;
        }
        if (st.error().sqlstate != sqlstate::kQueryCanceled) return st.error();
        res.reason = "in-flight transactions did not drain within the bound";
        return res;
    }
    auto abort = [&](std::string why, bool prepared) -> Expected<SwitchResult> {
        rollback(tc, token, prepared);
        rollback(source, token, prepared);
        if (auto st = env.proxies.resume(); !st) return st.error();
        res.reason = std::move(why);
        return res;
    };

    crash_point("switch-paused");
    auto fence = emit_fence(source, ctx.source_endpoint.label, token);
    if (!fence) return abort("fence failed: " + fence.error().message, false);
    auto seen = stream.pump(paused + std::chrono::microseconds(int64_t(bound * 600)), token);
    if (!seen) {
        (void)abort("stream failed", false);
        return seen.error();
    }
    if (!*seen) return abort("catch-up did not reach the fence within the bound", false);
    if (interrupted())
        return abort(fmt::format("interrupted by signal {}", interrupt_signal()), false);
    const double fence_ms = ms_since(paused);

    const std::string arr = int_array(buckets);
    if (auto r = exec(tc, tlabel, "BEGIN"); !r) return r.error();
    auto moved = move_on_target(ctx, tc, tlabel, arr);
    if (!moved) return abort("target: " + moved.error().message, false);
    if (auto r = exec(source, ctx.source_endpoint.label, "BEGIN"); !r) return r.error();
    if (auto st = delete_on_source(ctx, source, *moved); !st) {
        (void)abort("", false);
        return st.error();
    }
    auto p1 = exec(tc, tlabel, stamp_and_prepare);
    auto p2 = exec(source, ctx.source_endpoint.label, stamp_and_prepare);
    if (!p1 || !p2) {
        // PREPARE that fails rolls its transaction back; undo the other side.
        if (p1) rollback(tc, token, true);
        if (p2) rollback(source, token, true);
        PQclear(PQexec(tc, "ROLLBACK"));
        PQclear(PQexec(source, "ROLLBACK"));
        (void)env.proxies.resume();
        return (!p1 ? p1 : p2).error();
    }
    crash_point("switch-prepared");
    // Commit, map write and reload still have to fit; decide only while they do (under load
    // they have taken up to ~40% of a 100 ms bound).
    const double moved_ms = ms_since(paused);
    if (moved_ms > bound * 0.6) return abort("the move took too long for the bound", true);
    if (interrupted())
        return abort(fmt::format("interrupted by signal {}", interrupt_signal()), true);
    // Every proxy must still hold this switch's pause: one whose lease lapsed served the old
    // owner meanwhile, and those writes are not in the moved rows. The renewal also gives the
    // rest of the switch (decision, commits, reload) a full lease.
    if (auto st = env.proxies.renew(); !st)
        return abort("the pause could not be renewed before the decision: " + st.error().message,
                     true);

    crash_point("switch-deciding");
    // The decision is the map file itself: once it assigns the group to the target, a resumed
    // run commits both prepared transactions; before that it rolls them back. One fsync.
    auto version = publish_assignment(env.cfg, buckets, ctx.targets[target].shard, env.publish_map);
    // Possibly or certainly decided in etcd: stop without rolling back; the rerun settles the
    // prepared switch by what etcd holds (resolve_pending).
    if (!version && version.error().sqlstate == kDecidedElsewhere) return version.error();
    if (!version) return abort("map: " + version.error().message, true);
    crash_point("switch-decided");
    // File map: nothing stops a proxy whose lease ran out just before the file was written from
    // finding the switch undecided and serving the old owner (Proxy::settle_lapsed_pause).
    // Renewing once more tells: a pause not held everywhere undoes the decision — the map
    // reassigns the buckets to the source (a newer version) while both sides are still
    // prepared, then they roll back. (With etcd the decision itself compares the pauses.)
    if (!env.publish_map)
        if (auto st = env.proxies.renew(); !st) {
            auto back = publish_assignment(env.cfg, buckets, ctx.source);
            if (!back) return back.error();  // decided stays decided: the rerun commits
            return abort("the pause lapsed while the map was written (undone by map v" +
                             std::to_string(*back) + "): " + st.error().message,
                         true);
        }
    // Decided: from here on only forward. A failure leaves the journal to finish the job.
    // With etcd the proxies' watches load the decided version at once; every proxy must route
    // by it before the commits stamp the shards with it, or a statement of an unpaused bucket
    // that meets the new stamp first finds its proxy's map stale and is refused (the switched
    // buckets themselves stay paused until after the commits).
    if (env.publish_map)
        if (auto st = env.proxies.reload(*version); !st) return st.error();
    if (auto r = exec(tc, tlabel, "COMMIT PREPARED '" + token + "'"); !r) return r.error();
    if (auto r = exec(source, ctx.source_endpoint.label, "COMMIT PREPARED '" + token + "'"); !r)
        return r.error();
    const double committed_ms = ms_since(paused);
    crash_point("switch-committed");
    // A proxy that has not acknowledged the new map must not serve these buckets: on a reload
    // failure the pause stays and the run stops.
    if (auto st = env.proxies.reload(*version); !st) return st.error();
    std::vector<std::string> lapsed;
    if (auto st = env.proxies.resume(&lapsed); !st) return st.error();
    for (const auto& proxy : lapsed)
        spdlog::error(
            "{}: the pause of buckets {} lapsed after the switch was decided (the lease is {} ms): "
            "that proxy may have routed to {} meanwhile; run `shardgate rebalance verify`",
            proxy, runs, env.lease_ms, ctx.source);
    res.pause_ms = ms_since(paused);
    res.switched = true;
    for (const auto& m : *moved) res.rows += m.first;

    for (uint32_t b : buckets) ctx.target_of_bucket[b] = -1;
    auto& mv = env.journal.moves[move_index];
    mv.switched.insert(mv.switched.end(), buckets.begin(), buckets.end());
    std::sort(mv.switched.begin(), mv.switched.end());
    env.journal.pending.reset();
    env.journal.pause_ms.push_back(res.pause_ms);
    if (auto st = save_journal(env.journal, env.journal_path); !st) return st.error();
    spdlog::info(
        "switched {} buckets {} -> {}: {} rows, map v{}, pause {:.1f} ms (fence at "
        "{:.1f}, moved at {:.1f}, committed at {:.1f}; {:.1f} ms with the drain)",
        buckets.size(), ctx.source, ctx.targets[target].shard, res.rows, *version, res.pause_ms,
        fence_ms, moved_ms, committed_ms, ms_since(start));
    return res;
}

// Whether the map file assigns every bucket of the pending switch to its target.
Expected<bool> pending_decided(const Config& cfg, const PendingSwitch& p) {
    auto map = router::load_configured_map(cfg.map_path(), cfg);
    if (!map) return map.error();
    int idx = map->shard_index(p.target);
    for (uint32_t b : p.buckets)
        if (b >= map->bucket_count() || map->shard_of_bucket(b) != idx) return false;
    return !p.buckets.empty();
}

Status resolve_pending(CutoverEnv& env) {
    auto& j = env.journal;
    bool decided = false;
    if (j.pending) {
        auto d = pending_decided(env.cfg, *j.pending);
        if (!d) return d.error();
        decided = *d;
    }
    const std::string prefix = std::string(kSwitchGidPrefix) + j.run_id + "_";
    for (const auto& shard : env.cfg.shards) {
        Endpoint ep = shard_endpoint(env.cfg, shard);
        auto c = connect(ep);
        if (!c) return c.error();
        auto r = exec_params(c->get(), ep.label,
                             "SELECT gid FROM pg_prepared_xacts WHERE gid LIKE $1 AND "
                             "database = current_database()",
                             {prefix + "%"});
        if (!r) return r.error();
        for (int i = 0; i < PQntuples(r->get()); ++i) {
            std::string gid = PQgetvalue(r->get(), i, 0);
            bool commit = decided && gid == j.pending->gid;
            spdlog::warn("{}: {} prepared switch {} left by an interrupted run", ep.label,
                         commit ? "committing" : "rolling back", gid);
            auto done = exec(c->get(), ep.label,
                             (commit ? "COMMIT PREPARED '" : "ROLLBACK PREPARED '") + gid + "'");
            if (!done) return done.error();
        }
    }
    uint64_t version = 0;
    if (decided) {
        auto v =
            publish_assignment(env.cfg, j.pending->buckets, j.pending->target, env.publish_map);
        if (!v) return v.error();
        version = *v;
        for (auto& mv : j.moves) {
            if (mv.source != j.pending->source || mv.target != j.pending->target) continue;
            for (uint32_t b : j.pending->buckets)
                if (!std::binary_search(mv.switched.begin(), mv.switched.end(), b))
                    mv.switched.push_back(b);
            std::sort(mv.switched.begin(), mv.switched.end());
        }
    } else {
        auto map = router::load_configured_map(env.cfg.map_path(), env.cfg);
        if (!map) return map.error();
        version = map->version();
    }
    j.pending.reset();
    if (auto st = save_journal(j, env.journal_path); !st) return st;
    // A crashed run may have left buckets paused: every proxy routes by the current map before
    // any resumes.
    if (auto st = env.proxies.reload(version); !st) return st;
    return env.proxies.resume();
}

}  // namespace sg::rebalance
