#include "cli/check_tables.h"

#include <fmt/format.h>

namespace sg::cli {
namespace {

// Rows of a parameterised query (text results), or one row holding the error.
std::vector<std::vector<std::string>> rows_of(PGconn* conn, const char* sql,
                                              std::vector<std::string> params, std::string& error) {
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p.c_str());
    PGresult* r =
        PQexecParams(conn, sql, int(values.size()), nullptr, values.data(), nullptr, nullptr, 0);
    std::vector<std::vector<std::string>> out;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        error = PQresultErrorMessage(r);
    } else {
        for (int i = 0; i < PQntuples(r); ++i) {
            auto& row = out.emplace_back();
            for (int j = 0; j < PQnfields(r); ++j) row.emplace_back(PQgetvalue(r, i, j));
        }
    }
    PQclear(r);
    return out;
}

}  // namespace

std::vector<std::string> table_problems(PGconn* conn, const Config& cfg) {
    std::vector<std::string> out;
    for (const auto& t : cfg.tables) {
        std::string error;
        if (t.kind == TableKind::Sharded &&
            (t.key_type == KeyType::Text || t.key_type == KeyType::Varchar)) {
            auto rows = rows_of(
                conn,
                "SELECT c.collname FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_collation c "
                "ON c.oid = a.attcollation WHERE a.attrelid = pg_catalog.to_regclass($1) AND "
                "a.attname = $2 AND NOT c.collisdeterministic",
                {t.name, t.shard_key}, error);
            for (const auto& r : rows)
                out.push_back(fmt::format(
                    "table \"{}\": shard key \"{}\" has nondeterministic collation \"{}\" "
                    "(equal keys would hash to different shards)",
                    t.name, t.shard_key, r.at(0)));
        }
        if (t.kind == TableKind::Sharded) {
            // Each shard enforces a unique index over its own rows: one without the shard key
            // among its key columns accepts duplicates on different shards.
            auto loose = rows_of(
                conn,
                "SELECT c.relname FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = "
                "i.indexrelid WHERE i.indrelid = pg_catalog.to_regclass($1) AND i.indisunique AND "
                "NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a, pg_catalog.unnest("
                "i.indkey::pg_catalog.int2[]) WITH ORDINALITY k(attnum, n) WHERE a.attrelid = "
                "i.indrelid AND a.attname = $2 AND a.attnum = k.attnum AND k.n <= i.indnkeyatts)",
                {t.name, t.shard_key}, error);
            for (const auto& r : loose)
                out.push_back(fmt::format(
                    "table \"{}\": unique index \"{}\" does not include shard key \"{}\" "
                    "(each shard enforces it over its own rows only)",
                    t.name, r.at(0), t.shard_key));
        }
        auto fed = rows_of(
            conn,
            "SELECT a.attname FROM pg_catalog.pg_attribute a LEFT JOIN pg_catalog.pg_attrdef d ON "
            "d.adrelid = a.attrelid AND d.adnum = a.attnum WHERE a.attrelid = "
            "pg_catalog.to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped AND (a.attidentity "
            "<> '' OR pg_catalog.pg_get_expr(d.adbin, d.adrelid) LIKE '%nextval(%')",
            {t.name}, error);
        for (const auto& r : fed)
            out.push_back(fmt::format(
                "table \"{}\": column \"{}\" takes values from a sequence, which each shard "
                "has its own copy of (the same values on every shard)",
                t.name, r.at(0)));
        if (!error.empty()) {
            while (!error.empty() && (error.back() == '\n' || error.back() == ' '))
                error.pop_back();
            out.push_back(fmt::format("table \"{}\": {}", t.name, error));
        }
    }
    return out;
}

}  // namespace sg::cli
