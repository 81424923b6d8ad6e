#include "proxy/cursor_places.h"

#include "proxy/sql_words.h"

namespace sg::proxy {

std::optional<std::string> declared_cursor(std::string_view sql) {
    sql_words::Cursor c{sql};
    if (!c.keyword("declare")) return std::nullopt;
    auto name = c.name();
    if (!name) return std::nullopt;
    // DECLARE name [BINARY] [ASENSITIVE | INSENSITIVE] [[NO] SCROLL] CURSOR ...
    for (int i = 0; i < 6; ++i) {
        if (c.keyword("cursor")) return name;
        if (!c.name()) break;
    }
    return std::nullopt;
}

std::optional<std::string> used_cursor(std::string_view sql) {
    sql_words::Cursor c{sql};
    const bool close = c.keyword("close");
    if (!close && !c.keyword("fetch") && !c.keyword("move")) return std::nullopt;
    // The cursor's name is the statement's last word (after any direction and FROM/IN).
    std::optional<std::string> last;
    for (;;) {
        c.skip();
        if (c.at_end()) break;
        const size_t before = c.i;
        auto word = c.name();
        if (word) {
            last = std::move(word);
            continue;
        }
        // A count such as 10, -5 or +3 (names start otherwise).
        if (c.i == before) {
            if (sql[c.i] == '-' || sql[c.i] == '+' ||
                std::isdigit(static_cast<unsigned char>(sql[c.i]))) {
                ++c.i;
                while (c.i < sql.size() && std::isdigit(static_cast<unsigned char>(sql[c.i])))
                    ++c.i;
                last.reset();
                continue;
            }
            return std::nullopt;
        }
    }
    if (!last || (close && *last == "all")) return std::nullopt;
    return last;
}

}  // namespace sg::proxy
