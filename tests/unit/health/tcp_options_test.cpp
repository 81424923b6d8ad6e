#include "proxy/health/tcp_options.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

using sg::proxy::health::apply_tcp_options;
using sg::proxy::health::TcpOptions;

namespace {
int get(int fd, int level, int name) {
    int v = -1;
    socklen_t len = sizeof v;
    EXPECT_EQ(::getsockopt(fd, level, name, &v, &len), 0);
    return v;
}
}  // namespace

TEST(TcpOptions, AppliesKeepaliveAndUserTimeout) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    TcpOptions o;
    o.keepidle_s = 7;
    o.keepintvl_s = 3;
    o.keepcnt = 4;
    o.user_timeout_ms = 2500;
    EXPECT_EQ(apply_tcp_options(fd, o), "");
    EXPECT_EQ(get(fd, SOL_SOCKET, SO_KEEPALIVE), 1);
    EXPECT_EQ(get(fd, IPPROTO_TCP, TCP_KEEPIDLE), 7);
    EXPECT_EQ(get(fd, IPPROTO_TCP, TCP_KEEPINTVL), 3);
    EXPECT_EQ(get(fd, IPPROTO_TCP, TCP_KEEPCNT), 4);
    EXPECT_EQ(get(fd, IPPROTO_TCP, TCP_USER_TIMEOUT), 2500);
    ::close(fd);
}

TEST(TcpOptions, KeepaliveOffAndUserTimeoutLeftAlone) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    TcpOptions o;
    o.keepalive = false;
    o.user_timeout_ms = 0;
    EXPECT_EQ(apply_tcp_options(fd, o), "");
    EXPECT_EQ(get(fd, SOL_SOCKET, SO_KEEPALIVE), 0);
    EXPECT_EQ(get(fd, IPPROTO_TCP, TCP_USER_TIMEOUT), 0);
    ::close(fd);
}

TEST(TcpOptions, ReportsTheFailingOption) {
    TcpOptions o;
    std::string err = apply_tcp_options(-1, o);
    EXPECT_NE(err.find("SO_KEEPALIVE"), std::string::npos) << err;
}
