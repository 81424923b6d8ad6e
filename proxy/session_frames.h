// Frame utilities of the client session: walking the messages of a batch held in the
// proxy's own buffers (complete, validated when read from the client), acknowledging
// messages the proxy answers itself, renaming statements, and lending buffers.
// Internal to the session files (proxy/session_*.cpp).
#pragma once

#include <fmt/format.h>
#include <strings.h>
#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>

#include "proxy/wire/frame_cursor.h"
#include "proxy/wire/messages/extended_replies.h"
#include "proxy/wire/writer.h"
#include "router/literals.h"

namespace sg::proxy::session_frames {

inline std::string statement_server_name(uint64_t id) {
    return fmt::format("sg{}", id);
}

// DISCARD ALL and DEALLOCATE [PREPARE] ALL drop every prepared statement of the server
// connection they run on, the proxy's own names included.
inline bool drops_prepared_statements(std::string_view sql) {
    size_t i = 0;
    auto word = [&](std::string_view w) {
        while (i < sql.size() && std::isspace(static_cast<unsigned char>(sql[i]))) ++i;
        if (sql.size() - i < w.size() || strncasecmp(sql.data() + i, w.data(), w.size()) != 0)
            return false;
        size_t end = i + w.size();
        if (end < sql.size() && router::sql_ident_byte(sql[end])) return false;
        i = end;
        return true;
    };
    if (word("discard")) return word("all");
    if (!word("deallocate")) return false;
    word("prepare");
    return word("all");
}

// Lends a session's kept buffer to one pass of the per-transaction path and takes it back,
// emptied, when the pass ends (whichever way), so steady traffic reuses one allocation. A
// buffer grown past 64 KiB is let go instead: an idle session stays small.
class Recycled {
public:
    Recycled(std::string& lent, std::string& home) : lent_(lent), home_(home) {}
    Recycled(const Recycled&) = delete;
    Recycled& operator=(const Recycled&) = delete;
    ~Recycled() {
        if (lent_.capacity() > 64 * 1024 || home_.capacity() >= lent_.capacity()) return;
        lent_.clear();
        home_.swap(lent_);
    }

private:
    std::string& lent_;
    std::string& home_;
};

// Walks the whole messages of a batch: `for (BatchFrames f{batch}; f.next();) use f.type, f.frame,
// f.body`.
struct BatchFrames {
    std::string_view batch;
    size_t pos = 0;
    char type = 0;
    std::string_view frame{};  // the whole message
    std::string_view body{};   // after type and length

    bool next() {
        wire::FrameCursor cursor(batch.substr(std::min(pos, batch.size())));
        const auto f =
            cursor.next();  // whole messages only: a short or malformed one ends the walk
        if (!f) return false;
        type = f->type;
        frame = f->whole;
        body = f->body;
        pos += f->whole.size();
        return true;
    }
};

// What PostgreSQL answers to the messages of an extended batch returning no rows, for the
// batches the proxy answers itself: ParseComplete, BindComplete, and for Describe no parameters
// (of a statement) and NoData. Execute and Sync are the caller's.
inline void acknowledge(char type, std::string_view body, wire::MessageWriter& w) {
    switch (type) {
        case 'P':
            wire::encode(wire::ParseComplete{}, w);
            break;
        case 'B':
            wire::encode(wire::BindComplete{}, w);
            break;
        case 'D':
            if (!body.empty() && body[0] == 'S') wire::encode(wire::ParameterDescription{}, w);
            wire::encode(wire::NoData{}, w);
            break;
        default:
            break;
    }
}

inline size_t count_frames(std::string_view frames, char type) {
    size_t n = 0;
    wire::FrameCursor cursor(frames);
    while (const auto f = cursor.next()) n += f->type == type;
    return n;
}

inline std::string_view frame_body(std::string_view frame) {
    return frame.substr(5);
}

inline wire::Bytes bytes_of(std::string_view s) {
    return wire::as_bytes(s);
}

// Rewrites the statement name of a Bind/Describe/Close: [prefix][old name\0][rest] ->
// [prefix][new name\0][rest]. `name_offset` is the offset of the name in the body.
inline void append_renamed(std::string& out, char type, std::string_view body, size_t name_offset,
                           std::string_view old_name, std::string_view new_name) {
    wire::MessageWriter w(out);
    w.begin(type);
    w.bytes(body.substr(0, name_offset));
    w.cstr(new_name);
    w.bytes(body.substr(name_offset + old_name.size() + 1));
    w.end();
}

}  // namespace sg::proxy::session_frames
