#include "router/sql_nodes.h"

namespace sg::router {
namespace {

template <class T>
const T* field_at(const ProtobufCMessage* m, unsigned offset) {
    return *reinterpret_cast<const T* const*>(reinterpret_cast<const char*>(m) + offset);
}

void walk_message(const ProtobufCMessage* m, const MessageVisitor& fn) {
    const ProtobufCMessageDescriptor* d = m->descriptor;
    if (d == &pg_query__node__descriptor) {
        // A Node is a oneof whose case number is the field number of its only member.
        const auto* node = reinterpret_cast<const PgQuery__Node*>(m);
        if (node->node_case == PG_QUERY__NODE__NODE__NOT_SET) return;
        const ProtobufCFieldDescriptor* f =
            protobuf_c_message_descriptor_get_field(d, static_cast<unsigned>(node->node_case));
        if (f == nullptr) return;
        if (const auto* child = field_at<ProtobufCMessage>(m, f->offset)) walk_message(child, fn);
        return;
    }
    if (!fn(*m)) return;
    const char* base = reinterpret_cast<const char*>(m);
    for (unsigned i = 0; i < d->n_fields; ++i) {
        const ProtobufCFieldDescriptor& f = d->fields[i];
        if (f.type != PROTOBUF_C_TYPE_MESSAGE) continue;
        if (f.label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *reinterpret_cast<const size_t*>(base + f.quantifier_offset);
            const auto* const* items = field_at<ProtobufCMessage*>(m, f.offset);
            for (size_t k = 0; k < n; ++k) {
                if (items[k]) walk_message(items[k], fn);
            }
            continue;
        }
        if ((f.flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *reinterpret_cast<const uint32_t*>(base + f.quantifier_offset) != f.id) {
            continue;
        }
        if (const auto* child = field_at<ProtobufCMessage>(m, f.offset)) walk_message(child, fn);
    }
}

void rewrite_message(ProtobufCMessage* m, const NodeRewriter& fn) {
    const ProtobufCMessageDescriptor* d = m->descriptor;
    if (d == &pg_query__node__descriptor) {
        auto* node = reinterpret_cast<PgQuery__Node*>(m);
        if (node->node_case == PG_QUERY__NODE__NODE__NOT_SET || !fn(*node)) return;
        const ProtobufCFieldDescriptor* f =
            protobuf_c_message_descriptor_get_field(d, static_cast<unsigned>(node->node_case));
        if (f == nullptr) return;
        if (auto* child =
                *reinterpret_cast<ProtobufCMessage**>(reinterpret_cast<char*>(m) + f->offset))
            rewrite_message(child, fn);
        return;
    }
    char* base = reinterpret_cast<char*>(m);
    for (unsigned i = 0; i < d->n_fields; ++i) {
        const ProtobufCFieldDescriptor& f = d->fields[i];
        if (f.type != PROTOBUF_C_TYPE_MESSAGE) continue;
        if (f.label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *reinterpret_cast<const size_t*>(base + f.quantifier_offset);
            auto** items = *reinterpret_cast<ProtobufCMessage***>(base + f.offset);
            for (size_t k = 0; k < n; ++k)
                if (items[k]) rewrite_message(items[k], fn);
            continue;
        }
        if ((f.flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *reinterpret_cast<const uint32_t*>(base + f.quantifier_offset) != f.id)
            continue;
        if (auto* child = *reinterpret_cast<ProtobufCMessage**>(base + f.offset))
            rewrite_message(child, fn);
    }
}

bool in_family(KeyType key, std::string_view type) {
    if (is_integer_key(key)) {
        return type == "int2" || type == "int4" || type == "int8" || type == "smallint" ||
               type == "integer" || type == "bigint" || type == "int";
    }
    if (key == KeyType::Uuid) return type == "uuid";
    return type == "text" || type == "varchar";
}

// The key type a cast in the key's family names (`int2` -> SmallInt, `varchar` -> Varchar).
KeyType cast_key_type(std::string_view type, KeyType key) {
    if (type == "int2" || type == "smallint") return KeyType::SmallInt;
    if (type == "int4" || type == "integer" || type == "int") return KeyType::Integer;
    if (type == "int8" || type == "bigint") return KeyType::BigInt;
    if (type == "varchar") return KeyType::Varchar;
    if (type == "text") return KeyType::Text;
    return key;  // uuid
}

// A cast keeps the key usable only when it converts to the key's own type family without
// changing the value (varchar(n) may truncate, so a length modifier disqualifies it).
bool value_preserving_cast(const PgQuery__TypeCast& c, KeyType key) {
    const PgQuery__TypeName* tn = c.type_name;
    if (tn == nullptr || tn->n_names == 0 || tn->n_array_bounds > 0 || tn->n_typmods > 0) {
        return false;
    }
    return in_family(key, string_value(tn->names[tn->n_names - 1]));
}

}  // namespace

bool value_preserving_array_cast(const PgQuery__TypeCast& c, KeyType key) {
    const PgQuery__TypeName* tn = c.type_name;
    if (tn == nullptr || tn->n_names == 0 || tn->n_array_bounds != 1 || tn->n_typmods > 0)
        return false;
    const std::string_view type = string_value(tn->names[tn->n_names - 1]);
    if (!in_family(key, type)) return false;
    if (!is_integer_key(key)) return true;
    // The elements are read as the key's type: a wider element type would hold values the key
    // type cannot, which PostgreSQL compares (matching nothing) instead of rejecting.
    auto width = [](std::string_view t) {
        return t == "int2" || t == "smallint" ? 2 : t == "int8" || t == "bigint" ? 8 : 4;
    };
    const int key_width = key == KeyType::SmallInt ? 2 : key == KeyType::Integer ? 4 : 8;
    return width(type) <= key_width;
}

namespace {

KeyExpr unusable() {
    return KeyExpr{};
}

}  // namespace

void walk(const ProtobufCMessage* root, const MessageVisitor& fn) {
    if (root) walk_message(root, fn);
}

void rewrite_nodes(ProtobufCMessage* root, const NodeRewriter& fn) {
    if (root) rewrite_message(root, fn);
}

std::string sql_string_literal(std::string_view v) {
    const bool escape = v.find('\\') != std::string_view::npos;
    std::string out = escape ? "E'" : "'";
    for (char c : v) {
        if (c == '\'' || (escape && c == '\\')) out += c;
        out += c;
    }
    out += '\'';
    return out;
}

std::string_view string_value(const PgQuery__Node* n) {
    if (n && n->node_case == PG_QUERY__NODE__NODE_STRING && n->string && n->string->sval) {
        return n->string->sval;
    }
    return {};
}

std::string qualified_name(const PgQuery__RangeVar& rv) {
    std::string out;
    if (rv.schemaname && *rv.schemaname) {
        out = rv.schemaname;
        out += '.';
    }
    out += rv.relname ? rv.relname : "";
    return out;
}

std::vector<std::string_view> name_list(const PgQuery__Node* list_node) {
    std::vector<std::string_view> out;
    if (!list_node || list_node->node_case != PG_QUERY__NODE__NODE_LIST) return out;
    for (size_t i = 0; i < list_node->list->n_items; ++i) {
        out.push_back(string_value(list_node->list->items[i]));
    }
    return out;
}

std::string_view operator_name(const PgQuery__AExpr& e) {
    return e.n_name == 1 ? string_value(e.name[0]) : std::string_view{};
}

void flatten_and(const PgQuery__Node* expr, std::vector<const PgQuery__Node*>& out) {
    if (!expr) return;
    if (expr->node_case == PG_QUERY__NODE__NODE_BOOL_EXPR &&
        expr->bool_expr->boolop == PG_QUERY__BOOL_EXPR_TYPE__AND_EXPR) {
        for (size_t i = 0; i < expr->bool_expr->n_args; ++i) {
            flatten_and(expr->bool_expr->args[i], out);
        }
        return;
    }
    out.push_back(expr);
}

std::optional<ColumnName> column_name(const PgQuery__Node* n) {
    if (!n || n->node_case != PG_QUERY__NODE__NODE_COLUMN_REF) return std::nullopt;
    const PgQuery__ColumnRef& c = *n->column_ref;
    if (c.n_fields == 0 || c.n_fields > 3) return std::nullopt;
    ColumnName out;
    out.column = string_value(c.fields[c.n_fields - 1]);
    if (out.column.empty()) return std::nullopt;  // `*`
    if (c.n_fields >= 2) out.relation = string_value(c.fields[c.n_fields - 2]);
    if (c.n_fields == 3) out.schema = string_value(c.fields[0]);
    return out;
}

std::optional<std::string> const_text(const PgQuery__AConst& c) {
    switch (c.val_case) {
        case PG_QUERY__A__CONST__VAL_IVAL:
            return std::to_string(c.ival->ival);
        case PG_QUERY__A__CONST__VAL_FVAL:
            return std::string(c.fval->fval);
        case PG_QUERY__A__CONST__VAL_SVAL:
            return std::string(c.sval->sval);
        case PG_QUERY__A__CONST__VAL_BOOLVAL:
            return c.boolval->boolval ? "true" : "false";
        default:
            return std::nullopt;
    }
}

KeyExpr key_expr(const PgQuery__Node* expr, KeyType t) {
    if (!expr) return unusable();
    switch (expr->node_case) {
        case PG_QUERY__NODE__NODE_PARAM_REF: {
            KeyExpr k;
            k.kind = KeyExpr::Kind::Param;
            k.param = expr->param_ref->number;
            k.text = "$" + std::to_string(k.param);
            return k;
        }
        case PG_QUERY__NODE__NODE_TYPE_CAST: {
            if (!value_preserving_cast(*expr->type_cast, t)) return unusable();
            KeyExpr inner = key_expr(expr->type_cast->arg, t);
            if (inner.kind != KeyExpr::Kind::Param) return inner;
            // `$1::bigint::integer`: chains of conversions are left to the shards.
            if (inner.cast) return unusable();
            const PgQuery__TypeName& tn = *expr->type_cast->type_name;
            inner.cast = cast_key_type(string_value(tn.names[tn.n_names - 1]), t);
            return inner;
        }
        case PG_QUERY__NODE__NODE_A_CONST:
            break;
        default:
            return unusable();
    }
    const PgQuery__AConst& c = *expr->a_const;
    KeyExpr k;
    if (c.isnull) {
        k.kind = KeyExpr::Kind::Value;
        k.value = Key::null_key();
        k.text = "NULL";
        return k;
    }
    Expected<Key> key = Error{};
    switch (c.val_case) {
        case PG_QUERY__A__CONST__VAL_IVAL:
        case PG_QUERY__A__CONST__VAL_FVAL:
            // A number compared with a column of another numeric type never errors.
            if (!is_integer_key(t)) return unusable();
            key = c.val_case == PG_QUERY__A__CONST__VAL_IVAL ? canonical_int(t, c.ival->ival)
                                                             : canonical_from_text(t, c.fval->fval);
            if (!key) return unusable();
            k.text = *const_text(c);
            break;
        case PG_QUERY__A__CONST__VAL_SVAL:
            key = canonical_from_text(t, c.sval->sval);
            k.text = std::string("'") + c.sval->sval + "'";
            if (!key) {
                k.kind = KeyExpr::Kind::Invalid;
                k.error = key.error();
                return k;
            }
            break;
        default:
            return unusable();
    }
    k.kind = KeyExpr::Kind::Value;
    k.value = std::move(key.value());
    return k;
}

}  // namespace sg::router
