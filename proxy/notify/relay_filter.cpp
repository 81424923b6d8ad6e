#include "proxy/notify/relay_filter.h"

#include <cstdint>

namespace sg::proxy::notify {

std::vector<net::asio::const_buffer> without_notifications(
    const std::vector<net::asio::const_buffer>& frames) {
    std::vector<net::asio::const_buffer> out;
    out.reserve(frames.size());
    for (const auto& b : frames) {
        const auto* p = static_cast<const unsigned char*>(b.data());
        const size_t n = b.size();
        size_t pos = 0, kept_from = 0;
        while (pos + 5 <= n) {
            const size_t len = (size_t(p[pos + 1]) << 24) | (size_t(p[pos + 2]) << 16) |
                               (size_t(p[pos + 3]) << 8) | size_t(p[pos + 4]);
            if (len < 4 || pos + 1 + len > n) break;  // (not whole messages: kept as they are)
            if (p[pos] == 'A') {
                if (pos > kept_from) out.emplace_back(p + kept_from, pos - kept_from);
                kept_from = pos + 1 + len;
            }
            pos += 1 + len;
        }
        if (n > kept_from) out.emplace_back(p + kept_from, n - kept_from);
    }
    return out;
}

}  // namespace sg::proxy::notify
