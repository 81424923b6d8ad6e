#include "proxy/notify/listen_statement.h"

#include <strings.h>

#include "proxy/sql_words.h"
#include "proxy/wire/frame_cursor.h"
#include "proxy/wire/protocol.h"

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

bool first_parse_listens(std::string_view batch) {
    // Past any leading Close messages (pgjdbc sends those with its next query).
    wire::FrameCursor cursor(batch);
    auto f = cursor.next();
    while (f && f->type == wire::fe::kClose) f = cursor.next();
    if (!f || f->type != wire::fe::kParse || f->body.empty()) return false;
    const std::string_view body = f->body;
    const size_t name_end = body.find('\0');
    if (name_end == std::string_view::npos) return false;
    std::string_view query = body.substr(name_end + 1);
    return starts_with_listen(query.substr(0, query.find('\0')));
}

bool starts_with_listen(std::string_view query) {
    sql_words::Cursor c{query};
    c.skip();
    std::string_view rest = query.substr(c.i);
    for (std::string_view kw : {"listen", "unlisten"})
        if (rest.size() >= kw.size() && strncasecmp(rest.data(), kw.data(), kw.size()) == 0)
            return true;
    return false;
}

bool is_discard_all(std::string_view sql) {
    sql_words::Cursor c{sql};
    return c.keyword("discard") && c.keyword("all") && c.at_end();
}

bool is_prepare_transaction(std::string_view sql) {
    sql_words::Cursor c{sql};
    return c.keyword("prepare") && c.keyword("transaction");
}

std::string truncation_notice(const ListenStatement& st) {
    return "identifier \"" + st.truncated + "\" will be truncated to \"" + st.channel + "\"";
}

}  // namespace sg::proxy::notify
