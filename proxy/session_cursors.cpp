// Cursors of a transaction that spans shards go to the participant that declared them
// (proxy/cursor_places.h says why).
#include "proxy/cursor_places.h"
#include "proxy/session.h"

namespace sg::proxy {

int Session::cursor_target(std::string_view sql, bool uses_cursor, int target) {
    if (!in_transaction()) {
        cursor_places_.clear();  // cursors without HOLD ended with their transaction
        return target;
    }
    if (uses_cursor) {
        if (auto at = cursor_shard_of(sql)) return *at;
        return target;
    }
    note_cursor(sql, {}, target);
    return target;
}

std::optional<int> Session::cursor_shard_of(std::string_view sql) {
    if (!in_transaction()) {
        cursor_places_.clear();
        return std::nullopt;
    }
    if (cursor_places_.empty()) return std::nullopt;
    auto name = used_cursor(sql);
    if (!name) return std::nullopt;
    return cursor_places_.find(*name);
}

std::optional<int> Session::portal_shard(char type, std::string_view body) {
    // Execute: portal name first; Describe / Close: 'P' then the portal's name.
    if (type == 'D' || type == 'C') {
        if (body.empty() || body[0] != 'P') return std::nullopt;
        body.remove_prefix(1);
    } else if (type != 'E') {
        return std::nullopt;
    }
    const size_t end = body.find('\0');
    if (end == 0 || end == std::string_view::npos || cursor_places_.empty() || !in_transaction())
        return std::nullopt;  // the unnamed portal is replaced by every Bind: it never moves
    return cursor_places_.find(body.substr(0, end));
}

void Session::note_cursor(std::string_view sql, std::string_view portal, int shard) {
    if (!in_transaction()) {
        cursor_places_.clear();
        return;
    }
    if (!portal.empty()) cursor_places_.note(std::string(portal), shard);
    if (auto name = declared_cursor(sql)) cursor_places_.note(std::move(*name), shard);
}

}  // namespace sg::proxy
