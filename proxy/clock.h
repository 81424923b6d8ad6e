// The proxy's clocks, without Asio: code that only stamps or compares times (statistics,
// protocol machines, console formatting) includes this instead of proxy/net.h.
#pragma once

#include <chrono>
#include <ctime>

namespace sg::net {

using Clock = std::chrono::steady_clock;

// The steady clock at the kernel's tick resolution (a few milliseconds), cheaper to read than
// now(): for "last used" stamps that idle timeouts compare in seconds, never for latencies.
inline Clock::time_point coarse_now() {
    timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return Clock::time_point(std::chrono::duration_cast<Clock::duration>(
        std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec)));
}

}  // namespace sg::net
