// SELECT / UPDATE / DELETE: which tables, whether sharded ones are co-located and joined on
// their keys, and which key values the WHERE clause restricts the statement to.
#include <algorithm>
#include <numeric>
#include <set>

#include "router/analyze_internal.h"
#include "router/fanout.h"
#include "router/pg_array.h"
#include "router/replica_safe.h"
#include "router/sql_nodes.h"

namespace sg::router::detail {
namespace {

// The FROM side of a statement: relations whose columns WHERE can see, the join conditions
// between them, and pairs linked by JOIN ... USING (key).
struct Scope {
    std::vector<Rel> rels;
    std::vector<const PgQuery__Node*> join_quals;
    std::vector<std::pair<size_t, size_t>> links;
};

void add_from_item(const PgQuery__Node* n, const Context& ctx, Scope& scope) {
    if (!n) return;
    if (n->node_case == PG_QUERY__NODE__NODE_RANGE_VAR) {
        scope.rels.push_back(make_rel(*n->range_var, ctx.catalog));
    } else if (n->node_case == PG_QUERY__NODE__NODE_JOIN_EXPR) {
        const PgQuery__JoinExpr& j = *n->join_expr;
        size_t first = scope.rels.size();
        add_from_item(j.larg, ctx, scope);
        size_t split = scope.rels.size();
        add_from_item(j.rarg, ctx, scope);
        if (j.quals) scope.join_quals.push_back(j.quals);
        // USING (c): a left and a right relation sharded on c are joined on their keys.
        for (size_t u = 0; u < j.n_using_clause; ++u) {
            std::string_view col = string_value(j.using_clause[u]);
            for (size_t l = first; l < split; ++l) {
                for (size_t r = split; r < scope.rels.size(); ++r) {
                    if (scope.rels[l].sharded() && scope.rels[r].sharded() &&
                        scope.rels[l].cfg->shard_key == col &&
                        scope.rels[r].cfg->shard_key == col) {
                        scope.links.emplace_back(l, r);
                    }
                }
            }
        }
    }
    // Subqueries and functions in FROM are not scope members: their tables are found by
    // all_relations() and judged there.
}

// Index into scope.rels of the sharded relation whose key column `n` names, or -1.
int key_column_rel(const PgQuery__Node* n, const Scope& scope) {
    auto col = column_name(n);
    if (!col) return -1;
    for (size_t i = 0; i < scope.rels.size(); ++i) {
        const Rel& r = scope.rels[i];
        if (!r.sharded() || r.cfg->shard_key != col->column) continue;
        if (col->relation.empty()) return static_cast<int>(i);
        if (col->relation != r.ref_name) continue;
        if (!col->schema.empty() &&
            (!r.rv->schemaname || col->schema != std::string_view(r.rv->schemaname))) {
            continue;
        }
        return static_cast<int>(i);
    }
    return -1;
}

struct Candidate {
    std::vector<KeyRef> keys;
    std::string describe;
};

KeyRef to_ref(KeyExpr&& k) {
    KeyRef r;
    r.source = k.kind == KeyExpr::Kind::Param ? KeyRef::Source::Param : KeyRef::Source::Value;
    r.value = std::move(k.value);
    r.param = k.param;
    r.text = std::move(k.text);
    r.cast = k.cast;
    return r;
}

// Adds `expr` as a key value; false when it cannot be used. An invalid literal refuses the
// statement with PostgreSQL's own coercion error.
bool add_key(const PgQuery__Node* expr, KeyType t, Candidate& c, Analysis& a) {
    KeyExpr k = key_expr(expr, t);
    if (k.kind == KeyExpr::Kind::Unusable) return false;
    if (k.kind == KeyExpr::Kind::Invalid) {
        refuse(a, k.error.message, k.error.sqlstate.c_str());
        return false;
    }
    c.keys.push_back(to_ref(std::move(k)));
    return true;
}

// `key = ANY(...)`: an array parameter, ARRAY[...] or an array literal '{...}'.
bool add_any_keys(const PgQuery__Node* rhs, KeyType t, Candidate& c, Analysis& a) {
    // Every cast must keep the elements' values (not `::bpchar[]`, `::varchar(2)[]`,
    // `::numeric[]`): otherwise the condition bounds nothing the router can compute, and the
    // statement runs where its other conditions say (every shard when none).
    const PgQuery__Node* inner = rhs;
    while (inner && inner->node_case == PG_QUERY__NODE__NODE_TYPE_CAST) {
        if (!value_preserving_array_cast(*inner->type_cast, t)) return false;
        inner = inner->type_cast->arg;
    }
    if (!inner) return false;
    if (inner->node_case == PG_QUERY__NODE__NODE_PARAM_REF) {
        KeyRef r;
        r.source = KeyRef::Source::ArrayParam;
        r.param = inner->param_ref->number;
        r.text = "$" + std::to_string(r.param);
        c.keys.push_back(std::move(r));
        return true;
    }
    if (inner->node_case == PG_QUERY__NODE__NODE_A_ARRAY_EXPR) {
        for (size_t i = 0; i < inner->a_array_expr->n_elements; ++i) {
            if (!add_key(inner->a_array_expr->elements[i], t, c, a)) return false;
        }
        return true;
    }
    if (inner->node_case == PG_QUERY__NODE__NODE_A_CONST &&
        inner->a_const->val_case == PG_QUERY__A__CONST__VAL_SVAL) {
        const std::string_view text = inner->a_const->sval->sval;
        // A multi-dimensional array matches its elements too: left to the shards.
        if (is_multidimensional_text_array(text)) return false;
        auto keys = parse_text_array(t, text);
        if (!keys) {
            refuse(a, keys.error().message, keys.error().sqlstate.c_str());
            return false;
        }
        for (auto& k : *keys) {
            std::string shown = display_key(t, k);  // before k is moved from
            c.keys.push_back(
                KeyRef{KeyRef::Source::Value, std::move(k), 0, std::move(shown), std::nullopt});
        }
        return true;
    }
    return false;
}

// One conjunct: either a join of two key columns (recorded as a link) or a restriction of a
// key column to values (returned as a candidate).
std::optional<Candidate> read_conjunct(const PgQuery__Node* n, Scope& scope, KeyType t,
                                       Analysis& a);

// `A OR B OR ...` where every arm restricts a key (alone or among its AND-ed conditions): the
// rows are bounded by the union of the arms' keys. A join condition inside an arm joins
// nothing (the other arms let rows through without it), so arms are read on a scratch scope.
std::optional<Candidate> read_disjunction(const PgQuery__BoolExpr& e, const Scope& scope, KeyType t,
                                          Analysis& a) {
    Candidate all;
    for (size_t i = 0; i < e.n_args; ++i) {
        std::vector<const PgQuery__Node*> conjuncts;
        flatten_and(e.args[i], conjuncts);
        std::optional<Candidate> best;
        for (const auto* q : conjuncts) {
            Scope scratch = scope;
            auto c = read_conjunct(q, scratch, t, a);
            if (c && (!best || c->keys.size() < best->keys.size())) best = std::move(c);
        }
        if (!best) return std::nullopt;
        for (auto& k : best->keys) all.keys.push_back(std::move(k));
        all.describe += (i ? " OR " : "(") + best->describe;
    }
    all.describe += ")";
    return all;
}

std::optional<Candidate> read_conjunct(const PgQuery__Node* n, Scope& scope, KeyType t,
                                       Analysis& a) {
    if (n->node_case == PG_QUERY__NODE__NODE_BOOL_EXPR &&
        n->bool_expr->boolop == PG_QUERY__BOOL_EXPR_TYPE__OR_EXPR) {
        return read_disjunction(*n->bool_expr, scope, t, a);
    }
    if (n->node_case != PG_QUERY__NODE__NODE_A_EXPR) return std::nullopt;
    const PgQuery__AExpr& e = *n->a_expr;
    if (operator_name(e) != "=") return std::nullopt;
    Candidate c;
    int l = key_column_rel(e.lexpr, scope);
    int r = key_column_rel(e.rexpr, scope);
    switch (e.kind) {
        case PG_QUERY__A__EXPR__KIND__AEXPR_OP:
            if (l >= 0 && r >= 0) {
                scope.links.emplace_back(l, r);
                return std::nullopt;
            }
            if (l >= 0 ? !add_key(e.rexpr, t, c, a) : r < 0 || !add_key(e.lexpr, t, c, a)) {
                return std::nullopt;
            }
            c.describe = scope.rels[l >= 0 ? l : r].cfg->shard_key + " = ";
            break;
        case PG_QUERY__A__EXPR__KIND__AEXPR_IN: {
            if (l < 0 || !e.rexpr || e.rexpr->node_case != PG_QUERY__NODE__NODE_LIST) {
                return std::nullopt;
            }
            for (size_t i = 0; i < e.rexpr->list->n_items; ++i) {
                if (!add_key(e.rexpr->list->items[i], t, c, a)) return std::nullopt;
            }
            c.describe = scope.rels[l].cfg->shard_key + " IN ";
            break;
        }
        case PG_QUERY__A__EXPR__KIND__AEXPR_OP_ANY:
            if (l < 0 || !add_any_keys(e.rexpr, t, c, a)) return std::nullopt;
            c.describe = scope.rels[l].cfg->shard_key + " = ANY ";
            break;
        default:
            return std::nullopt;
    }
    std::string values;
    for (const auto& k : c.keys) values += (values.empty() ? "" : ", ") + k.text;
    c.describe += c.keys.size() == 1 && e.kind == PG_QUERY__A__EXPR__KIND__AEXPR_OP
                      ? values
                      : "(" + values + ")";
    return c;
}

size_t find_root(std::vector<size_t>& parent, size_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
}

// A FROM item missing from `all` names a CTE, not a table, whatever [[tables]] says.
void forget_cte_names(Scope& scope, const std::vector<Rel>& all) {
    for (Rel& s : scope.rels) {
        if (std::none_of(all.begin(), all.end(), [&](const Rel& r) { return r.rv == s.rv; }))
            s.cfg = nullptr;
    }
}

// Every name a FROM list makes visible to column references: tables' aliases or names,
// subqueries', functions' and joins' aliases.
void from_names(const PgQuery__Node* n, std::set<std::string_view>& out) {
    if (!n) return;
    switch (n->node_case) {
        case PG_QUERY__NODE__NODE_RANGE_VAR: {
            const auto& rv = *n->range_var;
            out.insert(rv.alias && rv.alias->aliasname ? rv.alias->aliasname
                                                       : (rv.relname ? rv.relname : ""));
            break;
        }
        case PG_QUERY__NODE__NODE_RANGE_SUBSELECT:
            if (n->range_subselect->alias && n->range_subselect->alias->aliasname)
                out.insert(n->range_subselect->alias->aliasname);
            break;
        case PG_QUERY__NODE__NODE_RANGE_FUNCTION:
            if (n->range_function->alias && n->range_function->alias->aliasname)
                out.insert(n->range_function->alias->aliasname);
            break;
        case PG_QUERY__NODE__NODE_JOIN_EXPR:
            if (n->join_expr->alias && n->join_expr->alias->aliasname)
                out.insert(n->join_expr->alias->aliasname);
            from_names(n->join_expr->larg, out);
            from_names(n->join_expr->rarg, out);
            break;
        default:
            break;
    }
}

// `x IN (SELECT k FROM ...)` (or `x = ANY (SELECT ...)`) with x a shard-key column of `scope`:
// the subquery, when it selects its own table's shard key, is a semi-join on the keys. Each
// shard then finds the keys of its own rows, as long as which rows qualify does not depend on
// rows elsewhere (see cross_shard_construct).
const PgQuery__SelectStmt* key_semi_join(const PgQuery__Node* n, const Scope& scope) {
    if (!n || n->node_case != PG_QUERY__NODE__NODE_SUB_LINK) return nullptr;
    const PgQuery__SubLink& l = *n->sub_link;
    if (l.sub_link_type != PG_QUERY__SUB_LINK_TYPE__ANY_SUBLINK) return nullptr;
    if (l.n_oper_name > 1 || (l.n_oper_name == 1 && string_value(l.oper_name[0]) != "="))
        return nullptr;
    if (key_column_rel(l.testexpr, scope) < 0) return nullptr;
    if (!l.subselect || l.subselect->node_case != PG_QUERY__NODE__NODE_SELECT_STMT) return nullptr;
    const PgQuery__SelectStmt* sub = l.subselect->select_stmt;
    return sub;
}

// The construct of `sub`, the subquery of a `key IN (SELECT key ...)` semi-join, that makes
// which of its rows qualify depend on rows of other shards; "" when each shard's answer is
// exactly the keys of its own rows that the subquery returns over all shards. Each row's fate
// must depend on that row alone, or on the rows sharing its key (one shard's): DISTINCT ON
// keeps one row per group of all shards, window functions see every shard's rows, aggregates
// and HAVING do unless the groups include the key (LIMIT/OFFSET: see key_semi_join).
std::string cross_shard_construct(const PgQuery__SelectStmt& sub, const Scope& sc) {
    if (sub.n_distinct_clause && !(sub.n_distinct_clause == 1 &&
                                   (!sub.distinct_clause[0] || sub.distinct_clause[0]->node_case ==
                                                                   PG_QUERY__NODE__NODE__NOT_SET)))
        return "DISTINCT ON";
    if (sub.limit_count) return "LIMIT";  // its first n rows of all shards
    if (sub.limit_offset) return "OFFSET";
    if (sub.n_window_clause) return "WINDOW";
    bool aggregating = sub.n_group_clause > 0 || sub.having_clause;
    std::vector<const ProtobufCMessage*> parts;
    for (size_t i = 0; i < sub.n_target_list; ++i) parts.push_back(&sub.target_list[i]->base);
    for (size_t i = 0; i < sub.n_sort_clause; ++i) parts.push_back(&sub.sort_clause[i]->base);
    if (sub.having_clause) parts.push_back(&sub.having_clause->base);
    for (const auto* m : parts) {
        std::string found = find_aggregate(m);
        if (found.rfind("window", 0) == 0) return found;
        if (!found.empty()) aggregating = true;
    }
    if (!aggregating) return "";
    for (size_t i = 0; i < sub.n_group_clause; ++i)
        if (key_column_rel(sub.group_clause[i], sc) >= 0) return "";
    return sub.n_group_clause ? "GROUP BY without the shard key" : "an aggregate";
}

// Sharded tables read below the statement's own FROM: in subqueries (FROM, WHERE, the select
// list) and CTE bodies. Each such SELECT must keep the sharded rows it reads on a known shard:
// - its WHERE restricts them to shard-key values: recorded in a.nested_keys (the router then
//   requires the whole statement to run on the one shard holding them);
// - or it is correlated on the shard key with a sharded table of the statement's FROM
//   (`o.user_id = u.id`), or is the subquery of a top-level `key IN (SELECT key ...)`
//   semi-join: each outer row's matches live on that row's shard, so every shard answers for
//   its own rows.
// Anything else is left out of `covered`, and the caller refuses the statement. The sharded
// tables of one such SELECT must be joined on their keys, as in the statement's FROM.
void place_nested(const ProtobufCMessage* root, const void* self, const Scope& outer,
                  const std::set<const PgQuery__SelectStmt*>& semi_joins,
                  const std::vector<Rel>& all, const Context& ctx, std::optional<KeyType>& key_type,
                  Analysis& a, std::vector<const PgQuery__RangeVar*>& covered) {
    std::vector<const PgQuery__SelectStmt*> nested;
    walk(root, [&](const ProtobufCMessage& m) {
        if (m.descriptor == &pg_query__select_stmt__descriptor && &m != self)
            nested.push_back(reinterpret_cast<const PgQuery__SelectStmt*>(&m));
        return true;
    });
    // A qualifier any nested FROM defines may mean that level's table, not the statement's:
    // such a reference never counts as a correlation with the outer statement.
    std::set<std::string_view> nested_names;
    for (const auto* n : nested)
        for (size_t i = 0; i < n->n_from_clause; ++i) from_names(n->from_clause[i], nested_names);
    for (const auto* n : nested) {
        if (n->op != PG_QUERY__SET_OPERATION__SET_OPERATION_UNDEFINED &&
            n->op != PG_QUERY__SET_OPERATION__SETOP_NONE)
            continue;  // its arms are SELECTs of their own
        Scope sc;
        for (size_t i = 0; i < n->n_from_clause; ++i) add_from_item(n->from_clause[i], ctx, sc);
        forget_cte_names(sc, all);
        std::vector<size_t> sharded;
        for (size_t i = 0; i < sc.rels.size(); ++i) {
            if (!sc.rels[i].sharded()) continue;
            sharded.push_back(i);
            if (!key_type) key_type = sc.rels[i].cfg->key_type;
            if (sc.rels[i].cfg->key_type != *key_type)
                return;  // not co-located: refused by the caller
        }
        if (sharded.empty()) continue;
        std::vector<const PgQuery__Node*> conjuncts, join_conjuncts;
        flatten_and(n->where_clause, conjuncts);
        for (const auto* q : sc.join_quals) flatten_and(q, join_conjuncts);
        for (const auto* q : join_conjuncts) read_conjunct(q, sc, *key_type, a);  // links only
        bool correlated = false;
        std::string semi_join_blocker;
        if (semi_joins.count(n) && n->n_target_list == 1 &&
            n->target_list[0]->node_case == PG_QUERY__NODE__NODE_RES_TARGET &&
            key_column_rel(n->target_list[0]->res_target->val, sc) >= 0) {
            semi_join_blocker = cross_shard_construct(*n, sc);
            correlated = semi_join_blocker.empty();
        }
        std::optional<Candidate> best;
        for (const auto* q : conjuncts) {
            if (q->node_case == PG_QUERY__NODE__NODE_A_EXPR &&
                q->a_expr->kind == PG_QUERY__A__EXPR__KIND__AEXPR_OP &&
                operator_name(*q->a_expr) == "=") {
                // inner.key = outer.key, the outer side named by a qualifier no nested FROM
                // defines.
                const PgQuery__AExpr& e = *q->a_expr;
                for (auto [mine, theirs] :
                     {std::pair{e.lexpr, e.rexpr}, std::pair{e.rexpr, e.lexpr}}) {
                    auto col = column_name(theirs);
                    if (key_column_rel(mine, sc) >= 0 && col && !col->relation.empty() &&
                        !nested_names.count(col->relation) && key_column_rel(theirs, outer) >= 0) {
                        correlated = true;
                    }
                }
            }
            auto c = read_conjunct(q, sc, *key_type, a);
            if (c && (!best || c->keys.size() < best->keys.size())) best = std::move(c);
        }
        std::vector<size_t> parent(sc.rels.size());
        std::iota(parent.begin(), parent.end(), 0);
        for (auto [l, r] : sc.links) parent[find_root(parent, l)] = find_root(parent, r);
        bool joined = std::all_of(sharded.begin(), sharded.end(), [&](size_t i) {
            return find_root(parent, i) == find_root(parent, sharded.front());
        });
        if (!joined || (!best && !correlated)) {  // not covered: refused by the caller
            if (joined && !semi_join_blocker.empty())
                refuse(a, "subquery of a `" + sc.rels[sharded.front()].cfg->shard_key +
                              " IN (SELECT ...)` on sharded table \"" +
                              sc.rels[sharded.front()].cfg->name + "\" uses " + semi_join_blocker +
                              ", which would pick its rows on each shard separately; restrict the "
                              "subquery by its "
                              "shard key");
            continue;
        }
        if (correlated) {
            a.why.push_back("subquery on \"" + sc.rels[sharded.front()].cfg->name +
                            "\" follows the outer rows by shard key");
        } else {
            a.nested_keys.push_back(std::move(best->keys));
            a.why.push_back("subquery on \"" + sc.rels[sharded.front()].cfg->name + "\": WHERE " +
                            best->describe);
        }
        for (const Rel& r : sc.rels) covered.push_back(r.rv);
    }
}

// The placement shared by SELECT/UPDATE/DELETE once the scope is known. `all` holds every
// table of the statement, including the scope's.
void place(Scope& scope, const std::vector<Rel>& all, const PgQuery__Node* where,
           const ProtobufCMessage* root, const void* self, const Context& ctx, Analysis& a) {
    forget_cte_names(scope, all);
    std::vector<size_t> sharded;
    for (size_t i = 0; i < scope.rels.size(); ++i) {
        if (scope.rels[i].sharded()) sharded.push_back(i);
    }
    std::vector<const PgQuery__Node*> conjuncts, join_conjuncts;
    flatten_and(where, conjuncts);
    std::set<const PgQuery__SelectStmt*> semi_joins;
    for (const auto* q : conjuncts)
        if (const auto* sub = key_semi_join(q, scope)) semi_joins.insert(sub);
    std::optional<KeyType> key_type;
    if (!sharded.empty()) key_type = scope.rels[sharded.front()].cfg->key_type;
    // The sharded tables whose rows are accounted for (a handful: searched linearly).
    std::vector<const PgQuery__RangeVar*> covered;
    for (size_t i : sharded) covered.push_back(scope.rels[i].rv);
    auto is_covered = [&](const PgQuery__RangeVar* rv) {
        return std::find(covered.begin(), covered.end(), rv) != covered.end();
    };
    bool nested_sharded = false;
    for (const Rel& r : all) nested_sharded |= r.sharded() && !is_covered(r.rv);
    if (nested_sharded) place_nested(root, self, scope, semi_joins, all, ctx, key_type, a, covered);
    const Rel* unlisted = nullptr;
    const Rel* lead_rel = sharded.empty() ? nullptr : &scope.rels[sharded.front()];
    bool any_reference = false;
    for (const Rel& r : all) {
        if (!r.cfg && !unlisted) unlisted = &r;
        any_reference |= r.reference();
        if (!r.sharded()) continue;
        if (!lead_rel) lead_rel = &r;
        if (r.cfg->key_type != lead_rel->cfg->key_type) {
            refuse(a, "tables \"" + lead_rel->cfg->name + "\" (" +
                          to_string(lead_rel->cfg->key_type) + ") and \"" + r.cfg->name + "\" (" +
                          to_string(r.cfg->key_type) +
                          ") are sharded on different key types, so they are not co-located");
            return;
        }
        if (!is_covered(r.rv)) {
            refuse(
                a,
                "subquery or CTE reads sharded table \"" + r.cfg->name +
                    "\" without a shard-key condition of its own or a correlation on the shard key "
                    "with the outer query, so its rows are spread over several shards; restrict it "
                    "by its shard key or join it on the shard key in the main FROM clause instead");
            return;
        }
    }
    if (a.table.empty() && !all.empty()) {
        const Rel& first = lead_rel ? *lead_rel : all.front();
        a.table = qualified_name(*first.rv);
        if (first.cfg) a.table_config = *first.cfg;
    }
    if (!lead_rel) {
        a.placement = unlisted ? Placement::Unsharded
                               : (any_reference ? Placement::Reference : Placement::None);
        return;
    }
    const TableConfig& lead = *lead_rel->cfg;
    a.placement = Placement::Sharded;
    a.key_type = lead.key_type;
    if (unlisted) {
        refuse(a, "statement combines sharded table \"" + lead.name + "\" with table \"" +
                      qualified_name(*unlisted->rv) +
                      "\", which is not in [[tables]] and lives only on the default shard");
        return;
    }
    if (sharded.empty()) {  // only subqueries and CTE bodies read sharded tables
        a.nested_only = true;
        return;
    }
    for (const auto* q : scope.join_quals) flatten_and(q, join_conjuncts);
    for (const auto* q : join_conjuncts) read_conjunct(q, scope, a.key_type, a);  // links only
    std::optional<Candidate> best;
    for (const auto* q : conjuncts) {
        auto c = read_conjunct(q, scope, a.key_type, a);
        // Every conjunct alone bounds the rows to its keys, so the smallest one is exact.
        if (c && (!best || c->keys.size() < best->keys.size())) best = std::move(c);
    }
    std::vector<size_t> parent(scope.rels.size());
    std::iota(parent.begin(), parent.end(), 0);
    for (auto [l, r] : scope.links) parent[find_root(parent, l)] = find_root(parent, r);
    for (size_t i : sharded) {
        if (find_root(parent, i) != find_root(parent, sharded.front())) {
            refuse(a, "join of sharded tables \"" + lead.name + "\" and \"" +
                          scope.rels[i].cfg->name + "\" is not on their shard keys (" +
                          scope.rels[sharded.front()].ref_name + "." + lead.shard_key + " = " +
                          scope.rels[i].ref_name + "." + scope.rels[i].cfg->shard_key +
                          "); cross-shard joins are not supported");
            return;
        }
    }
    if (sharded.size() > 1) a.why.push_back("co-located join on the shard key");
    if (best) {
        a.keys = std::move(best->keys);
        a.why.push_back("WHERE " + best->describe);
    } else {
        a.why.push_back("no usable shard-key condition on \"" + lead.name + "\"");
    }
}

}  // namespace

bool selects_shard_key(const PgQuery__SelectStmt& s, const PgQuery__Node* expr,
                       const Context& ctx) {
    Scope scope;
    for (size_t i = 0; i < s.n_from_clause; ++i) add_from_item(s.from_clause[i], ctx, scope);
    forget_cte_names(scope, all_relations(&s.base, ctx.catalog));
    return key_column_rel(expr, scope) >= 0;
}

void analyze_select(const PgQuery__SelectStmt& s, const Context& ctx, Analysis& a) {
    a.kind = StatementKind::Select;
    a.simple_lookup = simple_lookup(s);
    if (std::string blocker = replica_blocker(s.base); blocker.empty()) {
        a.replica_safe = true;
    } else {
        a.why.push_back("runs on the primary, never a standby: " + blocker);
    }
    if (set_operation_name(s) && s.larg && s.rarg) {
        analyze_set_operation(s, ctx, a);
        return;
    }
    Scope scope;
    for (size_t i = 0; i < s.n_from_clause; ++i) add_from_item(s.from_clause[i], ctx, scope);
    place(scope, all_relations(&s.base, ctx.catalog), s.where_clause, &s.base, &s, ctx, a);
    a.fanout_blocker = fanout_blocker(s);
    if (!a.fanout_blocker.empty()) a.merge = merge_plan(s);
    if (s.into_clause) {
        a.is_write = true;
        if (a.placement == Placement::Sharded) {
            refuse(a, "SELECT INTO from sharded table \"" + a.table +
                          "\" is not supported; create the table and INSERT into it");
        }
    }
}

// UPDATE and DELETE start alike: their target is the statement's table and the scope's first
// relation.
static Scope write_target(StatementKind kind, const PgQuery__RangeVar& relation, bool returning,
                          const Context& ctx, Analysis& a) {
    a.kind = kind;
    a.is_write = true;
    a.returning = returning;
    Scope scope;
    scope.rels.push_back(make_rel(relation, ctx.catalog));
    a.table = qualified_name(relation);
    if (scope.rels[0].cfg) a.table_config = *scope.rels[0].cfg;
    return scope;
}

void analyze_update(const PgQuery__UpdateStmt& s, const Context& ctx, Analysis& a) {
    Scope scope = write_target(StatementKind::Update, *s.relation, s.n_returning_list > 0, ctx, a);
    for (size_t i = 0; i < s.n_from_clause; ++i) add_from_item(s.from_clause[i], ctx, scope);
    place(scope, all_relations(&s.base, ctx.catalog), s.where_clause, &s.base, nullptr, ctx, a);
    const Rel& target = scope.rels[0];
    if (target.reference() && a.placement != Placement::Reference) {
        refuse(a, "UPDATE of reference table \"" + a.table +
                      "\" reads tables that are not reference tables; every shard's copy must "
                      "stay identical");
    }
    if (!target.sharded()) return;
    for (size_t i = 0; i < s.n_target_list; ++i) {
        const auto* n = s.target_list[i];
        if (n->node_case != PG_QUERY__NODE__NODE_RES_TARGET) continue;
        const PgQuery__ResTarget& rt = *n->res_target;
        if (!rt.name || target.cfg->shard_key != rt.name) continue;
        auto self = column_name(rt.val);
        if (self && self->column == target.cfg->shard_key &&
            (self->relation.empty() || self->relation == target.ref_name)) {
            continue;  // SET key = key
        }
        KeyExpr k = key_expr(rt.val, target.cfg->key_type);
        if (k.kind == KeyExpr::Kind::Value || k.kind == KeyExpr::Kind::Param) {
            a.key_assignment = to_ref(std::move(k));
        } else {
            a.key_assignment_unusable = true;
        }
    }
}

void analyze_delete(const PgQuery__DeleteStmt& s, const Context& ctx, Analysis& a) {
    Scope scope = write_target(StatementKind::Delete, *s.relation, s.n_returning_list > 0, ctx, a);
    for (size_t i = 0; i < s.n_using_clause; ++i) add_from_item(s.using_clause[i], ctx, scope);
    place(scope, all_relations(&s.base, ctx.catalog), s.where_clause, &s.base, nullptr, ctx, a);
    if (scope.rels[0].reference() && a.placement != Placement::Reference) {
        refuse(a, "DELETE from reference table \"" + a.table +
                      "\" reads tables that are not reference tables; every shard's copy must "
                      "stay identical");
    }
}

}  // namespace sg::router::detail
