// A tiny tokenizer over SQL text, enough to recognise the few statements the proxy tracks by
// their words (SET, RESET, SAVEPOINT, ...): whitespace and comments are skipped between tokens,
// identifiers are folded as PostgreSQL folds them (lower-cased unless double-quoted).
#pragma once

#include <cctype>
#include <optional>
#include <string>
#include <string_view>

namespace sg::proxy::sql_words {

inline std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// A tiny cursor over SQL text: whitespace and comments are skipped between tokens.
struct Cursor {
    std::string_view s;
    size_t i = 0;

    void skip() {
        for (;;) {
            while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
            if (s.substr(i, 2) == "--") {
                while (i < s.size() && s[i] != '\n') ++i;
            } else if (s.substr(i, 2) == "/*") {
                size_t end = s.find("*/", i + 2);
                i = end == std::string_view::npos ? s.size() : end + 2;
            } else {
                return;
            }
        }
    }
    // One identifier part, folded as PostgreSQL folds it: lower-cased unless double-quoted (a
    // doubled quote inside stands for one); high-bit bytes belong to identifiers. nullopt at the
    // end of the text, on an unterminated quote, or on anything that is not an identifier.
    std::optional<std::string> name() {
        skip();
        if (i >= s.size()) return std::nullopt;
        std::string out;
        if (s[i] == '"') {
            for (++i; i < s.size(); ++i) {
                if (s[i] != '"') {
                    out += s[i];
                } else if (i + 1 < s.size() && s[i + 1] == '"') {
                    out += '"';
                    ++i;
                } else {
                    ++i;
                    return out;
                }
            }
            return std::nullopt;
        }
        while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '_' ||
                                s[i] == '$' || static_cast<unsigned char>(s[i]) >= 0x80)) {
            out += static_cast<char>(std::tolower(static_cast<unsigned char>(s[i])));
            ++i;
        }
        if (out.empty()) return std::nullopt;
        return out;
    }
    // An identifier, possibly dotted ("schema.table"), parts folded as name() folds them; empty
    // when there is none.
    std::string ident() {
        std::string out;
        for (;;) {
            auto part = name();
            if (!part) return out;
            out += *part;
            if (i < s.size() && s[i] == '.') {
                out += '.';
                ++i;
                continue;
            }
            return out;
        }
    }
    // Only whitespace, comments and at most one ';' left.
    bool at_end() {
        skip();
        if (i < s.size() && s[i] == ';') ++i;
        skip();
        return i >= s.size();
    }
    bool keyword(std::string_view kw) {
        skip();
        size_t save = i;
        std::string w = ident();
        if (w == kw) return true;
        i = save;
        return false;
    }
    std::string_view rest() {
        skip();
        std::string_view r = s.substr(i);
        while (!r.empty() &&
               (std::isspace(static_cast<unsigned char>(r.back())) || r.back() == ';'))
            r.remove_suffix(1);
        return r;
    }
};

}  // namespace sg::proxy::sql_words
