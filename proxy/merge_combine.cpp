// Combining shards' answers: see proxy/merge_combine.h.
#include "proxy/merge_combine.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "common/pg_types.h"
#include "common/sqlstate.h"
#include "proxy/fanout.h"
#include "proxy/having_params.h"
#include "proxy/merge_checks.h"
#include "proxy/merge_types.h"
#include "proxy/proxy.h"
#include "proxy/server_conn.h"
#include "proxy/session_settings.h"
#include "proxy/shard_request.h"
#include "proxy/wire/messages/error_response.h"
#include "proxy/wire/writer.h"

namespace sg::proxy {

using net::awaitable;

namespace {

size_t frame_length(std::string_view frames, size_t pos) {
    uint32_t len = 0;
    for (size_t i = 1; i <= 4; ++i) len = (len << 8) | uint8_t(frames[pos + i]);
    return len;
}

std::string order_by_clause(const std::vector<router::Analysis::SortKey>& keys,
                            const std::vector<std::string>& columns) {
    std::string sql;
    for (size_t i = 0; i < keys.size(); ++i) {
        sql += (i ? ", " : " ORDER BY ") + columns[i];
        if (keys[i].descending) sql += " DESC";
        if (keys[i].nulls_first == 1) sql += " NULLS FIRST";
        if (keys[i].nulls_first == 0) sql += " NULLS LAST";
    }
    return sql;
}

std::string limit_clause(const router::Analysis::MergePlan& plan) {
    std::string sql;
    if (plan.limit) sql += " LIMIT " + std::to_string(*plan.limit);
    if (plan.offset) sql += " OFFSET " + std::to_string(plan.offset);
    return sql;
}

}  // namespace

// Combines the shards' rows by a query PostgreSQL runs on the default shard (see
// Analysis::MergePlan). `formats`: the result formats the client asked for (empty: text).
awaitable<MergedRows> combine_rows(Proxy& proxy, const UserConfig& user,
                                   const std::map<std::string, std::string>& settings,
                                   const router::Analysis& a, const ShardRows& in,
                                   const std::vector<int16_t>& formats, uint16_t description_shard,
                                   const wire::Bind* bind, const std::vector<uint32_t>* param_types,
                                   const CombineRunner* runner) {
    using Merge = router::Analysis::Merge;
    const router::Analysis::MergePlan& plan = *a.merge;
    const auto& fields = in.desc.fields;
    const size_t ncols = fields.size();
    MergedRows out;
    auto refuse = [&](const std::string& why) {
        wire::MessageWriter w(out.error);
        wire::encode_error(
            w, wire::Severity::Error, sqlstate::kFeatureNotSupported,
            "statement on sharded table \"" + a.table + "\" uses " + a.fanout_blocker +
                ", which the proxy cannot combine across shards here: " + why +
                "; add a condition on the shard key or route it with /* shardgate.shard=NAME */");
        return out;
    };
    // The shards' rows travel back to a shard as literals: bounded, so a huge result is refused
    // rather than turned into a query of hundreds of megabytes.
    constexpr size_t kMaxCombinedRows = 100000;
    if (plan.limit_param || plan.offset_param)  // run_merged_batch binds them; nothing else can
        co_return refuse("its LIMIT/OFFSET parameter has no bound value");
    if (in.rows.size() > kMaxCombinedRows)
        co_return refuse("the shards returned more than 100000 rows");
    for (const auto& r : in.rows)
        if (r.size() != ncols)
            co_return refuse("the shards answered with rows of different widths");
    // The client's columns; the shards' extra ORDER BY columns follow them.
    if (plan.hidden > ncols) co_return refuse("the shards answered without its ORDER BY columns");
    const size_t shown = ncols - plan.hidden;

    // ORDER BY keys, as 0-based columns of the shards' rows.
    std::vector<size_t> sort_cols;
    std::vector<std::string> explicit_collation(ncols);  // ORDER BY expr COLLATE x: " COLLATE x"
    std::vector<size_t> collation_source(ncols, ncols);  // ORDER BY lower(col): col's column
    for (const auto& key : plan.order) {
        if (key.hidden) {
            sort_cols.push_back(shown + key.hidden - 1);
            if (!key.collation.empty())
                explicit_collation[sort_cols.back()] = " COLLATE " + key.collation;
            if (key.collation_from && shown + key.collation_from - 1 < ncols)
                collation_source[sort_cols.back()] = shown + key.collation_from - 1;
            continue;
        }
        if (key.position) {
            if (key.position > shown)
                co_return refuse("ORDER BY " + std::to_string(key.position) +
                                 " is not an output column");
            sort_cols.push_back(key.position - 1);
            continue;
        }
        size_t found = ncols, matches = 0;
        for (size_t i = 0; i < shown; ++i)
            if (fields[i].name == key.name) found = i, ++matches;
        if (matches != 1)
            co_return refuse(
                "ORDER BY " + quote_sql_identifier(key.name) +
                (matches ? " names several output columns" : " is not an output column"));
        sort_cols.push_back(found);
    }
    // Whether the combining query can sort by column c (by the value it computes there).
    auto sortable = [&](size_t c) {
        if (plan.aggregates.empty() || c >= shown)
            return orderable_type_name(fields[c].type_oid) != nullptr;
        switch (plan.aggregates[c]) {
            case Merge::CountDistinct:
                return true;  // a count
            case Merge::Group:
                return mergeable_type_name(fields[c].type_oid) != nullptr;  // not text
            default:
                return orderable_type_name(fields[c].type_oid) != nullptr;
        }
    };
    const auto default_shard = static_cast<uint16_t>(proxy.config().default_shard_index());
    // One row of a query run on one shard (simple protocol), or nothing.
    auto ask = [&](uint16_t shard,
                   std::string sql) -> awaitable<std::vector<std::optional<std::string>>> {
        std::string reply;
        if (runner) {
            reply = co_await runner->query(shard, sql);
        } else {
            std::vector<ShardQuery> q{{shard, std::move(sql)}};
            reply = co_await run_fanout(proxy, user, q, settings);
        }
        ShardRows got;
        if (!read_shard_rows(reply, got) || got.rows.size() != 1)
            co_return std::vector<std::optional<std::string>>{};
        co_return got.rows.front();
    };
    // A text key that is a table column sorts by that column's collation: read it from the
    // shard that described the rows, and sort by it on the default shard ("" when it is the
    // database default and both databases sort alike). nullopt when it cannot be known.
    std::vector<std::string> collate(ncols);
    auto collation_of = [&](size_t c) -> awaitable<std::optional<std::string>> {
        const auto& f = fields[c];
        if (!groupable_type_name(f.type_oid) || f.table_oid == 0 || f.column_attr <= 0)
            co_return std::nullopt;
        const std::string db_locale =
            "SELECT datlocprovider::text || '/' || datcollate || '/' || datctype || '/' || "
            "coalesce(daticulocale, '') "
            "FROM pg_database WHERE datname = current_database()";
        auto col = co_await ask(
            description_shard,
            fmt::format(
                "SELECT CASE WHEN c.oid = 100 THEN '' ELSE quote_ident(n.nspname) || '.' || "
                "quote_ident(c.collname) END, ({}) FROM pg_attribute a JOIN pg_collation c "
                "ON c.oid = a.attcollation JOIN pg_namespace n ON n.oid = c.collnamespace "
                "WHERE a.attrelid = {} AND a.attnum = {}",
                db_locale, f.table_oid, f.column_attr));
        if (col.size() != 2 || !col[0] || !col[1]) co_return std::nullopt;
        if (!col[0]->empty()) co_return " COLLATE " + *col[0];
        if (description_shard == default_shard) co_return std::string();
        auto here = co_await ask(default_shard, db_locale);
        if (here.size() != 1 || !here[0] || *here[0] != *col[1]) co_return std::nullopt;
        co_return std::string();
    };
    for (size_t c : sort_cols) {
        if (!explicit_collation[c].empty()) {
            if (!groupable_type_name(fields[c].type_oid))
                co_return refuse(
                    "an ORDER BY expression with COLLATE has a type the proxy cannot compare");
            collate[c] = explicit_collation[c];  // the shard computed the value; this is its order
            continue;
        }
        if (sortable(c)) continue;
        // A text expression over one column sorts by that column's collation.
        std::optional<std::string> clause;
        if (collation_source[c] < ncols) {
            if (groupable_type_name(fields[c].type_oid))
                clause = co_await collation_of(collation_source[c]);
        } else {
            clause = co_await collation_of(c);
        }
        if (!clause)
            co_return refuse("the order of " +
                             (c < shown ? "column " + quote_sql_identifier(fields[c].name)
                                        : std::string("an ORDER BY expression")) +
                             " depends on a collation (or a type) the proxy cannot reproduce");
        collate[c] = *clause;
        if (collate[c].empty()) collate[c] = " COLLATE \"default\"";  // the database's own order
    }
    auto column = [](size_t i) { return "c" + std::to_string(i + 1); };
    // One value as a typed literal of the combining query.
    auto literal = [&](size_t row, size_t c,
                       const std::string& type) -> std::optional<std::string> {
        const auto& v = in.rows[row][c];
        if (!v) return "NULL::" + type;
        if (fields[c].format == 0) return quote_sql_literal(*v) + "::" + type;
        auto text = binary_as_text(fields[c].type_oid, *v);
        if (!text) return std::nullopt;
        return quote_sql_literal(*text) + "::" + type;
    };
    // The shards' text values must read back as what they computed (see merge_checks.h).
    auto hazard = [&](size_t c) -> std::optional<std::string> {
        if (fields[c].format != 0) return std::nullopt;  // binary values are read exactly
        auto why = text_round_trip_hazard(settings, fields[c].type_oid);
        if (why) *why = "column " + quote_sql_identifier(fields[c].name) + ": " + *why;
        return why;
    };
    // How text values of column c compare equal when grouped again ("" bytewise, else
    // " COLLATE x" for the column's nondeterministic collation); nullopt when unknown. A
    // database without nondeterministic collations (asked once) needs nothing.
    std::optional<bool> any_nondeterministic;
    auto group_collation = [&](size_t c) -> awaitable<std::optional<std::string>> {
        if (!is_collatable(fields[c].type_oid)) co_return std::string();
        if (!any_nondeterministic) {
            auto got = co_await ask(description_shard, kAnyNondeterministicCollation);
            if (got.size() != 1 || !got[0]) co_return std::nullopt;
            any_nondeterministic = *got[0] != "false";
        }
        if (!*any_nondeterministic) co_return std::string();
        if (fields[c].table_oid == 0 || fields[c].column_attr <= 0) co_return std::nullopt;
        auto got = co_await ask(description_shard, nondeterministic_collation_query(
                                                       fields[c].table_oid, fields[c].column_attr));
        if (got.size() != 1 || !got[0]) co_return std::nullopt;
        co_return got[0]->empty() ? std::string() : " COLLATE " + *got[0];
    };
    // Runs a combining query (extended protocol, the client's result formats); its reply.
    auto run_combining = [&](const std::string& sql,
                             const std::vector<int16_t>& result_formats) -> awaitable<std::string> {
        std::string frames;
        wire::MessageWriter w(frames);
        wire::Parse p;
        p.query = sql;
        wire::encode(p, w);
        wire::Bind b;
        b.result_formats = result_formats;
        wire::encode(b, w);
        wire::encode(wire::Describe{wire::Target::Portal, ""}, w);
        wire::encode(wire::Execute{"", 0}, w);
        w.empty_message('S');
        auto build = [&](ServerConn& s) {
            std::string out;
            ShardRequest(out, s).forward_all(frames);
            s.unnamed_owner() = {0, 0};
            return out;
        };
        if (runner) {
            auto awaited = co_await runner->frames(default_shard, build);
            co_return awaited;
        }
        const std::vector<uint16_t> target{default_shard};
        auto awaited = co_await run_fanout_frames(proxy, user, target, settings, build);
        co_return awaited;
    };
    // Its description and rows (views into `reply`), or false with out.error set to its error.
    auto read_combined = [&](const std::string& reply, ShardRows& got) {
        if (read_shard_rows(reply, got)) return true;
        for (size_t pos = 0; pos + 5 <= reply.size();) {
            size_t total = frame_length(reply, pos) + 1;
            if (reply[pos] == 'E') out.error.assign(reply, pos, total);
            pos += total;
        }
        if (out.error.empty()) refuse("the combining query answered unexpectedly");
        return false;
    };

    if (!plan.aggregates.empty()) {
        // The same aggregates over the shards' partial results, computed by PostgreSQL itself.
        const bool grouped = std::find(plan.aggregates.begin(), plan.aggregates.end(),
                                       Merge::Group) != plan.aggregates.end();
        if (shown != plan.aggregates.size())
            co_return refuse("the shards answered with other columns");
        const size_t avgs =
            size_t(std::count(plan.aggregates.begin(), plan.aggregates.end(), Merge::Avg));
        if (ncols != shown + avgs + plan.extra_aggregates.size())
            co_return refuse("the shards answered with other columns");
        // How column i combines: the client's columns, avg's counts, then HAVING's aggregates.
        auto kind_of = [&](size_t i) {
            if (i < shown) return plan.aggregates[i];
            if (i < shown + avgs) return Merge::Sum;
            return plan.extra_aggregates[i - shown - avgs];
        };
        std::vector<const char*> types;
        std::vector<std::string> typed(ncols);  // with a GROUP BY column's type modifier
        std::vector<std::string> grouped_by(
            ncols);  // a GROUP BY / count(DISTINCT) column's COLLATE
        for (size_t i = 0; i < ncols; ++i) {
            if (auto why = hazard(i)) co_return refuse(*why);
            if (i >= shown && i < shown + avgs)
                types.push_back(fields[i].type_oid == pg_type::kInt8 ? "int8" : nullptr);
            else if (kind_of(i) == Merge::Group || kind_of(i) == Merge::CountDistinct)
                types.push_back(groupable_type_name(fields[i].type_oid));
            else if (kind_of(i) == Merge::StringAgg)
                types.push_back(fields[i].type_oid == pg_type::kText && i < plan.separators.size()
                                    ? "text"
                                    : nullptr);
            else if (kind_of(i) == Merge::BoolAnd || kind_of(i) == Merge::BoolOr)
                types.push_back(fields[i].type_oid == pg_type::kBool ? "bool" : nullptr);
            else if (kind_of(i) == Merge::BitAnd || kind_of(i) == Merge::BitOr ||
                     kind_of(i) == Merge::BitXor)  // integers
                types.push_back(fields[i].type_oid == pg_type::kInt8 ||
                                        fields[i].type_oid == pg_type::kInt2 ||
                                        fields[i].type_oid == pg_type::kInt4
                                    ? mergeable_type_name(fields[i].type_oid)
                                    : nullptr);
            else if (kind_of(i) != Merge::Avg)
                types.push_back(mergeable_type_name(fields[i].type_oid));
            else {
                // avg(x) over the shards' sum(x): PostgreSQL's avg keeps numeric for integers and
                // numerics, interval for interval; float4 sums lose digits. avg(float8) raises
                // 22003 when its running sum of squares overflows, which the shards' sums cannot
                // show.
                const uint32_t t = fields[i].type_oid;
                if (t == pg_type::kFloat8)
                    co_return refuse(
                        "avg() of float8 checks for overflow over every input row (22003), which "
                        "partial sums cannot reproduce");
                types.push_back(t == pg_type::kInt8 || t == pg_type::kNumeric ||
                                        t == pg_type::kInterval
                                    ? mergeable_type_name(t)
                                    : nullptr);
            }
            if (!types.back())
                co_return refuse(
                    "a result column has a type the proxy cannot combine (min/max of text depend "
                    "on a collation)");
            typed[i] = types.back();
            if (kind_of(i) == Merge::Group || kind_of(i) == Merge::CountDistinct) {
                // A GROUP BY column keeps its type modifier (numeric(12,2), varchar(40)).
                if (kind_of(i) == Merge::Group && i < shown) {
                    auto t = type_with_modifier(fields[i].type_oid, fields[i].type_modifier,
                                                types.back());
                    if (!t)
                        co_return refuse("column " + quote_sql_identifier(fields[i].name) +
                                         " has a type modifier the proxy cannot reproduce");
                    typed[i] = *t;
                }
                auto coll = co_await group_collation(i);
                if (!coll)
                    co_return refuse(
                        "column " + quote_sql_identifier(fields[i].name) +
                        " is text whose collation the proxy cannot tell, and the database has "
                        "nondeterministic collations");
                grouped_by[i] = *coll;
            }
        }
        // The combined value of column i, as an expression over the VALUES columns.
        std::vector<size_t> avg_count(shown, 0);
        for (size_t i = 0, k = 0; i < shown; ++i)
            if (plan.aggregates[i] == Merge::Avg) avg_count[i] = shown + k++;
        auto combined = [&](size_t i) -> std::string {
            std::string col = column(i);
            switch (kind_of(i)) {
                case Merge::Sum:
                    return "sum(" + col + ")::" + types[i];
                case Merge::Count:
                    return "coalesce(sum(" + col + "), 0)::int8";  // no partial rows: 0
                case Merge::Min:
                    return "min(" + col + ")";
                case Merge::Max:
                    return "max(" + col + ")";
                case Merge::Avg: {
                    // The same division PostgreSQL's avg ends with (numeric_div for numerics).
                    std::string count = "nullif(sum(" + column(avg_count[i]) + "), 0)";
                    const uint32_t t = fields[i].type_oid;
                    if (t == pg_type::kInt8 || t == pg_type::kNumeric)
                        return "sum(" + col + ")::numeric / " + count + "::numeric";
                    return "sum(" + col + ") / " + count + "::float8";
                }
                case Merge::Group:
                    return col;
                case Merge::CountDistinct:
                    return "count(DISTINCT " + col + ")";
                case Merge::BoolAnd:
                    return "bool_and(" + col + ")";
                case Merge::BoolOr:
                    return "bool_or(" + col + ")";
                case Merge::BitAnd:
                    return "bit_and(" + col + ")";
                case Merge::BitOr:
                    return "bit_or(" + col + ")";
                case Merge::BitXor:
                    return "bit_xor(" + col + ")";
                case Merge::StringAgg:
                    return "string_agg(" + col + ", " + plan.separators[i] + ")";
            }
            return col;
        };
        std::string sql = "SELECT ";
        for (size_t i = 0; i < shown; ++i)
            sql += combined(i) + " AS " + quote_sql_identifier(fields[i].name) +
                   (i + 1 < shown ? ", " : "");
        // No group on any shard: no rows (a one-row answer needs at least one partial row).
        sql += " FROM (VALUES ";
        if (in.rows.empty()) {
            sql += "(";
            for (size_t i = 0; i < ncols; ++i)
                sql += "NULL::" + typed[i] + grouped_by[i] + (i + 1 < ncols ? ", " : "");
            sql += ")";
        }
        for (size_t r = 0; r < in.rows.size(); ++r) {
            sql += r ? ", (" : "(";
            for (size_t i = 0; i < ncols; ++i) {
                auto lit = literal(r, i, typed[i]);
                if (!lit)
                    co_return refuse(
                        "a result column has a type the proxy cannot combine (min/max of text "
                        "depend on a collation)");
                // The VALUES column takes the collation its values carry: GROUP BY and
                // count(DISTINCT) then compare as the shards did.
                sql += *lit + grouped_by[i] + (i + 1 < ncols ? ", " : "");
            }
            sql += ")";
        }
        sql += ") AS v(";
        for (size_t i = 0; i < ncols; ++i) sql += column(i) + (i + 1 < ncols ? ", " : "");
        sql += ")";
        if (in.rows.empty()) sql += " WHERE false";
        if (grouped) {
            std::string by;
            for (size_t i = 0; i < shown; ++i)
                if (plan.aggregates[i] == Merge::Group)
                    by += (by.empty() ? "" : ", ") + std::to_string(i + 1);
            sql += " GROUP BY " + by;
        }
        if (!plan.having.empty()) {
            // The client's HAVING over the combined values.
            const std::string_view mark = router::Analysis::kHavingPlaceholder;
            std::string having;
            for (size_t pos = 0; pos < plan.having.size();) {
                size_t at = plan.having.find(mark, pos);
                if (at == std::string::npos) {
                    having.append(plan.having, pos);
                    break;
                }
                having.append(plan.having, pos, at - pos);
                size_t end = at + mark.size(), n = 0;
                while (end < plan.having.size() &&
                       std::isdigit(static_cast<unsigned char>(plan.having[end])))
                    n = n * 10 + size_t(plan.having[end++] - '0');
                if (end == at + mark.size() || n >= ncols)
                    co_return refuse("its HAVING could not be rewritten");
                having += "(" + combined(n) + ")";
                pos = end;
            }
            std::string why;
            auto bound = bind_having_params(having, bind, param_types, why);
            if (!bound) co_return refuse(why);
            sql += " HAVING " + *bound;
        }
        std::vector<std::string>
            positions;  // (a collated key by its column: "1 COLLATE x" is no position)
        for (size_t c : sort_cols)
            positions.push_back(collate[c].empty() ? std::to_string(c + 1)
                                                   : column(c) + collate[c]);
        sql += order_by_clause(plan.order, positions) + limit_clause(plan);
        const std::string reply = co_await run_combining(sql, formats);
        ShardRows got;
        if (!read_combined(reply, got)) co_return out;
        out.row_description = got.row_description;
        for (auto f : got.frames) out.rows.append(f);
        out.count = got.frames.size();
        co_return out;
    }

    // Plain rows: pass the shards' own DataRows through, in the order (and the subset) that the
    // combining query picks by row number; only the ORDER BY keys (and, for DISTINCT, every
    // column) travel to it.
    std::vector<size_t> picked;
    if (in.rows.empty()) {
        // Nothing to order: the answer is the column description alone.
    } else if (sort_cols.empty() && !plan.distinct) {
        // Only LIMIT/OFFSET: without an order, any rows that many are the answer.
        size_t first = std::min<size_t>(size_t(plan.offset), in.rows.size());
        size_t last = plan.limit ? std::min<size_t>(first + size_t(*plan.limit), in.rows.size())
                                 : in.rows.size();
        for (size_t r = first; r < last; ++r) picked.push_back(r);
    } else {
        std::vector<size_t> sent;  // columns given to the combining query
        std::vector<const char*> types(ncols, nullptr);
        std::vector<std::string> grouped_by(ncols);  // DISTINCT: a text column's COLLATE
        if (plan.distinct) {
            for (size_t i = 0; i < ncols; ++i) {
                types[i] = groupable_type_name(fields[i].type_oid);
                if (!types[i])
                    co_return refuse("column " + quote_sql_identifier(fields[i].name) +
                                     " has a type the proxy cannot compare");
                auto coll = co_await group_collation(i);
                if (!coll)
                    co_return refuse(
                        "column " + quote_sql_identifier(fields[i].name) +
                        " is text whose collation the proxy cannot tell, and the database has "
                        "nondeterministic collations");
                grouped_by[i] = *coll;
                sent.push_back(i);
            }
        } else {
            for (size_t c : sort_cols)
                if (!types[c]) {
                    types[c] = collate[c].empty() ? orderable_type_name(fields[c].type_oid)
                                                  : groupable_type_name(fields[c].type_oid);
                    sent.push_back(c);
                }
        }
        for (size_t c : sent)
            if (auto why = hazard(c)) co_return refuse(*why);
        std::string sql = plan.distinct ? "SELECT min(n) FROM (VALUES " : "SELECT n FROM (VALUES ";
        for (size_t r = 0; r < in.rows.size(); ++r) {
            sql += (r ? ", (" : "(") + std::to_string(r + 1);
            for (size_t c : sent) {
                auto lit = literal(r, c, types[c] + grouped_by[c]);
                if (!lit)
                    co_return refuse(
                        "column " + quote_sql_identifier(fields[c].name) +
                        " comes in a binary format the proxy cannot read; ask for text results");
                sql += ", " + *lit;
            }
            sql += ")";
        }
        sql += ") AS v(n";
        for (size_t c : sent) sql += ", " + column(c);
        sql += ")";
        if (plan.distinct) {
            sql += " GROUP BY ";
            for (size_t i = 0; i < sent.size(); ++i) sql += (i ? ", " : "") + column(sent[i]);
        }
        std::vector<std::string> keys;
        for (size_t c : sort_cols) keys.push_back(column(c) + collate[c]);
        sql += order_by_clause(plan.order, keys) + limit_clause(plan);
        const std::string reply = co_await run_combining(sql, {});
        ShardRows numbers;
        if (!read_combined(reply, numbers)) co_return out;
        for (const auto& r : numbers.rows) {
            size_t n =
                (r.size() == 1 && r[0]) ? size_t(std::strtoull(r[0]->c_str(), nullptr, 10)) : 0;
            if (n < 1 || n > in.rows.size())
                co_return refuse("the combining query answered unexpectedly");
            picked.push_back(n - 1);
        }
    }
    wire::MessageWriter w(out.rows);
    if (plan.hidden == 0) {
        out.row_description = in.row_description;
        for (size_t r : picked) out.rows.append(in.frames[r]);
    } else {
        // Without the extra ORDER BY columns.
        wire::RowDescription desc;
        desc.fields.assign(fields.begin(), fields.begin() + std::ptrdiff_t(shown));
        wire::MessageWriter dw(out.row_description);
        wire::encode(desc, dw);
        std::vector<wire::Value> values(shown);
        for (size_t r : picked) {
            for (size_t i = 0; i < shown; ++i)
                values[i] = in.rows[r][i]
                                ? wire::Value(wire::as_bytes(std::string_view(*in.rows[r][i])))
                                : std::nullopt;
            wire::encode_data_row(values, w);
        }
    }
    out.count = picked.size();
    co_return out;
}

}  // namespace sg::proxy
