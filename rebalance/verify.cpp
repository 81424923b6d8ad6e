#include "rebalance/verify.h"

#include <fmt/format.h>

#include "common/sqlstate.h"
#include "rebalance/copier.h"
#include "rebalance/tables.h"
#include "router/hash.h"
#include "router/shard_map.h"

namespace sg::rebalance {
namespace {

// Scans one table on one shard. For sharded tables each row's bucket is checked against the
// map; `shard_index` is the shard's index in the map.
Status scan(PGconn* c, const std::string& label, const TableInfo& t, bool sharded,
            const router::ShardMap& map, int shard_index, ShardTableReport& out) {
    std::string real = quote_ident(c, t.schema) + "." + quote_ident(c, t.relname);
    auto r = exec(c, label, fmt::format("COPY {} ({}) TO STDOUT", real, column_list(c, t)));
    if (!r) return r.error();
    char* row = nullptr;
    int n;
    while ((n = PQgetCopyData(c, &row, 0)) > 0) {
        std::string_view line(row, static_cast<size_t>(n));
        ++out.rows;
        out.checksum += router::key_hash(line);
        if (sharded) {
            auto key = copy_text_field(line.substr(0, line.size() - 1), t.key_column);
            uint32_t bucket = 0;
            if (key) {
                auto k = router::canonical_from_text(t.key_type, *key);
                bucket = k ? router::bucket_of_key(*k, map.bucket_bits()) : 0;
            }
            if (map.shard_of_bucket(bucket) != shard_index) ++out.misplaced;
        }
        PQfreemem(row);
    }
    if (n == -2)
        return Error{sqlstate::kConnectionFailure, label + ": COPY failed: " + PQerrorMessage(c)};
    return finish_copy(c, label);
}

}  // namespace

bool VerifyReport::ok() const {
    for (const auto& t : tables)
        if (t.misplaced != 0 || !t.reference_consistent) return false;
    return true;
}

Expected<VerifyReport> verify_placement(const Config& cfg) {
    auto map = router::load_configured_map(cfg.map_path(), cfg);
    if (!map) return map.error();
    VerifyReport report;
    report.map_version = map->version();
    for (const auto& tc : cfg.tables) {
        TableReport tr;
        tr.table = tc.name;
        tr.sharded = tc.kind == TableKind::Sharded;
        report.tables.push_back(tr);
    }
    for (size_t si = 0; si < cfg.shards.size(); ++si) {
        Endpoint ep = shard_endpoint(cfg, cfg.shards[si]);
        auto c = connect(ep);
        if (!c) return c.error();
        int idx = map->shard_index(cfg.shards[si].name);
        const bool serving = idx >= 0 && map->owns_any(static_cast<uint16_t>(idx));
        for (size_t ti = 0; ti < cfg.tables.size(); ++ti) {
            TableConfig tc = cfg.tables[ti];
            auto& tr = report.tables[ti];
            if (!serving) {
                // A shard that owns no buckets (just added, or drained) may lack the tables and
                // is not kept current for reference ones; its sharded rows are still checked.
                if (!tr.sharded) continue;
                auto exists = exec_params(c->get(), ep.label, "SELECT to_regclass($1) IS NOT NULL",
                                          {tc.name});
                if (!exists) return exists.error();
                if (std::string(PQgetvalue(exists->get(), 0, 0)) != "t") continue;
            }
            if (!tr.sharded) {
                // Reference tables have no shard key; describe_table needs some column.
                auto cols = exec_params(c->get(), ep.label,
                                        "SELECT attname FROM pg_attribute WHERE attrelid = "
                                        "to_regclass($1) AND attnum = 1",
                                        {tc.name});
                if (!cols) return cols.error();
                if (PQntuples(cols->get()) == 0)
                    return Error{sqlstate::kUndefinedTable,
                                 ep.label + ": table " + tc.name + " does not exist"};
                tc.shard_key = PQgetvalue(cols->get(), 0, 0);
            }
            auto info = describe_table(c->get(), ep.label, tc);
            if (!info && tr.sharded) return info.error();
            TableInfo t;
            if (info) {
                t = *info;
            } else {  // a reference table without a primary key is still checksummed
                auto dot = tc.name.find('.');
                t.schema = dot == std::string::npos ? "public" : tc.name.substr(0, dot);
                t.relname = dot == std::string::npos ? tc.name : tc.name.substr(dot + 1);
                t.columns = {tc.shard_key};
                auto all = exec_params(c->get(), ep.label,
                                       "SELECT attname FROM pg_attribute WHERE attrelid = "
                                       "to_regclass($1) AND attnum > 0 AND NOT attisdropped "
                                       "AND attgenerated = '' ORDER BY attnum",
                                       {tc.name});
                if (!all) return all.error();
                t.columns.clear();
                for (int i = 0; i < PQntuples(all->get()); ++i)
                    t.columns.push_back(PQgetvalue(all->get(), i, 0));
            }
            ShardTableReport sr;
            sr.shard = cfg.shards[si].name;
            if (auto st = scan(c->get(), ep.label, t, tr.sharded, *map, idx, sr); !st)
                return st.error();
            // A sharded table's rows are the sum over shards; a reference table's are one
            // copy's (every serving shard holds the same rows, which reference_consistent checks).
            if (tr.sharded || tr.shards.empty()) tr.rows += sr.rows;
            tr.misplaced += sr.misplaced;
            tr.checksum += sr.checksum;
            if (!tr.sharded && !tr.shards.empty())
                tr.reference_consistent = tr.reference_consistent && sr.rows == tr.shards[0].rows &&
                                          sr.checksum == tr.shards[0].checksum;
            tr.shards.push_back(sr);
        }
    }
    return report;
}

}  // namespace sg::rebalance
