// Where it pays: a simple-protocol point lookup already reaches the statistics as the router's
// literal-free shape (Session::note_simple_query_sent), so pgbench -S never missed the shape
// cache; the texts that did are the ones recorded as sent: fan-outs merged by the proxy
// (stats_merged), refused statements, and whatever the router's literal extraction passes by.
#include "proxy/stats/literal_key.h"

#include <array>
#include <cstdint>

namespace sg::stats {

namespace {

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
// PostgreSQL's ident_start / ident_cont (bytes >= 0x80 are letters to its lexer).
bool ident_start(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           static_cast<unsigned char>(c) >= 0x80;
}
bool ident_cont(char c) {
    return ident_start(c) || is_digit(c) || c == '$';
}
char lower(char c) {
    return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c;
}
bool word_is(std::string_view w, std::string_view lower_word) {
    if (w.size() != lower_word.size()) return false;
    for (size_t i = 0; i < w.size(); ++i)
        if (lower(w[i]) != lower_word[i]) return false;
    return true;
}

constexpr std::array<std::string_view, 7> kDml{"select", "insert", "update", "delete",
                                               "merge",  "with",   "values"};

// Past a quoted string starting at s[i] == '\''; `backslash`: E'' escapes. npos: unterminated.
size_t skip_quoted(std::string_view s, size_t i, bool backslash) {
    for (++i; i < s.size(); ++i) {
        if (backslash && s[i] == '\\') {
            ++i;
        } else if (s[i] == '\'') {
            if (i + 1 < s.size() && s[i + 1] == '\'') {
                ++i;
            } else {
                return i + 1;
            }
        }
    }
    return std::string_view::npos;
}

// Past a /* */ comment starting at s[i] (they nest). npos: unterminated.
size_t skip_block_comment(std::string_view s, size_t i) {
    int depth = 0;
    while (i + 1 < s.size()) {
        if (s[i] == '/' && s[i + 1] == '*') {
            ++depth;
            i += 2;
        } else if (s[i] == '*' && s[i + 1] == '/') {
            i += 2;
            if (--depth == 0) return i;
        } else {
            ++i;
        }
    }
    return std::string_view::npos;
}

// Past a number starting at s[i] (a digit, or '.' before a digit); sets `integer` when it is
// digits only. npos when it runs into letters (0x1F, 1e, 12abc: other lexer rules).
size_t skip_number(std::string_view s, size_t i, bool& integer) {
    integer = true;
    while (i < s.size() && is_digit(s[i])) ++i;
    if (i < s.size() && s[i] == '.' && !(i + 1 < s.size() && s[i + 1] == '.')) {
        integer = false;
        ++i;
        while (i < s.size() && is_digit(s[i])) ++i;
    }
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        integer = false;
        size_t j = i + 1;
        if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
        if (j >= s.size() || !is_digit(s[j])) return std::string_view::npos;
        while (j < s.size() && is_digit(s[j])) ++j;
        i = j;
    }
    if (i < s.size() && (ident_cont(s[i]) || s[i] == '.')) return std::string_view::npos;
    return i;
}

// An integer literal is an Integer constant when it fits int32, a Float constant otherwise.
bool fits_int32(std::string_view digits) {
    size_t k = 0;
    while (k + 1 < digits.size() && digits[k] == '0') ++k;
    digits.remove_prefix(k);
    if (digits.size() > 10) return false;
    uint64_t v = 0;
    for (char c : digits) v = v * 10 + uint64_t(c - '0');
    return v <= 2147483647u;
}

}  // namespace

bool literal_key(std::string_view s, std::string& out) {
    out.clear();
    bool first_word = true, statement_ended = false;
    char last_significant = 0;  // the last character copied that is not blank
    size_t i = 0;
    auto copy = [&](size_t from, size_t to) {
        out.append(s.substr(from, to - from));
        for (size_t k = to; k > from; --k)
            if (!is_space(s[k - 1])) {
                last_significant = s[k - 1];
                break;
            }
    };
    auto literal = [&](char kind) {
        out += '\x01';  // cannot occur in SQL text the lexer accepts: no clash with copied bytes
        out += kind;
        last_significant = kind;
    };
    while (i < s.size()) {
        const char c = s[i];
        if (static_cast<unsigned char>(c) < 0x09)
            return false;  // not SQL; and the markers are \x01
        if (is_space(c)) {
            copy(i, i + 1);
            ++i;
        } else if (c == '-' && i + 1 < s.size() && s[i + 1] == '-') {
            size_t end = s.find('\n', i);
            end = end == std::string_view::npos ? s.size() : end + 1;
            out.append(s.substr(i, end - i));  // a comment: not significant
            i = end;
        } else if (c == '/' && i + 1 < s.size() && s[i + 1] == '*') {
            const size_t end = skip_block_comment(s, i);
            if (end == std::string_view::npos) return false;
            out.append(s.substr(i, end - i));
            i = end;
        } else if (statement_ended) {
            return false;  // a second statement
        } else if (c == ';') {
            statement_ended = true;
            copy(i, i + 1);
            ++i;
        } else if (c == '\'') {
            const size_t end = skip_quoted(s, i, false);
            if (end == std::string_view::npos) return false;
            literal('s');
            i = end;
        } else if (c == '"') {
            const size_t end =
                s.find('"', i + 1);  // "" inside is two adjacent quoted parts: same bytes
            if (end == std::string_view::npos) return false;
            copy(i, end + 1);
            i = end + 1;
        } else if (c == '$') {
            size_t j = i + 1;
            if (j < s.size() && is_digit(s[j])) {  // a parameter
                while (j < s.size() && is_digit(s[j])) ++j;
                copy(i, j);
                i = j;
                continue;
            }
            while (j < s.size() && ident_cont(s[j]) && s[j] != '$') ++j;
            if (j >= s.size() || s[j] != '$' || (j > i + 1 && !ident_start(s[i + 1]))) return false;
            const std::string_view tag = s.substr(i, j - i + 1);
            const size_t close = s.find(tag, j + 1);
            if (close == std::string_view::npos) return false;
            literal('s');
            i = close + tag.size();
        } else if (is_digit(c) || (c == '.' && i + 1 < s.size() && is_digit(s[i + 1]))) {
            bool integer = false;
            const size_t end = skip_number(s, i, integer);
            if (end == std::string_view::npos) return false;
            if (last_significant == '[' || first_word) {
                copy(i, end);  // an array bound in a type name is not a constant
            } else {
                literal(integer && fits_int32(s.substr(i, end - i)) ? 'i' : 'f');
            }
            i = end;
        } else if (ident_start(c)) {
            size_t j = i + 1;
            while (j < s.size() && ident_cont(s[j])) ++j;
            const std::string_view word = s.substr(i, j - i);
            if (first_word) {
                bool dml = false;
                for (auto k : kDml) dml = dml || word_is(word, k);
                if (!dml) return false;
                first_word = false;
            }
            // Prefixed strings: E'..', B'..', X'..', N'..', U&'..'.
            if (j < s.size() && s[j] == '\'' && word.size() == 1 &&
                (lower(c) == 'e' || lower(c) == 'b' || lower(c) == 'x' || lower(c) == 'n')) {
                const size_t end = skip_quoted(s, j, lower(c) == 'e');
                if (end == std::string_view::npos) return false;
                // An escape may be invalid (an error the parser raises for this text only).
                if (lower(c) == 'e' && s.substr(j, end - j).find('\\') != std::string_view::npos)
                    return false;
                literal(lower(c) == 'b' || lower(c) == 'x' ? 'b' : 's');
                i = end;
                continue;
            }
            if (word.size() == 1 && lower(c) == 'u' && j + 1 < s.size() && s[j] == '&' &&
                s[j + 1] == '\'') {
                const size_t end = skip_quoted(s, j + 1, false);
                if (end == std::string_view::npos) return false;
                if (s.substr(j, end - j).find('\\') != std::string_view::npos)
                    return false;  // as E''
                literal('s');
                i = end;
                continue;
            }
            copy(i, j);
            i = j;
        } else {
            if (first_word) return false;  // e.g. "(SELECT 1)": not worth the cases
            copy(i, i + 1);
            ++i;
        }
    }
    return !first_word;
}

}  // namespace sg::stats
