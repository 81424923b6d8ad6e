#include "proxy/session_state.h"

#include <cctype>
#include <vector>

#include "proxy/sql_words.h"

namespace sg::proxy {

namespace {

// The words of a statement, lower-cased, outside string literals, dollar-quoted bodies and
// comments (a quoted identifier is one word, kept as written but never equal to a keyword,
// since it keeps its quotes).
std::vector<std::string> words_of(std::string_view s) {
    std::vector<std::string> out;
    size_t i = 0;
    auto is_word = [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$';
    };
    while (i < s.size()) {
        char c = s[i];
        if (c == '-' && s.substr(i, 2) == "--") {
            while (i < s.size() && s[i] != '\n') ++i;
        } else if (c == '/' && s.substr(i, 2) == "/*") {
            size_t end = s.find("*/", i + 2);
            i = end == std::string_view::npos ? s.size() : end + 2;
        } else if (c == '\'') {
            for (++i; i < s.size(); ++i) {
                if (s[i] == '\\' && i + 1 < s.size()) {
                    ++i;  // E'...' escapes (harmless in standard strings: only skips a char)
                } else if (s[i] == '\'') {
                    if (i + 1 < s.size() && s[i + 1] == '\'')
                        ++i;
                    else
                        break;
                }
            }
            ++i;
        } else if (c == '"') {
            size_t end = s.find('"', i + 1);
            end = end == std::string_view::npos ? s.size() : end + 1;
            out.emplace_back(s.substr(i, end - i));
            i = end;
        } else if (c == '$' && (i == 0 || !is_word(s[i - 1]))) {
            // $tag$ ... $tag$ (or a parameter $1, which is a word of its own)
            size_t j = i + 1;
            while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_'))
                ++j;
            if (j < s.size() && s[j] == '$') {
                std::string_view tag = s.substr(i, j - i + 1);
                size_t end = s.find(tag, j + 1);
                i = end == std::string_view::npos ? s.size() : end + tag.size();
            } else {
                i = j;
            }
        } else if (is_word(c)) {
            size_t start = i;
            while (i < s.size() && is_word(s[i])) ++i;
            out.push_back(sql_words::lower(s.substr(start, i - start)));
        } else {
            ++i;
        }
    }
    return out;
}

bool has(const std::vector<std::string>& w, std::string_view word) {
    for (const auto& x : w)
        if (x == word) return true;
    return false;
}

// `a` directly followed by `b` somewhere.
bool has_pair(const std::vector<std::string>& w, std::string_view a, std::string_view b) {
    for (size_t i = 0; i + 1 < w.size(); ++i)
        if (w[i] == a && w[i + 1] == b) return true;
    return false;
}

bool contains_nocase(std::string_view s, std::string_view needle) {
    if (needle.size() > s.size()) return false;
    for (size_t i = 0; i + needle.size() <= s.size(); ++i) {
        size_t k = 0;
        while (k < needle.size() && std::tolower(static_cast<unsigned char>(s[i + k])) == needle[k])
            ++k;
        if (k == needle.size()) return true;
    }
    return false;
}

// Without allocating (every statement passes here): whether session_state_use must look.
bool may_use_session_state(std::string_view sql) {
    sql_words::Cursor c{sql};
    c.skip();
    std::string_view rest = sql.substr(c.i);
    for (std::string_view kw : {"set", "declare", "prepare", "execute", "deallocate", "listen",
                                "unlisten", "fetch", "move", "close"})
        if (rest.size() >= kw.size() && contains_nocase(rest.substr(0, kw.size()), kw)) return true;
    return contains_nocase(sql, "temp") || contains_nocase(sql, "advisory");
}

}  // namespace

SessionStateUse session_state_use(std::string_view sql) {
    SessionStateUse use;
    if (!may_use_session_state(sql)) return use;
    const std::vector<std::string> w = words_of(sql);
    if (w.empty()) return use;
    const std::string& first = w[0];
    if (first == "create") {
        // CREATE [GLOBAL|LOCAL] TEMP|TEMPORARY TABLE|VIEW|SEQUENCE ..., also CREATE OR REPLACE
        // TEMP VIEW. ON COMMIT DROP makes it live only for its transaction.
        size_t i = 1;
        if (i + 1 < w.size() && w[i] == "or" && w[i + 1] == "replace") i += 2;
        if (i < w.size() && (w[i] == "global" || w[i] == "local")) ++i;
        if (i < w.size() && (w[i] == "temp" || w[i] == "temporary") &&
            !(has_pair(w, "on", "commit") && has(w, "drop")))
            use.kind = SessionStateUse::TempTable;
        return use;
    }
    if (first == "select" || first == "with") {
        // SELECT ... INTO TEMP t
        if ((has_pair(w, "into", "temp") || has_pair(w, "into", "temporary"))) {
            use.kind = SessionStateUse::TempTable;
            return use;
        }
    }
    if (first == "declare") {
        // DECLARE name [BINARY] [ASENSITIVE|INSENSITIVE] [[NO] SCROLL] CURSOR [{WITH|WITHOUT} HOLD]
        // FOR
        for (size_t i = 1; i + 1 < w.size() && w[i] != "for"; ++i)
            if (w[i] == "with" && w[i + 1] == "hold") use.kind = SessionStateUse::HoldCursor;
        return use;
    }
    if (first == "prepare") {
        if (w.size() > 1 && w[1] != "transaction") use.kind = SessionStateUse::SqlPrepare;
        return use;
    }
    if (first == "execute") {
        use.kind = SessionStateUse::SqlPrepare;
        return use;
    }
    if (first == "deallocate") {
        sql_words::Cursor c{sql};
        c.keyword("deallocate");
        c.keyword("prepare");
        use.kind = SessionStateUse::Deallocate;
        if (c.keyword("all") && c.rest().empty()) return use;
        use.name = c.ident();
        if (use.name.empty() || !c.rest().empty())
            use.kind = SessionStateUse::None;  // PostgreSQL's error
        return use;
    }
    if (first == "set") {
        size_t i = 1;
        if (i < w.size() && w[i] == "local") return use;  // ends with the transaction
        if (i < w.size() && w[i] == "session") ++i;
        if (i < w.size() && (w[i] == "role" || w[i] == "authorization" ||
                             (w[i - 1] == "session" && w[i] == "authorization")))
            use.kind = SessionStateUse::SetRole;
        return use;
    }
    if (first == "listen" || first == "unlisten") {
        use.kind = first == "listen" ? SessionStateUse::Listen : SessionStateUse::Unlisten;
        return use;
    }
    if (first == "fetch" || first == "move" || first == "close") {
        use.kind = SessionStateUse::CursorOp;
        return use;
    }
    // Session-level advisory locks taken anywhere in the statement (the _xact_ forms end with
    // their transaction and are fine). The unlock functions are not refused: since no session
    // lock can be taken in transaction pooling, no server connection holds one, and they answer
    // as they would for a client holding none (pool resets such as asyncpg's call
    // pg_advisory_unlock_all()).
    static constexpr std::string_view kLocks[] = {"pg_advisory_lock", "pg_advisory_lock_shared",
                                                  "pg_try_advisory_lock",
                                                  "pg_try_advisory_lock_shared"};
    for (const auto& word : w)
        for (auto lock : kLocks)
            if (word == lock) {
                use.kind = SessionStateUse::AdvisoryLock;
                use.name = word;
                return use;
            }
    return use;
}

std::string transaction_pooling_refusal(const SessionStateUse& use) {
    const char* tail =
        " is session state, and in transaction pooling (pool_mode = \"transaction\") the next "
        "transaction may run "
        "on another server connection while this one serves other clients; use pool_mode = "
        "\"session\"";
    switch (use.kind) {
        case SessionStateUse::TempTable:
            return std::string("a temporary table") + tail +
                   ", or CREATE TEMP TABLE ... ON COMMIT DROP inside a transaction";
        case SessionStateUse::HoldCursor:
            return std::string("a cursor WITH HOLD") + tail +
                   ", or a cursor without HOLD inside a transaction";
        case SessionStateUse::AdvisoryLock:
            return "the session-level advisory lock function " + use.name + "()" + tail +
                   ", or the transaction-level forms (pg_advisory_xact_lock, "
                   "pg_try_advisory_xact_lock)";
        case SessionStateUse::SqlPrepare:
            return std::string("an SQL prepared statement (PREPARE / EXECUTE)") + tail +
                   ", or the extended protocol's prepared statements, which shardgate carries";
        case SessionStateUse::SetRole:
            return std::string("SET ROLE / SET SESSION AUTHORIZATION") + tail +
                   ", or SET LOCAL ROLE inside a transaction";
        default:
            return {};
    }
}

}  // namespace sg::proxy
