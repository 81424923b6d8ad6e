#include "router/literals.h"

namespace sg::router {

namespace {

// Plain comparisons (<cctype> calls are not inlined, and this runs per byte).
inline bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
inline bool is_space(char c) {
    return c == ' ' || (c >= '\t' && c <= '\r');
}
inline bool ident_char(char c) {
    return sql_ident_byte(c);
}

}  // namespace

uint32_t numeric_constant_type(std::string_view v) {
    constexpr uint32_t kInt4 = 23, kInt8 = 20, kNumeric = 1700;
    for (char c : v)
        if (!is_digit(c)) return kNumeric;  // a fraction or an exponent
    size_t i = 0;
    while (i + 1 < v.size() && v[i] == '0') ++i;  // leading zeros do not count
    std::string_view d = v.substr(i);
    auto fits = [&](std::string_view max) {
        return d.size() < max.size() || (d.size() == max.size() && d <= max);
    };
    if (fits("2147483647")) return kInt4;
    if (fits("9223372036854775807")) return kInt8;
    return kNumeric;
}

bool extract_literals(std::string_view s, LiteralShape& out) {
    out.text.clear();
    out.values.clear();
    out.types.clear();
    out.text.reserve(s.size() + 8);
    size_t i = 0;
    const size_t n = s.size();
    auto placeholder = [&] {
        out.text += '$';
        out.text += std::to_string(out.values.size());
    };
    while (i < n) {
        char c = s[i];
        if (c == '-' && i + 1 < n &&
            s[i + 1] == '-') {  // line comment: keep (hints live in comments)
            size_t end = s.find('\n', i);
            if (end == std::string_view::npos) end = n;
            out.text.append(s.substr(i, end - i));
            i = end;
            continue;
        }
        if (c == '/' && i + 1 < n && s[i + 1] == '*') {  // block comment (nesting: give up)
            size_t end = s.find("*/", i + 2);
            if (end == std::string_view::npos) return false;
            std::string_view body = s.substr(i + 2, end - i - 2);
            if (body.find("/*") != std::string_view::npos) return false;
            out.text.append(s.substr(i, end + 2 - i));
            i = end + 2;
            continue;
        }
        if (c == '"') {  // quoted identifier
            size_t end = i + 1;
            for (;;) {
                end = s.find('"', end);
                if (end == std::string_view::npos) return false;
                if (end + 1 < n && s[end + 1] == '"') {
                    end += 2;
                    continue;
                }
                break;
            }
            out.text.append(s.substr(i, end + 1 - i));
            i = end + 1;
            continue;
        }
        if (c == '\'') {
            // A plain string constant; a prefix (E'', B'', X'', U&'', N'') makes it special:
            // the preceding identifier char check below keeps those out (they give up).
            if (i > 0 && ident_char(s[i - 1])) return false;
            std::string value;
            size_t j = i + 1;
            for (;;) {
                if (j >= n) return false;
                if (s[j] == '\'') {
                    if (j + 1 < n && s[j + 1] == '\'') {
                        value += '\'';
                        j += 2;
                        continue;
                    }
                    break;
                }
                if (s[j] == '\\') return false;  // backslashes: leave it to the parser
                value += s[j++];
            }
            // 'a' 'b' (adjacent constants continued across a newline) would need joining.
            size_t k = j + 1;
            while (k < n && is_space(s[k])) ++k;
            if (k < n && s[k] == '\'') return false;
            out.values.push_back(std::move(value));
            out.types.push_back(0);
            placeholder();
            i = j + 1;
            continue;
        }
        if (c == '$') {
            // $n parameter or $tag$ dollar quote: either way, not for this fast path.
            return false;
        }
        if (is_digit(c) && (i == 0 || (!ident_char(s[i - 1]) && s[i - 1] != '.'))) {
            // A numeric constant: digits, an optional fraction, an optional exponent.
            size_t j = i;
            auto digits = [&] {
                while (j < n && is_digit(s[j])) ++j;
            };
            digits();
            if (j < n && s[j] == '.') {
                ++j;
                digits();
            }
            if (j < n && (s[j] == 'e' || s[j] == 'E')) {
                size_t k = j + 1;
                if (k < n && (s[k] == '+' || s[k] == '-')) ++k;
                if (k >= n || !is_digit(s[k])) return false;
                j = k;
                digits();
            }
            if (j < n && (ident_char(s[j]) || s[j] == '.')) return false;
            out.values.emplace_back(s.substr(i, j - i));
            out.types.push_back(numeric_constant_type(out.values.back()));
            placeholder();
            i = j;
            continue;
        }
        if (ident_char(c)) {
            size_t j = i;
            while (j < n && ident_char(s[j])) ++j;
            out.text.append(s.substr(i, j - i));
            i = j;
            continue;
        }
        out.text += c;
        ++i;
    }
    return !out.values.empty();
}

}  // namespace sg::router
