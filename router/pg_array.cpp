#include "router/pg_array.h"

#include <algorithm>
#include <string>

namespace sg::router {
namespace {

Error malformed(std::string_view text, const std::string& detail) {
    return Error{sqlstate::kInvalidTextRepresentation,
                 "malformed array literal: \"" + std::string(text) + "\" (" + detail + ")"};
}

Error bad_binary(const std::string& detail) {
    return Error{sqlstate::kInvalidBinaryRepresentation,
                 "incorrect binary data format in array bind parameter: " + detail};
}

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool read_be32(std::string_view& in, int32_t& out) {
    if (in.size() < 4) return false;
    uint32_t u = 0;
    for (int i = 0; i < 4; ++i) u = (u << 8) | static_cast<uint8_t>(in[i]);
    out = static_cast<int32_t>(u);
    in.remove_prefix(4);
    return true;
}

}  // namespace

bool is_multidimensional_text_array(std::string_view text) {
    size_t i = 0;
    while (i < text.size() && is_space(text[i])) ++i;
    if (i < text.size() && text[i] == '[') {  // bounds: one "[lo:hi]" per dimension
        auto eq = text.find('=', i);
        std::string_view bounds =
            text.substr(i, eq == std::string_view::npos ? std::string_view::npos : eq - i);
        if (std::count(bounds.begin(), bounds.end(), '[') > 1) return true;
        if (eq == std::string_view::npos) return false;
        i = eq + 1;
    }
    while (i < text.size() && is_space(text[i])) ++i;
    if (i >= text.size() || text[i] != '{') return false;
    ++i;
    while (i < text.size() && is_space(text[i])) ++i;
    return i < text.size() && text[i] == '{';
}

bool is_multidimensional_binary_array(std::string_view bytes) {
    int32_t ndim = 0;
    return read_be32(bytes, ndim) && ndim > 1;
}

Expected<std::vector<Key>> parse_text_array(KeyType t, std::string_view text) {
    std::string_view s = text;
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    if (!s.empty() && s.front() == '[') {  // explicit bounds: "[1:3]={...}"
        auto eq = s.find('=');
        if (eq == std::string_view::npos) return malformed(text, "bounds without \"=\"");
        s.remove_prefix(eq + 1);
    }
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    if (s.size() < 2 || s.front() != '{' || s.back() != '}') {
        return malformed(text, "array value must start with \"{\"");
    }
    s = s.substr(1, s.size() - 2);
    std::vector<Key> keys;
    size_t i = 0;
    while (true) {
        while (i < s.size() && is_space(s[i])) ++i;
        if (i == s.size()) {
            if (keys.empty()) return keys;  // "{}"
            return malformed(text, "unexpected end of input");
        }
        if (s[i] == '{') return malformed(text, "multidimensional arrays are not shard keys");
        std::string element;
        bool quoted = s[i] == '"';
        if (quoted) {
            ++i;
            while (i < s.size() && s[i] != '"') {
                if (s[i] == '\\' && i + 1 < s.size()) ++i;
                element += s[i++];
            }
            if (i == s.size()) return malformed(text, "unterminated quoted element");
            ++i;
        } else {
            while (i < s.size() && s[i] != ',') {
                if (s[i] == '\\' && i + 1 < s.size()) ++i;
                element += s[i++];
            }
            while (!element.empty() && is_space(element.back())) element.pop_back();
        }
        if (!quoted && (element == "NULL" || element == "null" || element == "Null")) {
            keys.push_back(Key::null_key());
        } else {
            auto key = canonical_from_text(t, element);
            if (!key) return key.error();
            keys.push_back(std::move(key.value()));
        }
        while (i < s.size() && is_space(s[i])) ++i;
        if (i == s.size()) return keys;
        if (s[i] != ',') return malformed(text, "expected \",\"");
        ++i;
    }
}

Expected<std::vector<Key>> parse_binary_array(KeyType t, std::string_view bytes) {
    std::string_view in = bytes;
    int32_t ndim = 0, has_null = 0, elem_oid = 0;
    if (!read_be32(in, ndim) || !read_be32(in, has_null) || !read_be32(in, elem_oid)) {
        return bad_binary("truncated header");
    }
    std::vector<Key> keys;
    if (ndim == 0) return keys;
    if (ndim != 1) return bad_binary("only one-dimensional arrays can hold shard keys");
    int32_t count = 0, lower = 0;
    if (!read_be32(in, count) || !read_be32(in, lower) || count < 0) {
        return bad_binary("truncated dimensions");
    }
    keys.reserve(static_cast<size_t>(count));
    for (int32_t i = 0; i < count; ++i) {
        int32_t len = 0;
        if (!read_be32(in, len)) return bad_binary("truncated element length");
        if (len == -1) {
            keys.push_back(Key::null_key());
            continue;
        }
        if (len < 0 || static_cast<size_t>(len) > in.size()) return bad_binary("truncated element");
        auto key = canonical_from_binary(t, in.substr(0, static_cast<size_t>(len)));
        if (!key) return key.error();
        keys.push_back(std::move(key.value()));
        in.remove_prefix(static_cast<size_t>(len));
    }
    return keys;
}

}  // namespace sg::router
