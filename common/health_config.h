// [health]: the timeouts, checks and circuit breaker that keep one sick shard from hanging
// the clients of every shard. Read with the rest of the configuration (common/config.cpp).
#pragma once

namespace sg {

struct HealthConfig {
    // Proxy-side bound on one statement (0 = off): when a shard has not answered within it the
    // proxy sends a cancel (the client gets the shard's 57014); when the shard does not answer
    // the cancel within query_timeout_grace_ms either, the server connection is dropped and the
    // client gets 57014 from the proxy.
    int query_timeout_ms = 0;
    int query_timeout_grace_ms = 1000;
    // An idle pooled connection unused for longer than this is checked (an empty query bounded
    // by check_timeout_ms) before a client gets it; 0 = never.
    int server_check_delay_ms = 30000;
    // Server connections older than this are closed when they come back to the pool; 0 = never.
    int server_lifetime_s = 3600;
    // TCP keepalive and TCP_USER_TIMEOUT on server connections (a dead peer or a partition is
    // noticed by the kernel even when the proxy is only waiting).
    bool tcp_keepalive = true;
    int tcp_keepidle_s = 30;
    int tcp_keepintvl_s = 10;
    int tcp_keepcnt = 3;
    int tcp_user_timeout_ms = 10000;  // 0 = the kernel's default
    // Background check of every shard: connect (when its connection is gone) + an empty query.
    bool check_enabled = true;
    int check_interval_ms = 500;
    int check_timeout_ms = 500;
    // Consecutive failures (checks, connect failures, statements the shard did not answer)
    // that open a shard's circuit breaker; while open, statements for it fail at once (08006).
    int breaker_failures = 2;
};

}  // namespace sg
