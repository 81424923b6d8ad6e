#include "proxy/stats/admin_shards.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <tuple>
#include <vector>

namespace sg::stats {

namespace {

std::string shard_name(std::span<const std::string> names, size_t i) {
    return i < names.size() ? names[i] : fmt::format("#{}", i);
}

std::string iso(std::chrono::system_clock::time_point t) {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() % 1000;
    return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03d}Z",
                       fmt::gmtime(std::chrono::system_clock::to_time_t(t)), ms);
}

std::vector<std::string> shard_cells(const std::string& shard, const std::string& fingerprint,
                                     const std::string& user, const std::string& database,
                                     const ShardFigures& f) {
    return {shard,
            fingerprint,
            user,
            database,
            std::to_string(f.calls),
            std::to_string(f.errors),
            std::to_string(f.rows),
            std::to_string(f.bytes_sent),
            std::to_string(f.bytes_received),
            format_ms(double(f.total_ns())),
            format_ms(f.latency.mean()),
            format_ms(double(f.latency.percentile(0.50))),
            format_ms(double(f.latency.percentile(0.95))),
            format_ms(double(f.latency.max())),
            format_ms(double(f.pool_wait_ns))};
}

}  // namespace

Table show_shard_stats(const QueryStats& stats, std::span<const std::string> shard_names) {
    Table t{{"shard", "fingerprint", "user", "database", "calls", "errors", "rows", "bytes_sent",
             "bytes_received", "total_ms", "mean_ms", "p50_ms", "p95_ms", "max_ms", "pool_wait_ms",
             "straggler", "over_median_ms", "over_median_ratio", "query"},
            {},
            {}};
    const PerShard& all = stats.shard_figures();
    for (size_t i = 0; i < std::max(all.size(), shard_names.size()); ++i) {
        static const ShardFigures kNone;
        auto row =
            shard_cells(shard_name(shard_names, i), "all", "", "", i < all.size() ? all[i] : kNone);
        row.insert(row.end(), {"", "", "", ""});
        t.rows.push_back(std::move(row));
    }
    // Statements by total time, the costliest first; a statement's shards in index order.
    std::vector<std::pair<const QueryStats::Key*, const Group*>> groups;
    for (const auto& [k, g] : stats.groups())
        if (!g.shards.empty()) groups.emplace_back(&k, &g);
    std::sort(groups.begin(), groups.end(), [](const auto& a, const auto& b) {
        if (a.second->figures.total_ns() != b.second->figures.total_ns())
            return a.second->figures.total_ns() > b.second->figures.total_ns();
        return std::tie(a.second->shape->hex, a.first->user, a.first->database) <
               std::tie(b.second->shape->hex, b.first->user, b.first->database);
    });
    for (const auto& [key, g] : groups) {
        const auto straggler = find_straggler(g->shards);
        const bool marked = straggler && notable(*straggler);
        for (size_t i = 0; i < g->shards.size(); ++i) {
            const ShardFigures& f = g->shards[i];
            if (f.calls == 0) continue;
            auto row =
                shard_cells(shard_name(shard_names, i), g->shape->hex, key->user, key->database, f);
            const bool is_straggler = marked && straggler->shard == int(i);
            row.push_back(is_straggler ? "yes" : "");
            row.push_back(is_straggler ? format_ms(double(straggler->over_ns())) : "");
            row.push_back(is_straggler ? fmt::format("{:.2f}", straggler->ratio()) : "");
            row.push_back(g->shape->normalized);
            t.rows.push_back(std::move(row));
        }
    }
    return t;
}

Table show_refusals(const QueryStats& stats) {
    std::vector<const RefusalRow*> rows;
    for (const auto& r : stats.refusals().rows()) rows.push_back(&r);
    std::sort(rows.begin(), rows.end(), [](const RefusalRow* a, const RefusalRow* b) {
        if (a->count != b->count) return a->count > b->count;
        return std::tie(a->construct, a->shape->hex, a->user, a->database) <
               std::tie(b->construct, b->shape->hex, b->user, b->database);
    });
    Table t{{"construct", "count", "fingerprint", "user", "database", "first_at", "last_at",
             "query", "message", "way_around"},
            {},
            {}};
    for (const auto* r : rows)
        t.rows.push_back({r->construct, std::to_string(r->count), r->shape->hex, r->user,
                          r->database, iso(r->first), iso(r->last), r->shape->normalized,
                          r->message, r->way_around});
    return t;
}

}  // namespace sg::stats
