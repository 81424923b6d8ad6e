// Whether a statement is a cursor's DECLARE, FETCH, MOVE or CLOSE (proxy/cursor_places.h):
// such a statement reads (a DECLARE of a writing query says so in its analysis), so the shard
// it runs on need not PREPARE at a two-phase commit, which PostgreSQL refuses after a cursor
// WITH HOLD was declared.
#pragma once

#include <string_view>

#include "proxy/cursor_places.h"

namespace sg::proxy {

inline bool cursor_statement(std::string_view sql) {
    return declared_cursor(sql) || used_cursor(sql);
}

}  // namespace sg::proxy
