#include "proxy/notice_merge.h"

#include <map>

#include "proxy/wire/frame_cursor.h"

namespace sg::proxy {

std::string merge_notices(const std::vector<std::string_view>& per_shard) {
    std::vector<std::string_view> order;      // distinct frames, first seen first
    std::map<std::string_view, size_t> most;  // frame -> the most copies one shard sent
    for (std::string_view frames : per_shard) {
        std::map<std::string_view, size_t> here;
        wire::FrameCursor cursor(frames);
        while (auto f = cursor.next()) {  // (complete frames only)
            const std::string_view frame = f->whole;
            if (!most.count(frame)) {
                order.push_back(frame);
                most[frame] = 0;
            }
            size_t n = ++here[frame];
            if (n > most[frame]) most[frame] = n;
        }
    }
    std::string out;
    for (std::string_view frame : order)
        for (size_t i = 0; i < most[frame]; ++i) out.append(frame);
    return out;
}

}  // namespace sg::proxy
