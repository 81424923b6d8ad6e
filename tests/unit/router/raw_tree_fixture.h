// What the raw tree tests share: an arena for the converter, libpg_query's own result for a
// statement, and a field-by-field comparison of two trees.
#pragma once

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace sg::router::testing {

// Owns what the converter allocates for one test.
class TestArena {
public:
    TestArena() : allocator_{&alloc_cb, &free_cb, this} {}
    ProtobufCAllocator& allocator() { return allocator_; }

private:
    static void* alloc_cb(void* self, size_t n) {
        constexpr size_t kUnit = sizeof(std::max_align_t);
        auto& blocks = static_cast<TestArena*>(self)->blocks_;
        blocks.push_back(std::make_unique<std::max_align_t[]>((n + kUnit - 1) / kUnit));
        return blocks.back().get();
    }
    static void free_cb(void*, void*) {}

    std::vector<std::unique_ptr<std::max_align_t[]>> blocks_;
    ProtobufCAllocator allocator_;
};

inline std::string pack(const PgQuery__ParseResult& tree) {
    std::string bytes(pg_query__parse_result__get_packed_size(&tree), '\0');
    pg_query__parse_result__pack(&tree, reinterpret_cast<uint8_t*>(bytes.data()));
    return bytes;
}

// What libpg_query's own path gives: the packed tree or the error.
struct Reference {
    std::string bytes;
    bool error = false;
    std::string message;
    int cursor_pos = 0;
};

inline Reference reference(const std::string& sql) {
    PgQueryProtobufParseResult r = pg_query_parse_protobuf(sql.c_str());
    Reference out;
    if (r.error) {
        out.error = true;
        out.message = r.error->message ? r.error->message : "";
        out.cursor_pos = r.error->cursorpos;
    } else {
        out.bytes.assign(r.parse_tree.data, r.parse_tree.len);
    }
    pg_query_free_protobuf_parse_result(r);
    return out;
}

template <class T>
const T& member(const ProtobufCMessage* m, unsigned offset) {
    return *reinterpret_cast<const T*>(reinterpret_cast<const char*>(m) + offset);
}

inline std::string same_message(const ProtobufCMessage* a, const ProtobufCMessage* b,
                                const std::string& path);

inline size_t value_size(const ProtobufCFieldDescriptor& f) {
    switch (f.type) {
        case PROTOBUF_C_TYPE_STRING:
        case PROTOBUF_C_TYPE_MESSAGE:
            return sizeof(void*);
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
        case PROTOBUF_C_TYPE_DOUBLE:
            return 8;
        case PROTOBUF_C_TYPE_BYTES:
            return sizeof(ProtobufCBinaryData);
        default:  // 32-bit integers, enums, floats and protobuf_c_boolean
            return 4;
    }
}

// One field of two messages of the same type: "" when they match, else where they differ.
// Stricter than comparing packed bytes: a string must be non-null (unpacking never leaves
// one null) and an empty repeated field must be a null array, as unpacking leaves them.
inline std::string same_value(const ProtobufCFieldDescriptor& f, const void* a, const void* b,
                              const std::string& path) {
    switch (f.type) {
        case PROTOBUF_C_TYPE_STRING: {
            const char* sa = *static_cast<const char* const*>(a);
            const char* sb = *static_cast<const char* const*>(b);
            if (sa == nullptr || sb == nullptr) return path + ": null string";
            return std::strcmp(sa, sb) == 0 ? "" : path + ": \"" + sa + "\" vs \"" + sb + "\"";
        }
        case PROTOBUF_C_TYPE_MESSAGE:
            return same_message(*static_cast<const ProtobufCMessage* const*>(a),
                                *static_cast<const ProtobufCMessage* const*>(b), path);
        case PROTOBUF_C_TYPE_BYTES:
            return path + ": bytes field (none expected)";
        default:  // scalars
            return std::memcmp(a, b, value_size(f)) == 0 ? "" : path + ": values differ";
    }
}

inline std::string same_message(const ProtobufCMessage* a, const ProtobufCMessage* b,
                                const std::string& path) {
    if (a == nullptr || b == nullptr) return a == b ? "" : path + ": null vs non-null message";
    if (a->descriptor != b->descriptor) return path + ": different message types";
    if (a->n_unknown_fields != 0 || b->n_unknown_fields != 0) return path + ": unknown fields";
    const ProtobufCMessageDescriptor* d = a->descriptor;
    for (unsigned i = 0; i < d->n_fields; ++i) {
        const ProtobufCFieldDescriptor& f = d->fields[i];
        const std::string where = path + "." + f.name;
        if (f.label == PROTOBUF_C_LABEL_REPEATED) {
            size_t na = member<size_t>(a, f.quantifier_offset);
            size_t nb = member<size_t>(b, f.quantifier_offset);
            if (na != nb) return where + ": " + std::to_string(na) + " vs " + std::to_string(nb);
            const char* ia = member<const char*>(a, f.offset);
            const char* ib = member<const char*>(b, f.offset);
            if ((na == 0) != (ia == nullptr) || (nb == 0) != (ib == nullptr)) {
                return where + ": empty repeated field with an array (or the reverse)";
            }
            for (size_t k = 0; k < na; ++k) {
                std::string diff = same_value(f, ia + k * value_size(f), ib + k * value_size(f),
                                              where + "[" + std::to_string(k) + "]");
                if (!diff.empty()) return diff;
            }
            continue;
        }
        if (f.flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t ca = member<uint32_t>(a, f.quantifier_offset);
            uint32_t cb = member<uint32_t>(b, f.quantifier_offset);
            if (ca != cb)
                return where + ": oneof case " + std::to_string(ca) + " vs " + std::to_string(cb);
            if (ca != f.id) continue;
        } else if (f.label != PROTOBUF_C_LABEL_NONE) {
            return where + ": field with presence (none expected in proto3)";
        }
        std::string diff = same_value(f, reinterpret_cast<const char*>(a) + f.offset,
                                      reinterpret_cast<const char*>(b) + f.offset, where);
        if (!diff.empty()) return diff;
    }
    return "";
}

// The unpacked reference tree against the converted one, field by field.
inline std::string same_tree(const std::string& bytes, const PgQuery__ParseResult& converted) {
    PgQuery__ParseResult* unpacked = pg_query__parse_result__unpack(
        nullptr, bytes.size(), reinterpret_cast<const uint8_t*>(bytes.data()));
    if (unpacked == nullptr) return "reference does not unpack";
    std::string diff = same_message(&unpacked->base, &converted.base, "ParseResult");
    pg_query__parse_result__free_unpacked(unpacked, nullptr);
    return diff;
}

}  // namespace sg::router::testing
