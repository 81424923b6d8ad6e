// Nodes a rewrite of the client's parse tree adds (the merge planner's shard statement),
// owned by the factory; everything they do not replace still points into the client's tree.
#pragma once

#include <array>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "router/parser.h"

namespace sg::router::detail {

// The nodes a rewrite of the client's statement adds, owned here (deques keep their
// addresses); everything they do not replace still points into the client's tree.
class NodeFactory {
public:
    // A one-element list holding a String node.
    PgQuery__Node** name_list(std::string text) {
        PgQuery__String& str = strings_.emplace_back();
        str = PG_QUERY__STRING__INIT;
        str.sval = names_.emplace_back(std::move(text)).data();
        PgQuery__Node& n = node(PG_QUERY__NODE__NODE_STRING);
        n.string = &str;
        auto& list = lists_.emplace_back();
        list[0] = &n;
        return list.data();
    }
    // `name` AS the value: a target list entry.
    PgQuery__Node* target(std::string name, PgQuery__Node* val) {
        PgQuery__ResTarget& t = targets_.emplace_back();
        t = PG_QUERY__RES_TARGET__INIT;
        t.name = names_.emplace_back(std::move(name)).data();
        t.val = val;
        PgQuery__Node& n = node(PG_QUERY__NODE__NODE_RES_TARGET);
        n.res_target = &t;
        return &n;
    }
    PgQuery__Node* call(PgQuery__FuncCall* f) {
        PgQuery__Node& n = node(PG_QUERY__NODE__NODE_FUNC_CALL);
        n.func_call = f;
        return &n;
    }
    // The same call (arguments and all) of another function.
    PgQuery__Node* call_renamed(const PgQuery__FuncCall& like, const char* function) {
        PgQuery__FuncCall& f = calls_.emplace_back(like);
        f.n_funcname = 1;
        f.funcname = name_list(function);
        return call(&f);
    }
    // Turns `n` into a reference to the column `name`.
    void make_column_ref(PgQuery__Node& n, std::string name) {
        PgQuery__ColumnRef& ref = refs_.emplace_back();
        ref = PG_QUERY__COLUMN_REF__INIT;
        ref.n_fields = 1;
        ref.fields = name_list(std::move(name));
        n.node_case = PG_QUERY__NODE__NODE_COLUMN_REF;
        n.column_ref = &ref;
    }
    // `$number::pg_catalog.int8`: a LIMIT/OFFSET parameter as the bigint PostgreSQL takes it as.
    PgQuery__Node* bigint_param(uint32_t number) {
        PgQuery__ParamRef& p = params_.emplace_back();
        p = PG_QUERY__PARAM_REF__INIT;
        p.number = int32_t(number);
        PgQuery__Node& pn = node(PG_QUERY__NODE__NODE_PARAM_REF);
        pn.param_ref = &p;
        PgQuery__TypeName& t = type_names_.emplace_back();
        t = PG_QUERY__TYPE_NAME__INIT;
        auto& names = pairs_.emplace_back();
        names[0] = name_list("pg_catalog")[0];
        names[1] = name_list("int8")[0];
        t.n_names = 2;
        t.names = names.data();
        t.typemod = -1;
        PgQuery__TypeCast& c = casts_.emplace_back();
        c = PG_QUERY__TYPE_CAST__INIT;
        c.arg = &pn;
        c.type_name = &t;
        c.location = -1;
        PgQuery__Node& n = node(PG_QUERY__NODE__NODE_TYPE_CAST);
        n.type_cast = &c;
        return &n;
    }
    // `a + b`.
    PgQuery__Node* plus(PgQuery__Node* a, PgQuery__Node* b) {
        PgQuery__AExpr& e = exprs_.emplace_back();
        e = PG_QUERY__A__EXPR__INIT;
        e.kind = PG_QUERY__A__EXPR__KIND__AEXPR_OP;
        e.n_name = 1;
        e.name = name_list("+");
        e.lexpr = a;
        e.rexpr = b;
        e.location = -1;
        PgQuery__Node& n = node(PG_QUERY__NODE__NODE_A_EXPR);
        n.a_expr = &e;
        return &n;
    }
    PgQuery__Node* integer(int32_t v) {
        PgQuery__Integer& i = integers_.emplace_back();
        i = PG_QUERY__INTEGER__INIT;
        i.ival = v;
        PgQuery__AConst& c = consts_.emplace_back();
        c = PG_QUERY__A__CONST__INIT;
        c.val_case = PG_QUERY__A__CONST__VAL_IVAL;
        c.ival = &i;
        PgQuery__Node& n = node(PG_QUERY__NODE__NODE_A_CONST);
        n.a_const = &c;
        return &n;
    }

private:
    PgQuery__Node& node(PgQuery__Node__NodeCase kind) {
        PgQuery__Node& n = nodes_.emplace_back();
        n = PG_QUERY__NODE__INIT;
        n.node_case = kind;
        return n;
    }
    std::deque<std::string> names_;
    std::deque<PgQuery__String> strings_;
    std::deque<PgQuery__Node> nodes_;
    std::deque<std::array<PgQuery__Node*, 1>> lists_;
    std::deque<PgQuery__ResTarget> targets_;
    std::deque<PgQuery__FuncCall> calls_;
    std::deque<PgQuery__ColumnRef> refs_;
    std::deque<PgQuery__Integer> integers_;
    std::deque<PgQuery__AConst> consts_;
    std::deque<PgQuery__ParamRef> params_;
    std::deque<PgQuery__TypeName> type_names_;
    std::deque<PgQuery__TypeCast> casts_;
    std::deque<PgQuery__AExpr> exprs_;
    std::deque<std::array<PgQuery__Node*, 2>> pairs_;
};

}  // namespace sg::router::detail
