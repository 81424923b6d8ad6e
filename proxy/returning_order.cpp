#include "proxy/returning_order.h"

#include <cstdint>
#include <string_view>

namespace sg::proxy {

std::string returning_in_values_order(const std::string& reply, const std::vector<router::ShardRows>& parts) {
    size_t total = 0;
    for (const auto& p : parts) total += p.rows.size();
    // The DataRows, which run_fanout keeps together: [first, last) bytes of the reply.
    std::vector<std::string_view> rows;
    size_t first = std::string::npos, last = 0;
    for (size_t pos = 0; pos + 5 <= reply.size();) {
        const size_t len = (size_t(uint8_t(reply[pos + 1])) << 24) | (size_t(uint8_t(reply[pos + 2])) << 16) |
                           (size_t(uint8_t(reply[pos + 3])) << 8) | size_t(uint8_t(reply[pos + 4]));
        if (len < 4 || pos + 1 + len > reply.size()) return reply;
        if (reply[pos] == 'D') {
            if (first == std::string::npos) first = pos;
            else if (last != pos) return reply;  // not contiguous: not run_fanout's shape
            rows.emplace_back(reply.data() + pos, len + 1);
            last = pos + len + 1;
        }
        pos += len + 1;
    }
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
