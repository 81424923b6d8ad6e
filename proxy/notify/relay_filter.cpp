#include "proxy/notify/relay_filter.h"
#include "proxy/wire/frame_cursor.h"
#include "proxy/wire/protocol.h"

#include <cstdint>

namespace sg::proxy::notify {

std::vector<net::asio::const_buffer> without_notifications(
    const std::vector<net::asio::const_buffer>& frames) {
    std::vector<net::asio::const_buffer> out;
    out.reserve(frames.size());
    for (const auto& b : frames) {
        const std::string_view buf(static_cast<const char*>(b.data()), b.size());
        size_t kept_from = 0;
        wire::FrameCursor cursor(buf);  // (bytes after the whole messages are kept as they are)
        while (auto f = cursor.next()) {
            if (f->type == wire::be::kNotificationResponse) {
                if (f->offset > kept_from)
                    out.emplace_back(buf.data() + kept_from, f->offset - kept_from);
                kept_from = f->offset + f->whole.size();
            }
        }
        if (buf.size() > kept_from)
            out.emplace_back(buf.data() + kept_from, buf.size() - kept_from);
    }
    return out;
}

}  // namespace sg::proxy::notify
