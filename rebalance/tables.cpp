#include "rebalance/tables.h"
#include "common/sqlstate.h"

#include <algorithm>

namespace sg::rebalance {

bool TableInfo::key_in_primary_key() const {
    return std::find(primary_key.begin(), primary_key.end(), key_column) != primary_key.end();
}

int TableInfo::column_index(const std::string& col) const {
    auto it = std::find(columns.begin(), columns.end(), col);
    return it == columns.end() ? -1 : static_cast<int>(it - columns.begin());
}

Expected<TableInfo> describe_table(PGconn* c, const std::string& label, const TableConfig& t) {
    TableInfo info;
    info.name = t.name;
    info.key_type = t.key_type;
    auto rel = exec_params(c, label,
                           "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n "
                           "ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)",
                           {t.name});
    if (!rel) return rel.error();
    if (PQntuples(rel->get()) != 1)
        return Error{sqlstate::kUndefinedTable,
                     label + ": table " + t.name +
                         " does not exist; create it on every shard (new ones too) "
                         "with the same definition before rebalancing"};
    info.schema = PQgetvalue(rel->get(), 0, 0);
    info.relname = PQgetvalue(rel->get(), 0, 1);
    auto cols = exec_params(c, label,
                            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass($1) "
                            "AND attnum > 0 AND NOT attisdropped AND attgenerated = '' "
                            "ORDER BY attnum",
                            {t.name});
    if (!cols) return cols.error();
    for (int i = 0; i < PQntuples(cols->get()); ++i)
        info.columns.push_back(PQgetvalue(cols->get(), i, 0));
    info.key_column = t.kind == TableKind::Sharded ? info.column_index(t.shard_key) : -1;
    if (t.kind == TableKind::Sharded && info.key_column < 0)
        return Error{sqlstate::kUndefinedColumn,
                     label + ": table " + t.name + " has no column " + t.shard_key +
                         " (its shard_key in the config); fix [[tables]]"};
    auto pk = exec_params(c, label,
                          "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON "
                          "a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
                          "WHERE i.indrelid = to_regclass($1) AND i.indisprimary",
                          {t.name});
    if (!pk) return pk.error();
    for (int i = 0; i < PQntuples(pk->get()); ++i)
        info.primary_key.push_back(info.column_index(PQgetvalue(pk->get(), i, 0)));
    if (info.primary_key.empty())
        return Error{sqlstate::kObjectNotInPrerequisiteState,
                     label + ": table " + t.name +
                         " has no primary key; the rebalancer replicates updates and "
                         "deletes by primary key: ALTER TABLE " +
                         t.name + " ADD PRIMARY KEY (...) on every shard, then retry"};
    return info;
}

namespace {

Expected<std::vector<TableInfo>> describe_kind(PGconn* c, const std::string& label,
                                               const Config& cfg, TableKind kind) {
    std::vector<TableInfo> out;
    for (const auto& t : cfg.tables) {
        if (t.kind != kind) continue;
        auto info = describe_table(c, label, t);
        if (!info) return info.error();
        out.push_back(std::move(*info));
    }
    return out;
}

}  // namespace

Expected<std::vector<TableInfo>> describe_sharded(PGconn* c, const std::string& label,
                                                  const Config& cfg) {
    return describe_kind(c, label, cfg, TableKind::Sharded);
}

Expected<std::vector<TableInfo>> describe_reference(PGconn* c, const std::string& label,
                                                    const Config& cfg) {
    return describe_kind(c, label, cfg, TableKind::Reference);
}

Expected<std::map<std::string, std::string>> column_types(PGconn* c, const std::string& label,
                                                          const std::string& table) {
    auto r = exec_params(c, label,
                         "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                         "WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped",
                         {table});
    if (!r) return r.error();
    std::map<std::string, std::string> out;
    for (int i = 0; i < PQntuples(r->get()); ++i)
        out[PQgetvalue(r->get(), i, 0)] = PQgetvalue(r->get(), i, 1);
    return out;
}

std::string column_list(PGconn* c, const TableInfo& t) {
    std::string out;
    for (const auto& col : t.columns) {
        if (!out.empty()) out += ", ";
        out += quote_ident(c, col);
    }
    return out;
}

}  // namespace sg::rebalance
