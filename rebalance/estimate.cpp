#include "rebalance/estimate.h"
#include "common/sqlstate.h"

#include <fmt/format.h>

#include <cstdlib>

namespace sg::rebalance {

Expected<std::vector<MoveEstimate>> estimate_moves(const Config& cfg, const Plan& plan,
                                                   bool exact) {
    std::vector<MoveEstimate> out(plan.moves.size());
    std::map<uint16_t, MoveEstimate> per_source;  // whole sharded tables on the source
    for (const auto& m : plan.moves) {
        if (per_source.count(m.source)) continue;
        const ShardConfig* s = cfg.find_shard(plan.shard_names[m.source]);
        if (!s)
            return Error{sqlstate::kInvalidParameterValue,
                         "shard " + plan.shard_names[m.source] + " not in config"};
        Endpoint ep = shard_endpoint(cfg, *s);
        auto c = connect(ep);
        if (!c) return c.error();
        MoveEstimate total;
        for (const auto& t : cfg.tables) {
            if (t.kind != TableKind::Sharded) continue;
            auto r = exec_params(c->get(), ep.label,
                                 "SELECT greatest(reltuples, 0)::float8, "
                                 "pg_table_size(oid)::float8 FROM pg_class WHERE oid = "
                                 "to_regclass($1)",
                                 {t.name});
            if (!r) return r.error();
            if (PQntuples(r->get()) == 0)
                return Error{sqlstate::kUndefinedTable,
                             ep.label + ": table " + t.name + " does not exist"};
            double rows = std::atof(PQgetvalue(r->get(), 0, 0));
            total.bytes += std::atof(PQgetvalue(r->get(), 0, 1));
            if (exact || rows == 0) {
                auto q = exec(c->get(), ep.label,
                              "SELECT count(*) FROM " + quote_qualified(c->get(), t.name));
                if (!q) return q.error();
                rows = std::atof(PQgetvalue(q->get(), 0, 0));
            }
            total.rows += rows;
        }
        per_source[m.source] = total;
    }
    for (size_t i = 0; i < plan.moves.size(); ++i) {
        const auto& m = plan.moves[i];
        double owned = plan.before[m.source];
        double f = owned > 0 ? m.buckets.size() / owned : 0;
        out[i] = {per_source[m.source].rows * f, per_source[m.source].bytes * f};
    }
    return out;
}

}  // namespace sg::rebalance
