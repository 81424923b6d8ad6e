#include "rebalance/leftovers.h"

#include <fmt/format.h>

namespace sg::rebalance {
namespace {

constexpr const char* kListSql =
    "SELECT 'slot', slot_name::text, active FROM pg_replication_slots "
    " WHERE slot_name LIKE 'sg\\_rb\\_%' AND database = current_database() "
    "UNION ALL SELECT 'publication', pubname::text, false FROM pg_publication "
    " WHERE pubname LIKE 'sg\\_rb\\_%' "
    "UNION ALL SELECT 'staging table', format('%I.%I', n.nspname, c.relname), false "
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    " WHERE c.relkind = 'r' AND c.relname LIKE 'shardgate\\_staging\\_%' "
    "UNION ALL SELECT 'prepared transaction', gid, false FROM pg_prepared_xacts "
    " WHERE gid LIKE 'sg\\_rb\\_%' AND database = current_database() "
    "ORDER BY 1, 2";

Status list_on(const Config& cfg, const ShardConfig& s, std::vector<RebalanceObject>& out,
               Conn* keep) {
    Endpoint ep = shard_endpoint(cfg, s);
    auto c = connect(ep);
    if (!c) return c.error();
    auto r = exec(c->get(), ep.label, kListSql);
    if (!r) return r.error();
    for (int i = 0; i < PQntuples(r->get()); ++i)
        out.push_back({s.name, PQgetvalue(r->get(), i, 0), PQgetvalue(r->get(), i, 1),
                       std::string(PQgetvalue(r->get(), i, 2)) == "t"});
    if (keep) *keep = std::move(*c);
    return Ok{};
}

}  // namespace

Expected<std::vector<RebalanceObject>> list_rebalance_objects(const Config& cfg) {
    std::vector<RebalanceObject> out;
    for (const auto& s : cfg.shards)
        if (auto st = list_on(cfg, s, out, nullptr); !st) return st.error();
    return out;
}

Expected<std::vector<RebalanceObject>> drop_rebalance_objects(const Config& cfg) {
    std::vector<RebalanceObject> dropped;
    for (const auto& s : cfg.shards) {
        std::vector<RebalanceObject> found;
        Conn c;
        if (auto st = list_on(cfg, s, found, &c); !st) return st.error();
        const std::string label = "shard " + s.name;
        for (const auto& o : found) {
            if (o.active) continue;
            std::string sql;
            if (o.kind == "slot")
                sql = "SELECT pg_drop_replication_slot(" + quote_literal(c.get(), o.name) + ")";
            else if (o.kind == "publication")
                sql = "DROP PUBLICATION IF EXISTS " + quote_ident(c.get(), o.name);
            else if (o.kind == "staging table")
                sql = "DROP TABLE IF EXISTS " + o.name;  // already quoted by format('%I.%I')
            else
                sql = "ROLLBACK PREPARED " + quote_literal(c.get(), o.name);
            auto r = exec(c.get(), label, sql);
            if (!r) return r.error();
            dropped.push_back(o);
        }
    }
    return dropped;
}

}  // namespace sg::rebalance
