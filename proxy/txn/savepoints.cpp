#include "proxy/txn/savepoints.h"

#include "proxy/sql_words.h"

namespace sg::proxy::txn {

std::optional<SavepointCommand> parse_savepoint(std::string_view sql) {
    sql_words::Cursor lx{sql};
    auto w = lx.name();
    if (!w) return std::nullopt;
    SavepointCommand c;
    if (*w == "savepoint") {
        c.kind = SavepointCommand::Kind::Savepoint;
    } else if (*w == "release") {
        c.kind = SavepointCommand::Kind::Release;
    } else if (*w == "rollback") {
        c.kind = SavepointCommand::Kind::RollbackTo;
        auto n = lx.name();
        if (n && (*n == "work" || *n == "transaction")) n = lx.name();
        if (!n || *n != "to") return std::nullopt;
    } else {
        return std::nullopt;
    }
    auto name = lx.name();
    if (!name) return std::nullopt;
    if (c.kind != SavepointCommand::Kind::Savepoint && *name == "savepoint") {
        // "RELEASE SAVEPOINT x" (or a savepoint named savepoint: "RELEASE savepoint")
        size_t after = lx.i;
        auto real = lx.name();
        if (real)
            name = real;
        else
            lx.i = after;
    }
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
