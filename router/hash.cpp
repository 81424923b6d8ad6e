#include "router/hash.h"

#include <limits>

// libpg_query.so exports its own XXH* symbols; inlining keeps our hash independent of link
// order (architecture.md). This must stay the only file that includes xxhash.h.
#define XXH_INLINE_ALL
#include <xxhash.h>

namespace sg::router {
namespace {

const char* pg_type_name(KeyType t) {
    switch (t) {
        case KeyType::SmallInt:
            return "smallint";
        case KeyType::Integer:
            return "integer";
        case KeyType::BigInt:
            return "bigint";
        case KeyType::Text:
            return "text";
        case KeyType::Varchar:
            return "character varying";
        case KeyType::Uuid:
            return "uuid";
    }
    return "unknown";
}

Error invalid_syntax(KeyType t, std::string_view text) {
    return Error{sqlstate::kInvalidTextRepresentation,
                 std::string("invalid input syntax for type ") + pg_type_name(t) + ": \"" +
                     std::string(text) + "\""};
}

Error out_of_range(KeyType t, std::string_view text) {
    return Error{sqlstate::kNumericValueOutOfRange,
                 "value \"" + std::string(text) + "\" is out of range for type " + pg_type_name(t)};
}

bool in_range(KeyType t, int64_t v) {
    switch (t) {
        case KeyType::SmallInt:
            return v >= std::numeric_limits<int16_t>::min() &&
                   v <= std::numeric_limits<int16_t>::max();
        case KeyType::Integer:
            return v >= std::numeric_limits<int32_t>::min() &&
                   v <= std::numeric_limits<int32_t>::max();
        default:
            return true;
    }
}

Key int_key(int64_t v) {
    Key k;
    k.bytes.resize(8);
    auto u = static_cast<uint64_t>(v);
    for (int i = 0; i < 8; ++i) k.bytes[i] = static_cast<char>((u >> (8 * i)) & 0xff);
    return k;
}

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

Expected<int64_t> int_value_from_text(KeyType t, std::string_view text) {
    std::string_view s = text;
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    bool negative = false;
    if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
        negative = s.front() == '-';
        s.remove_prefix(1);
    }
    if (s.empty() || s.front() < '0' || s.front() > '9') return invalid_syntax(t, text);
    // Accumulate as a negative number so INT64_MIN parses without overflow.
    int64_t acc = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return invalid_syntax(t, text);
        int digit = c - '0';
        if (acc < (std::numeric_limits<int64_t>::min() + digit) / 10) return out_of_range(t, text);
        acc = acc * 10 - digit;
    }
    if (!negative) {
        if (acc == std::numeric_limits<int64_t>::min()) return out_of_range(t, text);
        acc = -acc;
    }
    if (!in_range(t, acc)) return out_of_range(t, text);
    return acc;
}

Expected<Key> int_from_text(KeyType t, std::string_view text) {
    auto v = int_value_from_text(t, text);
    if (!v) return v.error();
    return int_key(*v);
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// PostgreSQL's uuid_in: optional braces around 32 hex digits; a hyphen may follow any group
// of four digits except the last.
Expected<Key> uuid_from_text(std::string_view text) {
    std::string_view s = text;
    bool braces = !s.empty() && s.front() == '{';
    if (braces) {
        if (s.size() < 2 || s.back() != '}') return invalid_syntax(KeyType::Uuid, text);
        s = s.substr(1, s.size() - 2);
    }
    Key k;
    k.bytes.resize(16);
    size_t pos = 0;
    for (int i = 0; i < 16; ++i) {
        if (pos + 2 > s.size()) return invalid_syntax(KeyType::Uuid, text);
        int hi = hex_value(s[pos]), lo = hex_value(s[pos + 1]);
        if (hi < 0 || lo < 0) return invalid_syntax(KeyType::Uuid, text);
        k.bytes[i] = static_cast<char>(hi << 4 | lo);
        pos += 2;
        if (i % 2 == 1 && i < 15 && pos < s.size() && s[pos] == '-') ++pos;
    }
    if (pos != s.size()) return invalid_syntax(KeyType::Uuid, text);
    return k;
}

int64_t read_be_signed(std::string_view b) {
    uint64_t u = 0;
    for (char c : b) u = (u << 8) | static_cast<uint8_t>(c);
    int shift = 64 - 8 * static_cast<int>(b.size());
    return static_cast<int64_t>(u << shift) >> shift;  // sign-extend from the wire width
}

}  // namespace

Expected<int64_t> bigint_value(ParamFormat f, std::string_view value) {
    if (f == ParamFormat::Text) return int_value_from_text(KeyType::BigInt, value);
    if (value.size() != 2 && value.size() != 4 && value.size() != 8) {
        return Error{sqlstate::kInvalidBinaryRepresentation,
                     "incorrect binary data format in bind parameter: " +
                         std::to_string(value.size()) + " bytes for an integer"};
    }
    return read_be_signed(value);
}

bool is_integer_key(KeyType t) {
    return t == KeyType::SmallInt || t == KeyType::Integer || t == KeyType::BigInt;
}

Expected<Key> canonical_int(KeyType t, int64_t v) {
    if (!is_integer_key(t)) return canonical_from_text(t, std::to_string(v));
    if (!in_range(t, v)) return out_of_range(t, std::to_string(v));
    return int_key(v);
}

Expected<Key> canonical_from_text(KeyType t, std::string_view text) {
    if (is_integer_key(t)) return int_from_text(t, text);
    if (t == KeyType::Uuid) return uuid_from_text(text);
    return Key{false, std::string(text)};
}

Expected<Key> canonical_from_binary(KeyType t, std::string_view bytes) {
    if (is_integer_key(t)) {
        if (bytes.size() != 2 && bytes.size() != 4 && bytes.size() != 8) {
            return Error{sqlstate::kInvalidBinaryRepresentation,
                         "incorrect binary data format in bind parameter: " +
                             std::to_string(bytes.size()) + " bytes for an integer shard key"};
        }
        return canonical_int(t, read_be_signed(bytes));
    }
    if (t == KeyType::Uuid) {
        if (bytes.size() != 16) {
            return Error{sqlstate::kInvalidBinaryRepresentation,
                         "incorrect binary data format in bind parameter: " +
                             std::to_string(bytes.size()) + " bytes for a uuid shard key"};
        }
        return Key{false, std::string(bytes)};
    }
    return Key{false, std::string(bytes)};  // text's binary send format is its bytes
}

uint64_t key_hash(std::string_view canonical_bytes) {
    return XXH3_64bits(canonical_bytes.data(), canonical_bytes.size());
}

std::string display_key(KeyType t, const Key& k) {
    if (k.null) return "NULL";
    if (is_integer_key(t) && k.bytes.size() == 8) {
        uint64_t u = 0;
        for (int i = 7; i >= 0; --i) u = (u << 8) | static_cast<uint8_t>(k.bytes[i]);
        return std::to_string(static_cast<int64_t>(u));
    }
    if (t == KeyType::Uuid && k.bytes.size() == 16) {
        static constexpr char kHex[] = "0123456789abcdef";
        std::string out;
        for (int i = 0; i < 16; ++i) {
            if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
            auto b = static_cast<uint8_t>(k.bytes[i]);
            out += kHex[b >> 4];
            out += kHex[b & 0xf];
        }
        return out;
    }
    return k.bytes;
}

}  // namespace sg::router
