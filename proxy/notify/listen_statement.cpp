#include "proxy/notify/listen_statement.h"

#include "proxy/sql_words.h"

namespace sg::proxy::notify {

namespace {

// PostgreSQL's truncate_identifier: at most 63 bytes, never cutting a UTF-8 character.
std::string truncate_identifier(const std::string& name) {
    if (name.size() <= kMaxChannelBytes) return name;
    size_t len = kMaxChannelBytes;
    while (len > 0 && (static_cast<unsigned char>(name[len]) & 0xC0) == 0x80) --len;
    return name.substr(0, len);
}

}  // namespace

std::optional<ListenStatement> parse_listen_statement(std::string_view sql) {
    sql_words::Cursor c{sql};
    ListenStatement st;
    if (c.keyword("listen")) {
        st.kind = ListenStatement::Listen;
    } else if (c.keyword("unlisten")) {
        c.skip();
        if (c.i < sql.size() && sql[c.i] == '*') {
            ++c.i;
            if (!c.at_end()) return std::nullopt;
            st.kind = ListenStatement::UnlistenAll;
            return st;
        }
        st.kind = ListenStatement::Unlisten;
    } else {
        return std::nullopt;
    }
    // One identifier part: PostgreSQL's grammar takes ColId here (no dotted name).
    auto name = c.name();
    if (!name || name->empty() || !c.at_end()) return std::nullopt;
    st.channel = truncate_identifier(*name);
    if (st.channel.size() != name->size()) st.truncated = *name;
    return st;
}

bool is_discard_all(std::string_view sql) {
    sql_words::Cursor c{sql};
    return c.keyword("discard") && c.keyword("all") && c.at_end();
}

std::string truncation_notice(const ListenStatement& st) {
    return "identifier \"" + st.truncated + "\" will be truncated to \"" + st.channel + "\"";
}

}  // namespace sg::proxy::notify
