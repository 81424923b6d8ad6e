#include "proxy/returning_order.h"

#include "proxy/wire/frame_cursor.h"
#include "proxy/wire/protocol.h"

#include <cstdint>
#include <string_view>

namespace sg::proxy {

std::string returning_in_values_order(const std::string& reply,
                                      const std::vector<router::ShardRows>& parts) {
    size_t total = 0;
    for (const auto& p : parts) total += p.rows.size();
    // The DataRows, which run_fanout keeps together: [first, last) bytes of the reply.
    std::vector<std::string_view> rows;
    size_t first = std::string::npos, last = 0;
    wire::FrameCursor cursor(reply);
    while (auto f = cursor.next()) {
        if (f->type == wire::be::kDataRow) {
            if (first == std::string::npos)
                first = f->offset;
            else if (last != f->offset)
                return reply;  // not contiguous: not run_fanout's shape
            rows.push_back(f->whole);
            last = f->offset + f->whole.size();
        }
    }
    if (!cursor.at_end()) return reply;
    if (rows.size() != total || total == 0) return reply;
    std::vector<std::string_view> ordered(total);
    size_t k = 0;
    for (const auto& p : parts)
        for (uint32_t values_row : p.rows) {
            if (values_row >= total) return reply;
            ordered[values_row] = rows[k++];
        }
    std::string out;
    out.reserve(reply.size());
    out.append(reply, 0, first);
    for (auto r : ordered) out.append(r);
    out.append(reply, last);
    return out;
}

}  // namespace sg::proxy
