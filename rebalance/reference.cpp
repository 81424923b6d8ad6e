#include "rebalance/reference.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/sqlstate.h"
#include "rebalance/crash_point.h"

namespace sg::rebalance {
namespace {

constexpr size_t kFlushBytes = 256 * 1024;

bool takes_copy(const TargetConn& t) {
    return t.reference == ReferenceCopy::Planned || t.reference == ReferenceCopy::Copied;
}

std::string real_ident(PGconn* c, const TableInfo& t) {
    return quote_ident(c, t.schema) + "." + quote_ident(c, t.relname);
}

std::string stmt_name(const char* kind, size_t table) {
    return fmt::format("sg_ref_{}_{}", kind, table);
}

Status exec_checked(const std::string& label, PGresult* raw) {
    Result r(raw);
    auto st = PQresultStatus(raw);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return Ok{};
    const char* state = PQresultErrorField(raw, PG_DIAG_SQLSTATE);
    return Error{state ? state : sqlstate::kConnectionFailure,
                 label + ": " + PQresultErrorMessage(raw)};
}

Status exec_prepared(TargetConn& t, const std::string& name, const Tuple& row,
                     const std::vector<int>& cols) {
    std::vector<const char*> values;
    for (int c : cols) {
        const auto& v = row[static_cast<size_t>(c)];
        values.push_back(v.kind == TupleColumn::Kind::Null ? nullptr : v.value.c_str());
    }
    return exec_checked(t.endpoint.label,
                        PQexecPrepared(t.conn.get(), name.c_str(), static_cast<int>(values.size()),
                                       values.data(), nullptr, nullptr, 0));
}

// Streams one reference table from the source into the open COPY of every copying target.
Status copy_one(SourceContext& ctx, PGconn* source, const TableInfo& t,
                const std::vector<TargetConn*>& targets, uint64_t& rows) {
    for (TargetConn* tg : targets) {
        PGconn* c = tg->conn.get();
        auto r = exec(c, tg->endpoint.label,
                      fmt::format("COPY {} ({}) FROM STDIN", real_ident(c, t), column_list(c, t)));
        if (!r) return r.error();
    }
    auto r =
        exec(source, ctx.source_endpoint.label,
             fmt::format("COPY {} ({}) TO STDOUT", real_ident(source, t), column_list(source, t)));
    if (!r) return r.error();
    std::string buf;
    Status failed = Ok{};
    auto flush = [&]() {
        for (TargetConn* tg : targets)
            if (failed.ok() &&
                PQputCopyData(tg->conn.get(), buf.data(), static_cast<int>(buf.size())) != 1)
                failed = Error{sqlstate::kConnectionFailure,
                               tg->endpoint.label + ": COPY into " + t.name +
                                   " failed: " + PQerrorMessage(tg->conn.get())};
        buf.clear();
    };
    char* row = nullptr;
    int n;
    while ((n = PQgetCopyData(source, &row, 0)) > 0) {
        buf.append(row, static_cast<size_t>(n));
        PQfreemem(row);
        ++rows;
        if (buf.size() >= kFlushBytes) flush();
    }
    if (n == -2)
        failed =
            Error{sqlstate::kConnectionFailure, ctx.source_endpoint.label + ": COPY of " + t.name +
                                                    " failed: " + PQerrorMessage(source)};
    if (auto st = finish_copy(source, ctx.source_endpoint.label); !st && failed.ok()) failed = st;
    if (!buf.empty()) flush();
    for (TargetConn* tg : targets) {
        PQputCopyEnd(tg->conn.get(), failed.ok() ? nullptr : "source scan failed");
        if (auto st = finish_copy(tg->conn.get(), tg->endpoint.label); !st && failed.ok())
            failed = st;
    }
    return failed;
}

}  // namespace

Expected<uint64_t> copy_reference_tables(SourceContext& ctx, PGconn* source) {
    std::vector<TargetConn*> targets;
    for (auto& t : ctx.targets)
        if (takes_copy(t)) targets.push_back(&t);
    if (targets.empty() || ctx.reference.empty()) return uint64_t{0};
    // DELETE rather than TRUNCATE: sharded tables may reference these tables by foreign key,
    // which TRUNCATE refuses even when (as on a shard that owns no buckets) they are empty.
    for (TargetConn* tg : targets) {
        PGconn* c = tg->conn.get();
        std::string sql = "BEGIN";
        for (auto it = ctx.reference.rbegin(); it != ctx.reference.rend(); ++it)
            sql += "; DELETE FROM " + real_ident(c, *it);
        auto r = exec(c, tg->endpoint.label, sql);
        if (!r) return r.error();
    }
    uint64_t rows = 0;
    Status failed = Ok{};
    for (const auto& t : ctx.reference) {
        failed = copy_one(ctx, source, t, targets, rows);
        if (!failed.ok()) break;
    }
    for (TargetConn* tg : targets) {
        if (!failed.ok()) {
            PQclear(PQexec(tg->conn.get(), "ROLLBACK"));
            continue;
        }
        auto r = exec(tg->conn.get(), tg->endpoint.label, "COMMIT");
        if (!r) return r.error();
        spdlog::info("{}: reference tables copied from {} ({} rows)", tg->endpoint.label,
                     ctx.source_endpoint.label, rows);
    }
    if (!failed.ok()) return failed.error();
    // A crash here leaves a committed copy the journal does not know of: the resumed run
    // must empty it and copy again under its new snapshot.
    crash_point("ref_copy");
    return rows;
}

bool ReferenceWriter::active() const {
    for (const auto& t : ctx_.targets)
        if (t.reference == ReferenceCopy::Copied) return true;
    return false;
}

Status ReferenceWriter::prepare(size_t target, size_t table) {
    if (prepared_.size() != ctx_.targets.size())
        prepared_.assign(ctx_.targets.size(), std::vector<bool>(ctx_.reference.size(), false));
    if (prepared_[target][table]) return Ok{};
    TargetConn& tg = ctx_.targets[target];
    PGconn* c = tg.conn.get();
    const auto& tab = ctx_.reference[table];
    std::string cols, vals, sets, pk, where;
    for (size_t i = 0; i < tab.columns.size(); ++i) {
        std::string q = quote_ident(c, tab.columns[i]);
        cols += (i ? ", " : "") + q;
        vals += fmt::format("{}${}", i ? ", " : "", i + 1);
        sets += fmt::format("{}{} = EXCLUDED.{}", i ? ", " : "", q, q);
    }
    for (size_t k = 0; k < tab.primary_key.size(); ++k) {
        std::string q = quote_ident(c, tab.columns[tab.primary_key[k]]);
        pk += (k ? ", " : "") + q;
        where += fmt::format("{}{} = ${}", k ? " AND " : "", q, k + 1);
    }
    std::string upsert =
        fmt::format("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {}",
                    real_ident(c, tab), cols, vals, pk, sets);
    std::string del = fmt::format("DELETE FROM {} WHERE {}", real_ident(c, tab), where);
    for (const auto& [name, sql] :
         {std::pair{stmt_name("up", table), upsert}, std::pair{stmt_name("del", table), del}}) {
        Result r(PQprepare(c, name.c_str(), sql.c_str(), 0, nullptr));
        if (PQresultStatus(r.get()) != PGRES_COMMAND_OK)
            return Error{sqlstate::kInternalError,
                         tg.endpoint.label + ": " + PQresultErrorMessage(r.get())};
    }
    prepared_[target][table] = true;
    return Ok{};
}

// An update whose TOASTed values did not change carries them as 'unchanged': keep the
// target's copy of those columns.
Status ReferenceWriter::update_in_place(size_t target, size_t table, const Tuple& row) {
    TargetConn& tg = ctx_.targets[target];
    PGconn* c = tg.conn.get();
    const auto& tab = ctx_.reference[table];
    std::string sets, where;
    std::vector<std::string> values;
    for (size_t i = 0; i < row.size(); ++i) {
        if (row[i].kind == TupleColumn::Kind::Unchanged) continue;
        std::string value = "NULL";
        if (row[i].kind == TupleColumn::Kind::Text) {
            values.push_back(row[i].value);
            value = "$" + std::to_string(values.size());
        }
        sets += fmt::format("{}{} = {}", sets.empty() ? "" : ", ", quote_ident(c, tab.columns[i]),
                            value);
    }
    for (int k : tab.primary_key) {
        values.push_back(row[static_cast<size_t>(k)].value);
        where += fmt::format("{}{} = ${}", where.empty() ? "" : " AND ",
                             quote_ident(c, tab.columns[k]), values.size());
    }
    auto r = exec_params(c, tg.endpoint.label,
                         fmt::format("UPDATE {} SET {} WHERE {}", real_ident(c, tab), sets, where),
                         values);
    return r ? Status{Ok{}} : Status{r.error()};
}

Status ReferenceWriter::upsert(size_t table, const Tuple& row) {
    bool unchanged = false;
    for (const auto& v : row) unchanged = unchanged || v.kind == TupleColumn::Kind::Unchanged;
    std::vector<int> cols(row.size());
    for (size_t i = 0; i < row.size(); ++i) cols[i] = static_cast<int>(i);
    for (size_t k = 0; k < ctx_.targets.size(); ++k) {
        if (ctx_.targets[k].reference != ReferenceCopy::Copied) continue;
        if (unchanged) {
            if (auto st = update_in_place(k, table, row); !st) return st;
            continue;
        }
        if (auto st = prepare(k, table); !st) return st;
        if (auto st = exec_prepared(ctx_.targets[k], stmt_name("up", table), row, cols); !st)
            return st;
    }
    return Ok{};
}

Status ReferenceWriter::remove(size_t table, const Tuple& old) {
    for (size_t k = 0; k < ctx_.targets.size(); ++k) {
        if (ctx_.targets[k].reference != ReferenceCopy::Copied) continue;
        if (auto st = prepare(k, table); !st) return st;
        if (auto st = exec_prepared(ctx_.targets[k], stmt_name("del", table), old,
                                    ctx_.reference[table].primary_key);
            !st)
            return st;
    }
    return Ok{};
}

Status ReferenceWriter::truncate(size_t table) {
    for (auto& t : ctx_.targets) {
        if (t.reference != ReferenceCopy::Copied) continue;
        auto r = exec(t.conn.get(), t.endpoint.label,
                      "DELETE FROM " + real_ident(t.conn.get(), ctx_.reference[table]));
        if (!r) return r.error();
    }
    return Ok{};
}

}  // namespace sg::rebalance
