#include "proxy/notice_merge.h"

#include <map>

namespace sg::proxy {

namespace {
uint32_t be32(const char* p) {
    return (uint32_t(uint8_t(p[0])) << 24) | (uint32_t(uint8_t(p[1])) << 16) | (uint32_t(uint8_t(p[2])) << 8) |
           uint32_t(uint8_t(p[3]));
}
}  // namespace

std::string merge_notices(const std::vector<std::string_view>& per_shard) {
    std::vector<std::string_view> order;           // distinct frames, first seen first
    std::map<std::string_view, size_t> most;       // frame -> the most copies one shard sent
    for (std::string_view frames : per_shard) {
        std::map<std::string_view, size_t> here;
        for (size_t pos = 0; pos + 5 <= frames.size();) {
            size_t total = size_t(be32(frames.data() + pos + 1)) + 1;
            if (total < 5 || pos + total > frames.size()) break;  // (complete frames only)
            std::string_view frame = frames.substr(pos, total);
            if (!most.count(frame)) {
                order.push_back(frame);
                most[frame] = 0;
            }
            size_t n = ++here[frame];
            if (n > most[frame]) most[frame] = n;
            pos += total;
        }
    }
    std::string out;
    for (std::string_view frame : order)
        for (size_t i = 0; i < most[frame]; ++i) out.append(frame);
    return out;
}

}  // namespace sg::proxy
