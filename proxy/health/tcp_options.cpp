#include "proxy/health/tcp_options.h"

#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace sg::proxy::health {

namespace {
bool set(int fd, int level, int name, int value) {
    return ::setsockopt(fd, level, name, &value, sizeof value) == 0;
}
}  // namespace

std::string apply_tcp_options(int fd, const TcpOptions& o) {
    auto failed = [](const char* what) {
        return fmt::format("setsockopt({}): {}", what, std::strerror(errno));
    };
    if (!set(fd, SOL_SOCKET, SO_KEEPALIVE, o.keepalive ? 1 : 0)) return failed("SO_KEEPALIVE");
    if (o.keepalive) {
        if (!set(fd, IPPROTO_TCP, TCP_KEEPIDLE, o.keepidle_s)) return failed("TCP_KEEPIDLE");
        if (!set(fd, IPPROTO_TCP, TCP_KEEPINTVL, o.keepintvl_s)) return failed("TCP_KEEPINTVL");
        if (!set(fd, IPPROTO_TCP, TCP_KEEPCNT, o.keepcnt)) return failed("TCP_KEEPCNT");
    }
    if (o.user_timeout_ms > 0 && !set(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, o.user_timeout_ms))
        return failed("TCP_USER_TIMEOUT");
    return {};
}

}  // namespace sg::proxy::health
