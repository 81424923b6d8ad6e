// A tiny tokenizer over SQL text, enough to recognise the few statements the proxy tracks by
// their words (SET, RESET, SAVEPOINT, ...): whitespace and comments are skipped between tokens,
// identifiers are lower-cased unless double-quoted.
#pragma once

#include <cctype>
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
    // An identifier (possibly dotted, possibly double-quoted parts), lower-cased unless quoted.
    std::string ident() {
        skip();
        std::string out;
        for (;;) {
            if (i < s.size() && s[i] == '"') {
                size_t end = s.find('"', i + 1);
                if (end == std::string_view::npos) return {};
                out.append(s.substr(i + 1, end - i - 1));
                i = end + 1;
            } else {
                size_t start = i;
                while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '_' || s[i] == '$'))
                    ++i;
                if (i == start) return out;
                out += lower(s.substr(start, i - start));
            }
            if (i < s.size() && s[i] == '.') {
                out += '.';
                ++i;
                continue;
            }
            return out;
        }
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
        while (!r.empty() && (std::isspace(static_cast<unsigned char>(r.back())) || r.back() == ';')) r.remove_suffix(1);
        return r;
    }
};

}  // namespace sg::proxy::sql_words
