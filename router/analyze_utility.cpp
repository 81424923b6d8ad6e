// COPY, DDL and the other utility statements. Schema changes to sharded and reference tables
// run on every shard; those on unlisted tables on the default shard only.
#include <algorithm>

#include "router/analyze_internal.h"
#include "router/sql_nodes.h"

namespace sg::router::detail {
namespace {

std::string option_text(const PgQuery__DefElem& d) {
    if (!d.arg) return "";
    if (d.arg->node_case == PG_QUERY__NODE__NODE_STRING) return std::string(string_value(d.arg));
    if (d.arg->node_case == PG_QUERY__NODE__NODE_A_CONST) {
        return const_text(*d.arg->a_const).value_or("");
    }
    if (d.arg->node_case == PG_QUERY__NODE__NODE_BOOLEAN) {
        return d.arg->boolean->boolval ? "true" : "false";
    }
    if (d.arg->node_case == PG_QUERY__NODE__NODE_INTEGER) {
        return std::to_string(d.arg->integer->ival);
    }
    return "";
}

// COPY's options, with PostgreSQL's defaults for the chosen format.
CopyInfo read_copy_options(const PgQuery__CopyStmt& s, Analysis& a) {
    CopyInfo info;
    info.from_stdin = s.is_from;
    bool delimiter_set = false, null_set = false, escape_set = false;
    for (size_t i = 0; i < s.n_options; ++i) {
        if (s.options[i]->node_case != PG_QUERY__NODE__NODE_DEF_ELEM) continue;
        const PgQuery__DefElem& d = *s.options[i]->def_elem;
        std::string_view name = d.defname ? d.defname : "";
        std::string value = option_text(d);
        if (name == "format") {
            if (value == "csv") info.format = CopyInfo::Format::Csv;
            if (value == "binary") info.format = CopyInfo::Format::Binary;
        } else if (name == "delimiter" && value.size() == 1) {
            info.delimiter = value[0];
            delimiter_set = true;
        } else if (name == "quote" && value.size() == 1) {
            info.quote = value[0];
        } else if (name == "escape" && value.size() == 1) {
            info.escape = value[0];
            escape_set = true;
        } else if (name == "null") {
            info.null_string = value;
            null_set = true;
        } else if (name == "header") {
            info.header = value != "false" && value != "0" && value != "off";
        } else if (name == "delimiter" || name == "quote" || name == "escape") {
            refuse(a, "COPY " + std::string(name) + " must be a single one-byte character",
                   sqlstate::kInvalidParameterValue);
        }
    }
    if (info.format == CopyInfo::Format::Csv) {
        if (!delimiter_set) info.delimiter = ',';
        if (!null_set) info.null_string = "";
        if (!escape_set) info.escape = info.quote;
    }
    return info;
}

void analyze_copy_query(const PgQuery__CopyStmt& s, const Context& ctx, Analysis& a) {
    // COPY (query) TO STDOUT: placed like the query, read-only.
    Analysis inner;
    inner.stmt_begin = a.stmt_begin;
    inner.stmt_end = a.stmt_end;
    analyze_node(*s.query, ctx, inner);
    a.placement = inner.placement;
    a.table = inner.table;
    a.table_config = inner.table_config;
    a.key_type = inner.key_type;
    a.keys = std::move(inner.keys);
    a.refusal = std::move(inner.refusal);
    a.why = std::move(inner.why);
    a.fanout_blocker = inner.fanout_blocker.empty() ? "" : "COPY of " + inner.fanout_blocker;
}

bool is_ddl(PgQuery__Node__NodeCase c) {
    switch (c) {
        case PG_QUERY__NODE__NODE_CREATE_STMT:
        case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT:
        case PG_QUERY__NODE__NODE_DROP_STMT:
        case PG_QUERY__NODE__NODE_INDEX_STMT:
        case PG_QUERY__NODE__NODE_TRUNCATE_STMT:
        case PG_QUERY__NODE__NODE_RENAME_STMT:
        case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT:
        case PG_QUERY__NODE__NODE_VIEW_STMT:
        case PG_QUERY__NODE__NODE_CREATE_SEQ_STMT:
        case PG_QUERY__NODE__NODE_ALTER_SEQ_STMT:
        case PG_QUERY__NODE__NODE_CREATE_SCHEMA_STMT:
        case PG_QUERY__NODE__NODE_CREATE_FUNCTION_STMT:
        case PG_QUERY__NODE__NODE_ALTER_FUNCTION_STMT:
        case PG_QUERY__NODE__NODE_CREATE_EXTENSION_STMT:
        case PG_QUERY__NODE__NODE_ALTER_EXTENSION_STMT:
        case PG_QUERY__NODE__NODE_COMMENT_STMT:
        case PG_QUERY__NODE__NODE_GRANT_STMT:
        case PG_QUERY__NODE__NODE_CREATE_ENUM_STMT:
        case PG_QUERY__NODE__NODE_ALTER_ENUM_STMT:
        case PG_QUERY__NODE__NODE_COMPOSITE_TYPE_STMT:
        case PG_QUERY__NODE__NODE_DEFINE_STMT:
        case PG_QUERY__NODE__NODE_CREATE_DOMAIN_STMT:
        case PG_QUERY__NODE__NODE_ALTER_DOMAIN_STMT:
        case PG_QUERY__NODE__NODE_ALTER_OWNER_STMT:
        case PG_QUERY__NODE__NODE_ALTER_OBJECT_SCHEMA_STMT:
        case PG_QUERY__NODE__NODE_CREATE_TRIG_STMT:
        case PG_QUERY__NODE__NODE_RULE_STMT:
        case PG_QUERY__NODE__NODE_CREATE_POLICY_STMT:
        case PG_QUERY__NODE__NODE_ALTER_POLICY_STMT:
        case PG_QUERY__NODE__NODE_CREATE_STATS_STMT:
        case PG_QUERY__NODE__NODE_CREATE_RANGE_STMT:
        case PG_QUERY__NODE__NODE_ALTER_DEFAULT_PRIVILEGES_STMT:
            return true;
        default:
            return false;
    }
}

// Tables DROP TABLE / DROP VIEW ... names (they are name lists, not RangeVars).
void add_dropped_tables(const PgQuery__DropStmt& d, const Context& ctx,
                        std::vector<std::string>& names, std::vector<const TableConfig*>& cfgs) {
    if (d.remove_type != PG_QUERY__OBJECT_TYPE__OBJECT_TABLE &&
        d.remove_type != PG_QUERY__OBJECT_TYPE__OBJECT_FOREIGN_TABLE) {
        return;
    }
    for (size_t i = 0; i < d.n_objects; ++i) {
        auto parts = name_list(d.objects[i]);
        if (parts.empty()) continue;
        std::string_view schema = parts.size() >= 2 ? parts[parts.size() - 2] : "";
        std::string name(schema.empty() ? "" : std::string(schema) + ".");
        name += parts.back();
        names.push_back(name);
        cfgs.push_back(ctx.catalog.find(schema, parts.back()));
    }
}

// The table COMMENT ON TABLE / VIEW / COLUMN / SEQUENCE ... names (a name list, not a
// RangeVar): the comment goes where that relation lives (an unlisted one: the default shard
// only; sent to every shard it fails with 42P01 on those without it).
void add_commented_table(const PgQuery__CommentStmt& c, const Context& ctx,
                         std::vector<std::string>& names, std::vector<const TableConfig*>& cfgs) {
    const bool column = c.objtype == PG_QUERY__OBJECT_TYPE__OBJECT_COLUMN;
    if (!column && c.objtype != PG_QUERY__OBJECT_TYPE__OBJECT_TABLE &&
        c.objtype != PG_QUERY__OBJECT_TYPE__OBJECT_VIEW &&
        c.objtype != PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW &&
        c.objtype != PG_QUERY__OBJECT_TYPE__OBJECT_FOREIGN_TABLE &&
        c.objtype != PG_QUERY__OBJECT_TYPE__OBJECT_SEQUENCE)
        return;
    auto parts = name_list(c.object);
    if (column && !parts.empty()) parts.pop_back();  // [schema.]table.column
    if (parts.empty() || parts.size() > 2) return;
    std::string_view schema = parts.size() == 2 ? parts[0] : "";
    names.push_back((schema.empty() ? "" : std::string(schema) + ".") + std::string(parts.back()));
    cfgs.push_back(ctx.catalog.find(schema, parts.back()));
}

// The query body of CREATE TABLE AS / CREATE VIEW, whose rows would come from one shard only.
const PgQuery__Node* defining_query(const PgQuery__Node& stmt) {
    if (stmt.node_case == PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT) {
        return stmt.create_table_as_stmt->query;
    }
    if (stmt.node_case == PG_QUERY__NODE__NODE_VIEW_STMT) return stmt.view_stmt->query;
    return nullptr;
}

}  // namespace

void analyze_copy(const PgQuery__CopyStmt& s, const Context& ctx, Analysis& a) {
    a.kind = StatementKind::Copy;
    a.copy = read_copy_options(s, a);
    if (!s.relation) {
        analyze_copy_query(s, ctx, a);
        return;
    }
    Rel r = make_rel(*s.relation, ctx.catalog);
    a.table = qualified_name(*s.relation);
    a.is_write = s.is_from;
    if (r.cfg) a.table_config = *r.cfg;
    bool server_file = (s.filename && *s.filename) || s.is_program;  // protobuf-c: "" when absent
    if (!r.cfg) {
        a.placement = Placement::Unsharded;
        return;
    }
    if (server_file) {
        refuse(a, "COPY of " + std::string(r.sharded() ? "sharded" : "reference") + " table \"" +
                      a.table +
                      "\" with a server-side file or program is not supported; use "
                      "COPY ... FROM STDIN / TO STDOUT");
        return;
    }
    if (r.reference()) {
        a.placement = Placement::Reference;
        return;
    }
    a.placement = Placement::Sharded;
    a.key_type = r.cfg->key_type;
    a.copy->column_count = static_cast<int>(s.n_attlist);
    if (!s.is_from) {
        if (a.copy->header) a.fanout_blocker = "COPY TO with HEADER";
        a.why.push_back("COPY TO reads every shard");
        return;
    }
    // Binary data is split by router/copy_split_binary.h, text and CSV by copy_split.h.
    for (size_t i = 0; i < s.n_attlist; ++i) {
        if (string_value(s.attlist[i]) == r.cfg->shard_key)
            a.copy->key_column = static_cast<int>(i);
    }
    if (a.copy->key_column < 0 && s.n_attlist == 0) {
        // All the table's columns, in its order: refused as analysed, but the proxy can read
        // them from the catalog, write them in and analyse the rewritten text (as for INSERT).
        refuse(a, "COPY into sharded table \"" + a.table +
                      "\" without a column list: the router needs "
                      "the table's columns to find shard key \"" +
                      r.cfg->shard_key + "\"");
        a.column_list_at =
            column_list_position(ctx, a, s.relation->location, PG_QUERY__TOKEN__FROM);
        return;
    }
    if (a.copy->key_column < 0) {
        refuse(a, "COPY into sharded table \"" + a.table + "\" must list its shard key \"" +
                      r.cfg->shard_key + "\" among its columns");
        return;
    }
    a.why.push_back("COPY rows split by column " + std::to_string(a.copy->key_column + 1) + " (" +
                    r.cfg->shard_key + ")");
}

void analyze_utility(const PgQuery__Node& stmt, const Context& ctx, Analysis& a) {
    bool ddl = is_ddl(stmt.node_case);
    a.kind = ddl ? StatementKind::Ddl : StatementKind::Utility;
    a.is_write = ddl;
    std::vector<std::string> names;
    std::vector<const TableConfig*> cfgs;
    for (const Rel& r : all_relations(&stmt.base, ctx.catalog)) {
        names.push_back(qualified_name(*r.rv));
        cfgs.push_back(r.cfg);
    }
    if (stmt.node_case == PG_QUERY__NODE__NODE_DROP_STMT) {
        add_dropped_tables(*stmt.drop_stmt, ctx, names, cfgs);
    }
    if (stmt.node_case == PG_QUERY__NODE__NODE_COMMENT_STMT)
        add_commented_table(*stmt.comment_stmt, ctx, names, cfgs);
    if (const PgQuery__Node* q = defining_query(stmt)) {
        for (const Rel& r : all_relations(&q->base, ctx.catalog)) {
            if (r.cfg) {
                refuse(a, "CREATE TABLE AS / CREATE VIEW over " +
                              std::string(r.sharded() ? "sharded" : "reference") + " table \"" +
                              r.cfg->name + "\" is not supported: its rows cannot be routed");
                return;
            }
        }
    }
    auto distributed =
        std::find_if(cfgs.begin(), cfgs.end(), [](const TableConfig* c) { return c; });
    if (!names.empty()) a.table = names.front();
    if (distributed != cfgs.end() && ddl) check_table_ddl(stmt, ctx, a);
    // Sequences are unlisted objects: they live on the default shard, where CREATE SEQUENCE
    // (naming no [[tables]] table) goes, and so does their DROP.
    const bool drops_sequences =
        stmt.node_case == PG_QUERY__NODE__NODE_DROP_STMT &&
        stmt.drop_stmt->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_SEQUENCE;
    if (drops_sequences) {
        a.placement = Placement::Unsharded;
        a.why.push_back("DROP SEQUENCE: sequences live on the default shard");
        return;
    }
    if (distributed != cfgs.end()) {
        a.table = names[distributed - cfgs.begin()];
        a.table_config = **distributed;
        a.placement = Placement::AllShards;
        a.why.push_back(std::string(ddl ? "DDL" : "utility statement") + " on " +
                        to_string((*distributed)->kind) + " table \"" + a.table +
                        "\" runs on every shard");
    } else if (!names.empty()) {
        a.placement = Placement::Unsharded;
        a.why.push_back("\"" + names.front() + "\" is not in [[tables]]: default shard");
    } else if (ddl) {
        // Schema objects not tied to a table (types, functions, schemas, extensions, indexes
        // dropped by name) must exist identically on every shard.
        a.placement = Placement::AllShards;
        a.why.push_back("schema object DDL runs on every shard");
    } else {
        a.placement = Placement::None;
    }
}

}  // namespace sg::router::detail
