// Socket options of server connections: TCP keepalive (a peer that vanished is noticed while
// the connection sits idle in a pool) and TCP_USER_TIMEOUT (data the shard does not
// acknowledge fails the connection instead of being retransmitted for ~15 minutes).
#pragma once

#include <string>

namespace sg::proxy::health {

struct TcpOptions {
    bool keepalive = true;
    int keepidle_s = 30;
    int keepintvl_s = 10;
    int keepcnt = 3;
    int user_timeout_ms = 10000;  // 0 = leave the kernel's default
};

// Applies `o` to the socket `fd`; returns an error text naming the option that failed.
std::string apply_tcp_options(int fd, const TcpOptions& o);

}  // namespace sg::proxy::health
