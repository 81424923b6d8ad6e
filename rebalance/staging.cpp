#include "rebalance/staging.h"
#include "common/sqlstate.h"

#include <algorithm>

#include <fmt/format.h>

namespace sg::rebalance {
namespace {

std::string stmt_name(const char* kind, size_t table) {
    return fmt::format("sg_{}_{}", kind, table);
}

std::vector<const char*> param_values(const Tuple& row, const std::vector<int>& cols) {
    std::vector<const char*> out;
    for (int c : cols) {
        const auto& v = row[static_cast<size_t>(c)];
        out.push_back(v.kind == TupleColumn::Kind::Null ? nullptr : v.value.c_str());
    }
    return out;
}

Status exec_checked(PGconn* c, const std::string& label, PGresult* raw) {
    Result r(raw);
    auto st = PQresultStatus(raw);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return Ok{};
    const char* state = PQresultErrorField(raw, PG_DIAG_SQLSTATE);
    return Error{state ? state : sqlstate::kConnectionFailure,
                 label + ": " + PQresultErrorMessage(raw)};
}

}  // namespace

Status prepare_staging(SourceContext& ctx, bool reset) {
    for (auto& t : ctx.targets) {
        PGconn* c = t.conn.get();
        for (size_t i = 0; i < ctx.tables.size(); ++i) {
            const auto& tab = ctx.tables[i];
            std::string real = quote_ident(c, tab.schema) + "." + quote_ident(c, tab.relname);
            std::string stg = ctx.staging_ident(c, i);
            // A fresh copy loads a table without indexes (bulk load, then one index build each,
            // as pg_dump restores); an existing staging table is one being resumed.
            std::string sql = fmt::format(
                "{2}CREATE TABLE IF NOT EXISTS {0} (LIKE {1} INCLUDING DEFAULTS INCLUDING "
                "GENERATED);"
                "ALTER TABLE {0} ADD COLUMN IF NOT EXISTS shardgate_bucket integer;",
                stg, real, reset ? fmt::format("DROP TABLE IF EXISTS {};", stg) : "");
            auto r = exec(c, t.endpoint.label, sql);
            if (!r) return r.error();
        }
    }
    if (!reset) return index_staging(ctx);
    return Ok{};
}

Status index_staging(SourceContext& ctx) {
    for (auto& t : ctx.targets) {
        PGconn* c = t.conn.get();
        for (size_t i = 0; i < ctx.tables.size(); ++i) {
            const auto& tab = ctx.tables[i];
            std::string stg = ctx.staging_ident(c, i);
            std::string pk;
            for (int k : tab.primary_key)
                pk += (pk.empty() ? "" : ", ") + quote_ident(c, tab.columns[k]);
            // Idempotent: a resumed run may find either index already built.
            std::string sql = fmt::format(
                "DO $sg$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = "
                "{1}::regclass "
                "AND contype = 'p') THEN ALTER TABLE {0} ADD PRIMARY KEY ({2}); END IF; END $sg$;"
                "CREATE INDEX IF NOT EXISTS {3} ON {0} (shardgate_bucket);",
                stg, quote_literal(c, stg), pk, quote_ident(c, ctx.staging[i] + "_bucket"));
            auto r = exec(c, t.endpoint.label, sql);
            if (!r) return r.error();
        }
    }
    return Ok{};
}

Status drop_staging(SourceContext& ctx) {
    for (auto& t : ctx.targets) {
        for (size_t i = 0; i < ctx.tables.size(); ++i) {
            auto r = exec(t.conn.get(), t.endpoint.label,
                          "DROP TABLE IF EXISTS " + ctx.staging_ident(t.conn.get(), i));
            if (!r) return r.error();
        }
    }
    return Ok{};
}

Status StagingWriter::prepare(size_t target, size_t table) {
    if (prepared_.size() != ctx_.targets.size())
        prepared_.assign(ctx_.targets.size(), std::vector<bool>(ctx_.tables.size(), false));
    if (prepared_[target][table]) return Ok{};
    PGconn* c = ctx_.targets[target].conn.get();
    const auto& tab = ctx_.tables[table];
    std::string stg = ctx_.staging_ident(c, table);
    std::string cols, vals, sets, pk, where;
    for (size_t i = 0; i < tab.columns.size(); ++i) {
        std::string q = quote_ident(c, tab.columns[i]);
        cols += q + ", ";
        vals += fmt::format("${}, ", i + 1);
        sets += fmt::format("{0} = EXCLUDED.{0}, ", q);
    }
    for (size_t k = 0; k < tab.primary_key.size(); ++k) {
        std::string q = quote_ident(c, tab.columns[tab.primary_key[k]]);
        pk += (k ? ", " : "") + q;
        where += fmt::format("{}{} = ${}", k ? " AND " : "", q, k + 1);
    }
    std::string upsert = fmt::format(
        "INSERT INTO {} ({}shardgate_bucket) VALUES ({}${}) ON CONFLICT ({}) DO UPDATE SET "
        "{}shardgate_bucket = EXCLUDED.shardgate_bucket",
        stg, cols, vals, tab.columns.size() + 1, pk, sets);
    const auto& label = ctx_.targets[target].endpoint.label;
    Result r1(PQprepare(c, stmt_name("up", table).c_str(), upsert.c_str(), 0, nullptr));
    if (PQresultStatus(r1.get()) != PGRES_COMMAND_OK)
        return Error{sqlstate::kInternalError, label + ": " + PQresultErrorMessage(r1.get())};
    std::string del = fmt::format("DELETE FROM {} WHERE {}", stg, where);
    Result r2(PQprepare(c, stmt_name("del", table).c_str(), del.c_str(), 0, nullptr));
    if (PQresultStatus(r2.get()) != PGRES_COMMAND_OK)
        return Error{sqlstate::kInternalError, label + ": " + PQresultErrorMessage(r2.get())};
    prepared_[target][table] = true;
    return Ok{};
}

Status StagingWriter::begin(size_t target) {
    if (open_.size() < ctx_.targets.size()) open_.resize(ctx_.targets.size(), false);
    if (open_[target]) return Ok{};
    auto r = exec(ctx_.targets[target].conn.get(), ctx_.targets[target].endpoint.label, "BEGIN");
    if (!r) return r.error();
    open_[target] = true;
    return Ok{};
}

bool StagingWriter::in_transaction() const {
    return std::find(open_.begin(), open_.end(), true) != open_.end();
}

Status StagingWriter::commit() {
    Status first = Ok{};
    for (size_t i = 0; i < open_.size(); ++i) {
        if (!open_[i]) continue;
        open_[i] = false;
        PGconn* c = ctx_.targets[i].conn.get();
        auto r = exec(c, ctx_.targets[i].endpoint.label, "COMMIT");
        if (!r) {
            PQclear(PQexec(c, "ROLLBACK"));
            if (first.ok()) first = r.error();
        }
    }
    return first;
}

Status StagingWriter::upsert(size_t target, size_t table, const Tuple& row, int64_t bucket) {
    if (auto p = prepare(target, table); !p) return p;
    if (auto b = begin(target); !b) return b;
    PGconn* c = ctx_.targets[target].conn.get();
    const auto& tab = ctx_.tables[table];
    const auto& label = ctx_.targets[target].endpoint.label;
    bool unchanged = false;
    for (const auto& v : row) unchanged = unchanged || v.kind == TupleColumn::Kind::Unchanged;
    if (unchanged) {
        // A TOASTed value the update did not touch is not in the stream: keep staging's copy.
        std::string sets, where;
        std::vector<int> cols;
        for (size_t i = 0; i < row.size(); ++i) {
            if (row[i].kind == TupleColumn::Kind::Unchanged) continue;
            cols.push_back(static_cast<int>(i));
            sets += fmt::format("{}{} = ${}", sets.empty() ? "" : ", ",
                                quote_ident(c, tab.columns[i]), cols.size());
        }
        for (int k : tab.primary_key) {
            cols.push_back(k);
            where += fmt::format("{}{} = ${}", where.empty() ? "" : " AND ",
                                 quote_ident(c, tab.columns[k]), cols.size());
        }
        std::string sql =
            fmt::format("UPDATE {} SET {} WHERE {}", ctx_.staging_ident(c, table), sets, where);
        auto values = param_values(row, cols);
        return exec_checked(c, label,
                            PQexecParams(c, sql.c_str(), static_cast<int>(values.size()), nullptr,
                                         values.data(), nullptr, nullptr, 0));
    }
    std::vector<int> cols(row.size());
    for (size_t i = 0; i < row.size(); ++i) cols[i] = static_cast<int>(i);
    auto values = param_values(row, cols);
    std::string b = std::to_string(bucket);
    values.push_back(b.c_str());
    return exec_checked(
        c, label,
        PQexecPrepared(c, stmt_name("up", table).c_str(), static_cast<int>(values.size()),
                       values.data(), nullptr, nullptr, 0));
}

Status StagingWriter::remove(size_t target, size_t table, const Tuple& row) {
    if (auto p = prepare(target, table); !p) return p;
    if (auto b = begin(target); !b) return b;
    PGconn* c = ctx_.targets[target].conn.get();
    auto values = param_values(row, ctx_.tables[table].primary_key);
    return exec_checked(
        c, ctx_.targets[target].endpoint.label,
        PQexecPrepared(c, stmt_name("del", table).c_str(), static_cast<int>(values.size()),
                       values.data(), nullptr, nullptr, 0));
}

Status StagingWriter::truncate(size_t table) {
    for (size_t k = 0; k < ctx_.targets.size(); ++k) {
        auto& t = ctx_.targets[k];
        if (auto b = begin(k); !b) return b;
        auto r = exec(t.conn.get(), t.endpoint.label,
                      "TRUNCATE " + ctx_.staging_ident(t.conn.get(), table));
        if (!r) return r.error();
    }
    return Ok{};
}

}  // namespace sg::rebalance
