// INSERT: the target's placement, each VALUES row's key, and where each row is written so a
// multi-row INSERT can be split into one INSERT per shard.
#include <algorithm>

#include "router/analyze_internal.h"
#include "router/sql_nodes.h"

namespace sg::router::detail {
namespace {

// Finds the "( ... )" span of every VALUES row with the scanner: the parse tree has no
// location for a row, and its first expression's location is not where the row starts.
bool find_row_spans(const Context& ctx, Analysis& a) {
    auto tokens = scan_sql(ctx.sql);
    if (!tokens) return false;
    size_t i = 0;
    int depth = 0;
    for (; i < tokens->size(); ++i) {
        const Token& t = (*tokens)[i];
        if (static_cast<uint32_t>(t.start) < a.stmt_begin) continue;
        if (static_cast<uint32_t>(t.start) >= a.stmt_end) return false;
        if (t.kind == PG_QUERY__TOKEN__ASCII_40) ++depth;
        if (t.kind == PG_QUERY__TOKEN__ASCII_41) --depth;
        if (t.kind == PG_QUERY__TOKEN__VALUES && depth == 0) break;
    }
    size_t row = 0;
    for (++i; i < tokens->size() && row < a.rows.size(); ++i) {
        const Token& open = (*tokens)[i];
        if (open.kind != PG_QUERY__TOKEN__ASCII_40) return false;
        depth = 0;
        size_t j = i;
        for (; j < tokens->size(); ++j) {
            if ((*tokens)[j].kind == PG_QUERY__TOKEN__ASCII_40) ++depth;
            if ((*tokens)[j].kind == PG_QUERY__TOKEN__ASCII_41 && --depth == 0) break;
        }
        if (j == tokens->size()) return false;
        a.rows[row].begin = static_cast<uint32_t>(open.start);
        a.rows[row].end = static_cast<uint32_t>((*tokens)[j].end);
        ++row;
        i = j + 1;
        if (i >= tokens->size() || (*tokens)[i].kind != PG_QUERY__TOKEN__ASCII_44) break;  // ','
    }
    if (row != a.rows.size()) return false;
    a.values_begin = a.rows.front().begin;
    a.values_end = a.rows.back().end;
    return true;
}

void collect_params(const PgQuery__InsertStmt& s, const Context& ctx, Analysis& a) {
    walk(&s.base, [&](const ProtobufCMessage& m) {
        if (m.descriptor != &pg_query__param_ref__descriptor) return true;
        const auto& p = reinterpret_cast<const PgQuery__ParamRef&>(m);
        auto offset = static_cast<uint32_t>(p.location);
        uint32_t end = offset + 1;
        while (end < ctx.sql.size() && ctx.sql[end] >= '0' && ctx.sql[end] <= '9') ++end;
        a.params.push_back(ParamUse{offset, end - offset, p.number});
        return true;
    });
    std::sort(a.params.begin(), a.params.end(),
              [](const ParamUse& x, const ParamUse& y) { return x.offset < y.offset; });
}

// ON CONFLICT DO NOTHING, or DO UPDATE ... WHERE: a VALUES row may return no RETURNING row.
bool may_skip_rows(const PgQuery__OnConflictClause* oc) {
    return oc &&
           (oc->action != PG_QUERY__ON_CONFLICT_ACTION__ONCONFLICT_UPDATE || oc->where_clause);
}

// ON CONFLICT DO UPDATE SET key = ...: `excluded.key` keeps the row's key; anything else is
// a key assignment the router must check.
void read_on_conflict(const PgQuery__OnConflictClause& oc, const TableConfig& t, Analysis& a) {
    for (size_t i = 0; i < oc.n_target_list; ++i) {
        const auto* n = oc.target_list[i];
        if (n->node_case != PG_QUERY__NODE__NODE_RES_TARGET) continue;
        const PgQuery__ResTarget& rt = *n->res_target;
        if (!rt.name || t.shard_key != rt.name) continue;
        auto col = column_name(rt.val);
        if (col && col->column == t.shard_key && col->relation == "excluded") continue;
        KeyExpr k = key_expr(rt.val, t.key_type);
        if (k.kind == KeyExpr::Kind::Value || k.kind == KeyExpr::Kind::Param) {
            KeyRef r;
            r.source =
                k.kind == KeyExpr::Kind::Param ? KeyRef::Source::Param : KeyRef::Source::Value;
            r.value = std::move(k.value);
            r.param = k.param;
            r.text = std::move(k.text);
            r.cast = k.cast;
            a.key_assignment = std::move(r);
        } else {
            a.key_assignment_unusable = true;
        }
    }
}

void analyze_sharded_rows(const PgQuery__InsertStmt& s, const PgQuery__SelectStmt& values,
                          const TableConfig& t, const Context& ctx, Analysis& a) {
    if (s.n_cols == 0) {
        refuse(a, "INSERT into sharded table \"" + t.name +
                      "\" must list its columns, so the router can find shard key \"" +
                      t.shard_key + "\"");
        a.column_list_at =
            column_list_position(ctx, a, s.relation->location, PG_QUERY__TOKEN__VALUES);
        for (size_t r = 0; r < values.n_values_lists; ++r) {
            const PgQuery__Node* row = values.values_lists[r];
            if (row->node_case == PG_QUERY__NODE__NODE_LIST)
                a.values_per_row =
                    std::max(a.values_per_row, static_cast<uint32_t>(row->list->n_items));
        }
        return;
    }
    int key_index = -1;
    for (size_t i = 0; i < s.n_cols; ++i) {
        const auto* c = s.cols[i];
        if (c->node_case == PG_QUERY__NODE__NODE_RES_TARGET && c->res_target->name &&
            t.shard_key == c->res_target->name) {
            key_index = static_cast<int>(i);
        }
    }
    if (key_index < 0) {
        refuse(a, "INSERT into sharded table \"" + t.name + "\" must supply shard key \"" +
                      t.shard_key + "\"");
        return;
    }
    for (size_t r = 0; r < values.n_values_lists; ++r) {
        const PgQuery__Node* row = values.values_lists[r];
        if (row->node_case != PG_QUERY__NODE__NODE_LIST ||
            row->list->n_items <= static_cast<size_t>(key_index)) {
            refuse(a, "INSERT row " + std::to_string(r + 1) + " has fewer values than columns",
                   sqlstate::kSyntaxError);
            return;
        }
        KeyExpr k = key_expr(row->list->items[key_index], t.key_type);
        if (k.kind == KeyExpr::Kind::Invalid) {
            refuse(a, k.error.message, k.error.sqlstate.c_str());
            return;
        }
        if (k.kind == KeyExpr::Kind::Unusable) {
            refuse(a, "shard key \"" + t.shard_key + "\" in INSERT row " + std::to_string(r + 1) +
                          " must be a constant or a parameter");
            return;
        }
        InsertRow ir;
        ir.key.source =
            k.kind == KeyExpr::Kind::Param ? KeyRef::Source::Param : KeyRef::Source::Value;
        ir.key.value = std::move(k.value);
        ir.key.param = k.param;
        ir.key.text = std::move(k.text);
        ir.key.cast = k.cast;
        a.rows.push_back(std::move(ir));
    }
    if (!find_row_spans(ctx, a)) {
        refuse(a, "cannot locate the VALUES rows of this INSERT in its text",
               sqlstate::kSyntaxError);
        return;
    }
    collect_params(s, ctx, a);
    a.why.push_back(std::to_string(a.rows.size()) + " VALUES row(s) keyed on " + t.shard_key);
}

}  // namespace

// INSERT INTO t (..., key, ...) SELECT ..., k, ... FROM u ... where k is the shard key of a
// table u co-located with t: every row stays with the key of the row it comes from, so each
// shard copies its own rows (the SELECT's shards, as routed by its own WHERE). On several
// shards the SELECT must choose its rows one key at a time: no LIMIT/OFFSET, window function
// or DISTINCT ON (aggregates are fine: a group holding a bare key column is one key's rows).
void analyze_colocated_insert_select(const PgQuery__InsertStmt& s, const PgQuery__SelectStmt& sel,
                                     const TableConfig& t, const Context& ctx, Analysis& a) {
    a.placement = Placement::Sharded;
    a.key_type = t.key_type;
    auto refuse_it = [&](const std::string& why) {
        refuse(a, "INSERT ... SELECT into sharded table \"" + t.name + "\" " + why +
                      "; only a SELECT of a co-located table's shard key into \"" + t.shard_key +
                      "\" keeps every row on its shard");
    };
    int key_index = -1;
    for (size_t i = 0; i < s.n_cols; ++i) {
        const auto* c = s.cols[i];
        if (c->node_case == PG_QUERY__NODE__NODE_RES_TARGET && c->res_target->name &&
            t.shard_key == c->res_target->name)
            key_index = static_cast<int>(i);
    }
    if (key_index < 0)
        return refuse_it("does not list shard key \"" + t.shard_key + "\" among its columns");
    // The SELECT is analysed on its own: a CTE of the INSERT would look like a table to it.
    if (s.with_clause) return refuse_it("has a WITH clause");
    if (sel.op != PG_QUERY__SET_OPERATION__SET_OPERATION_UNDEFINED &&
        sel.op != PG_QUERY__SET_OPERATION__SETOP_NONE)
        return refuse_it("selects a set operation");
    // `*` or `t.*` in the select list: the positions of the columns are unknown.
    if (std::any_of(
            sel.target_list, sel.target_list + sel.n_target_list, [](const PgQuery__Node* n) {
                const PgQuery__Node* v =
                    n->node_case == PG_QUERY__NODE__NODE_RES_TARGET ? n->res_target->val : nullptr;
                if (!v || v->node_case != PG_QUERY__NODE__NODE_COLUMN_REF ||
                    v->column_ref->n_fields == 0)
                    return false;
                const PgQuery__ColumnRef& c = *v->column_ref;
                return c.fields[c.n_fields - 1]->node_case == PG_QUERY__NODE__NODE_A_STAR;
            }))
        return refuse_it("selects *");
    if (static_cast<size_t>(key_index) >= sel.n_target_list ||
        sel.target_list[key_index]->node_case != PG_QUERY__NODE__NODE_RES_TARGET ||
        !selects_shard_key(sel, sel.target_list[key_index]->res_target->val, ctx))
        return refuse_it("takes \"" + t.shard_key +
                         "\" from something else than a co-located table's shard key");
    Analysis from;
    analyze_select(sel, ctx, from);
    if (from.refusal) {
        a.refusal = std::move(from.refusal);
        return;
    }
    if (from.placement != Placement::Sharded || from.key_type != t.key_type)
        return refuse_it("reads tables not co-located with it");
    bool window = false;
    walk(&sel.base, [&](const ProtobufCMessage& m) {
        if (m.descriptor == &pg_query__func_call__descriptor &&
            reinterpret_cast<const PgQuery__FuncCall&>(m).over)
            window = true;
        return !window;
    });
    bool distinct_on = std::any_of(
        sel.distinct_clause, sel.distinct_clause + sel.n_distinct_clause,
        [](const PgQuery__Node* n) { return n && n->node_case != PG_QUERY__NODE__NODE__NOT_SET; });
    const char* across_keys = sel.limit_count    ? "LIMIT"
                              : sel.limit_offset ? "OFFSET"
                              : window           ? "a window function"
                              : distinct_on      ? "DISTINCT ON"
                                                 : nullptr;
    a.keys = std::move(from.keys);
    a.nested_keys = std::move(from.nested_keys);
    a.why = std::move(from.why);
    a.why.push_back("INSERT ... SELECT of the shard key: every row stays on its shard");
    // Several shards answering alone would each apply LIMIT/window/DISTINCT ON to their rows.
    if (across_keys) a.fanout_blocker = across_keys;
    a.colocated_select = true;
    a.on_conflict = may_skip_rows(s.on_conflict_clause);
    if (s.on_conflict_clause) read_on_conflict(*s.on_conflict_clause, t, a);
}

void analyze_insert(const PgQuery__InsertStmt& s, const Context& ctx, Analysis& a) {
    a.kind = StatementKind::Insert;
    a.is_write = true;
    a.returning = s.n_returning_list > 0;
    Rel target = make_rel(*s.relation, ctx.catalog);
    a.table = qualified_name(*s.relation);
    if (target.cfg) a.table_config = *target.cfg;
    // Tables read by the statement besides the target (INSERT ... SELECT, subqueries).
    const Rel* sharded_source = nullptr;
    const Rel* unlisted_source = nullptr;
    std::vector<Rel> all = all_relations(&s.base, ctx.catalog);
    for (const Rel& r : all) {
        if (r.rv == s.relation) continue;
        if (r.sharded() && !sharded_source) sharded_source = &r;
        if (!r.cfg && !unlisted_source) unlisted_source = &r;
    }
    const PgQuery__Node* src = s.select_stmt;
    const PgQuery__SelectStmt* select =
        src && src->node_case == PG_QUERY__NODE__NODE_SELECT_STMT ? src->select_stmt : nullptr;
    if (sharded_source && target.sharded() && select && select->n_values_lists == 0) {
        analyze_colocated_insert_select(s, *select, *target.cfg, ctx, a);
        return;
    }
    if (sharded_source) {
        refuse(a, "INSERT reads sharded table \"" + sharded_source->cfg->name +
                      "\", whose rows are spread over several shards; INSERT ... SELECT across "
                      "shards is not supported");
        return;
    }
    if (!target.cfg) {
        a.placement = Placement::Unsharded;
        return;
    }
    if (target.reference()) {
        a.placement = Placement::Reference;
        if (unlisted_source) {
            refuse(a, "INSERT into reference table \"" + a.table + "\" reads table \"" +
                          qualified_name(*unlisted_source->rv) +
                          "\", which lives only on the default shard");
        }
        return;
    }
    a.placement = Placement::Sharded;
    a.key_type = target.cfg->key_type;
    if (!select || select->n_values_lists == 0 || unlisted_source) {
        refuse(a, "INSERT into sharded table \"" + a.table +
                      "\" must use VALUES; INSERT ... SELECT and DEFAULT VALUES cannot be "
                      "routed by shard key");
        return;
    }
    analyze_sharded_rows(s, *select, *target.cfg, ctx, a);
    a.on_conflict = may_skip_rows(s.on_conflict_clause);
    if (s.on_conflict_clause) read_on_conflict(*s.on_conflict_clause, *target.cfg, a);
}

uint32_t column_list_position(const Context& ctx, const Analysis& a, int32_t relation_at,
                              int keyword) {
    auto tokens = scan_sql(ctx.sql);
    if (!tokens) return 0;
    int depth = 0;
    for (const Token& t : *tokens) {
        if (t.start < relation_at || static_cast<uint32_t>(t.start) < a.stmt_begin) continue;
        if (static_cast<uint32_t>(t.start) >= a.stmt_end) return 0;
        if (t.kind == PG_QUERY__TOKEN__ASCII_40) ++depth;
        if (t.kind == PG_QUERY__TOKEN__ASCII_41) --depth;
        if (depth == 0 && (t.kind == keyword || (keyword == PG_QUERY__TOKEN__VALUES &&
                                                 t.kind == PG_QUERY__TOKEN__OVERRIDING)))
            return static_cast<uint32_t>(t.start);
    }
    return 0;
}

}  // namespace sg::router::detail
