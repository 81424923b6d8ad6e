#include "rebalance/copier.h"

#include <fmt/format.h>

#include <chrono>

#include "common/sqlstate.h"
#include "rebalance/crash_point.h"
#include "rebalance/reference.h"
#include "router/copy_split.h"

namespace sg::rebalance {
namespace {

constexpr size_t kFlushBytes = 256 * 1024;

Status put(TargetConn& t, std::string& buf) {
    if (buf.empty()) return Ok{};
    if (PQputCopyData(t.conn.get(), buf.data(), static_cast<int>(buf.size())) != 1)
        return Error{
            sqlstate::kConnectionFailure,
            t.endpoint.label + ": COPY into staging failed: " + PQerrorMessage(t.conn.get())};
    buf.clear();
    return Ok{};
}

// Streams table `ti` from the source into each target's staging table.
Status copy_table(SourceContext& ctx, PGconn* source, size_t ti, CopyStats& stats,
                  const std::function<void(const CopyStats&)>& progress) {
    const TableInfo& t = ctx.tables[ti];
    for (auto& tg : ctx.targets) {
        PGconn* c = tg.conn.get();
        auto r = exec(c, tg.endpoint.label,
                      fmt::format("COPY {} ({}, shardgate_bucket) FROM STDIN",
                                  ctx.staging_ident(c, ti), column_list(c, t)));
        if (!r) return r.error();
    }
    std::string real = quote_ident(source, t.schema) + "." + quote_ident(source, t.relname);
    auto r = exec(source, ctx.source_endpoint.label,
                  fmt::format("COPY {} ({}) TO STDOUT", real, column_list(source, t)));
    if (!r) return r.error();

    std::vector<std::string> bufs(ctx.targets.size());
    Status failed = Ok{};
    char* row = nullptr;
    int n;
    while ((n = PQgetCopyData(source, &row, 0)) > 0) {
        std::string_view line(row, static_cast<size_t>(n));
        ++stats.rows_scanned;
        stats.bytes_scanned += line.size();
        if (failed.ok()) {
            std::string_view body = line.substr(0, line.size() - 1);  // drop '\n'
            auto key = copy_text_field(body, t.key_column);
            int64_t bucket =
                ctx.bucket_of(t, key ? std::optional<std::string_view>(*key) : std::nullopt);
            int target = bucket < 0 ? -1 : ctx.target_of_bucket[static_cast<size_t>(bucket)];
            if (target >= 0) {
                auto& buf = bufs[static_cast<size_t>(target)];
                buf.append(body).append(1, '\t').append(std::to_string(bucket)).append(1, '\n');
                ++stats.rows_moved;
                stats.bytes_moved += line.size();
                if (buf.size() >= kFlushBytes) failed = put(ctx.targets[target], buf);
            }
        }
        PQfreemem(row);
        if (stats.rows_scanned % 65536 == 0) progress(stats);
    }
    if (n == -2)
        failed = Error{sqlstate::kConnectionFailure,
                       ctx.source_endpoint.label + ": COPY failed: " + PQerrorMessage(source)};
    if (auto st = finish_copy(source, ctx.source_endpoint.label); !st && failed.ok()) failed = st;
    for (size_t i = 0; i < ctx.targets.size(); ++i) {
        auto& tg = ctx.targets[i];
        if (failed.ok()) failed = put(tg, bufs[i]);
        PQputCopyEnd(tg.conn.get(), failed.ok() ? nullptr : "source scan failed");
        if (auto st = finish_copy(tg.conn.get(), tg.endpoint.label); !st && failed.ok())
            failed = st;
    }
    return failed;
}

}  // namespace

std::optional<std::string> copy_text_field(std::string_view row, int index) {
    size_t start = 0;
    for (int i = 0; i < index; ++i) {
        size_t tab = row.find('\t', start);
        if (tab == std::string_view::npos) return std::nullopt;
        start = tab + 1;
    }
    size_t end = row.find('\t', start);
    std::string_view raw = row.substr(start, end == std::string_view::npos ? end : end - start);
    if (raw == "\\N") return std::nullopt;
    if (raw.find('\\') == std::string_view::npos) return std::string(raw);
    return router::decode_copy_text(raw);
}

Expected<CopyStats> copy_moving_rows(SourceContext& ctx, PGconn* source,
                                     const std::string& snapshot,
                                     const std::function<void(const CopyStats&)>& progress) {
    auto start = std::chrono::steady_clock::now();
    std::string begin = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY";
    if (!snapshot.empty()) begin += "; SET TRANSACTION SNAPSHOT " + quote_literal(source, snapshot);
    if (auto r = exec(source, ctx.source_endpoint.label, begin); !r) return r.error();
    CopyStats stats;
    for (size_t i = 0; i < ctx.tables.size(); ++i) {
        if (i > 0) crash_point("copy");
        if (auto st = copy_table(ctx, source, i, stats, progress); !st) {
            // Ending the read-only snapshot is best effort: the copy's own error is what the
            // caller must see, and the connection is closed by the caller either way.
            (void)exec(source, ctx.source_endpoint.label, "ROLLBACK");
            return st.error();
        }
    }
    // Under the same snapshot: the stream then brings every later reference change too.
    if (auto refs = copy_reference_tables(ctx, source); !refs) {
        (void)exec(source, ctx.source_endpoint.label, "ROLLBACK");  // best effort, as above
        return refs.error();
    }
    if (auto r = exec(source, ctx.source_endpoint.label, "COMMIT"); !r) return r.error();
    stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    progress(stats);
    return stats;
}

}  // namespace sg::rebalance
