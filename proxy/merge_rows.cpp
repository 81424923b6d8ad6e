// The rows of a merged SELECT: see proxy/merge_rows.h.
#include "proxy/merge_rows.h"

#include "proxy/wire/frame.h"
#include "proxy/wire/messages/command_complete.h"
#include "proxy/wire/writer.h"

namespace sg::proxy {

// Reads `reply`; false when it is not a plain result (an error, or frames that do not decode).
bool read_shard_rows(const std::string& reply, ShardRows& out) {
    size_t pos = 0;
    while (pos < reply.size()) {
        auto st = wire::parse_frame(wire::as_bytes(std::string_view(reply).substr(pos)));
        auto* f = std::get_if<wire::Frame>(&st);
        if (!f || f->type == 'E') return false;
        std::string_view whole = std::string_view(reply).substr(pos, f->size);
        if (f->type == 'T') {
            if (!wire::decode(f->body, out.desc).ok()) return false;
            out.row_description.assign(whole);
        } else if (f->type == 'D') {
            wire::DataRow row;
            if (!wire::decode(f->body, row).ok()) return false;
            auto& values = out.rows.emplace_back();
            for (const auto& v : row.columns)
                values.push_back(v ? std::optional<std::string>(std::string(
                                         reinterpret_cast<const char*>(v->data()), v->size()))
                                   : std::nullopt);
            out.frames.push_back(whole);
        } else if (f->type == 'N') {
            out.notices.append(whole);
        }
        pos += f->size;
    }
    return !out.row_description.empty();
}

void append_select_tag(std::string& out, size_t count) {
    wire::MessageWriter w(out);
    wire::encode(wire::CommandComplete{"SELECT " + std::to_string(count)}, w);
}

}  // namespace sg::proxy
