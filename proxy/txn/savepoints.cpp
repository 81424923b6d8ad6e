#include "proxy/txn/savepoints.h"

#include <cctype>

namespace sg::proxy::txn {

namespace {

struct Lexer {
    std::string_view s;
    size_t i = 0;
    void skip() {
        for (;;) {
            while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
            if (s.substr(i, 2) == "--") {
                while (i < s.size() && s[i] != '\n') ++i;
            } else if (s.substr(i, 2) == "/*") {
                size_t e = s.find("*/", i + 2);
                i = e == std::string_view::npos ? s.size() : e + 2;
            } else {
                return;
            }
        }
    }
    // The next identifier, folded as PostgreSQL folds it; nullopt at the end or on anything else.
    std::optional<std::string> ident() {
        skip();
        if (i >= s.size()) return std::nullopt;
        std::string out;
        if (s[i] == '"') {
            for (++i; i < s.size(); ++i) {
                if (s[i] == '"') {
                    if (i + 1 < s.size() && s[i + 1] == '"') {
                        out += '"';
                        ++i;
                        continue;
                    }
                    ++i;
                    return out;
                }
                out += s[i];
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
    bool at_end() {
        skip();
        if (i < s.size() && s[i] == ';') ++i;
        skip();
        return i >= s.size();
    }
};

}  // namespace

std::optional<SavepointCommand> parse_savepoint(std::string_view sql) {
    Lexer lx{sql};
    auto w = lx.ident();
    if (!w) return std::nullopt;
    SavepointCommand c;
    if (*w == "savepoint") {
        c.kind = SavepointCommand::Kind::Savepoint;
    } else if (*w == "release") {
        c.kind = SavepointCommand::Kind::Release;
    } else if (*w == "rollback") {
        c.kind = SavepointCommand::Kind::RollbackTo;
        auto n = lx.ident();
        if (n && (*n == "work" || *n == "transaction")) n = lx.ident();
        if (!n || *n != "to") return std::nullopt;
    } else {
        return std::nullopt;
    }
    size_t mark = lx.i;
    auto name = lx.ident();
    if (!name) return std::nullopt;
    if (c.kind != SavepointCommand::Kind::Savepoint && *name == "savepoint") {
        // "RELEASE SAVEPOINT x" (or a savepoint named savepoint: "RELEASE savepoint")
        size_t after = lx.i;
        auto real = lx.ident();
        if (real)
            name = real;
        else
            lx.i = after;
    }
    (void)mark;
    if (!lx.at_end()) return std::nullopt;
    c.name = *name;
    return c;
}

void Savepoints::apply(const SavepointCommand& c) {
    if (c.kind == SavepointCommand::Kind::Savepoint) {
        open_.push_back(c.name);
        return;
    }
    for (size_t k = open_.size(); k-- > 0;) {
        if (open_[k] != c.name) continue;
        open_.resize(c.kind == SavepointCommand::Kind::Release ? k : k + 1);
        return;
    }
}

std::string quote_ident(std::string_view name) {
    std::string out = "\"";
    for (char ch : name) {
        if (ch == '"') out += '"';
        out += ch;
    }
    return out + '"';
}

std::string Savepoints::replay() const {
    std::string out;
    for (const auto& n : open_) out += "; SAVEPOINT " + quote_ident(n);
    return out;
}

}  // namespace sg::proxy::txn
