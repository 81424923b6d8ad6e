#include "rebalance/crash_point.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "rebalance/interrupt.h"

namespace sg::rebalance {

namespace {

struct Delay {
    std::string point;
    long ms = 0;
    long left = 0;  // delays still to make
};

// "POINT:MS:COUNT"; anything else (or unset) delays nothing.
Delay parse_delay(const char* spec) {
    Delay d;
    if (!spec) return d;
    const std::string s(spec);
    const auto a = s.find(':'), b = s.rfind(':');
    if (a == std::string::npos || a == b) return d;
    char* end = nullptr;
    const long ms = std::strtol(s.c_str() + a + 1, &end, 10);
    if (end != s.c_str() + b || ms <= 0) return d;
    const long count = std::strtol(s.c_str() + b + 1, &end, 10);
    if (*end != '\0' || count <= 0) return d;
    d.point = s.substr(0, a);
    d.ms = ms;
    d.left = count;
    return d;
}

}  // namespace

void crash_point(const char* name) {
    static const char* wanted = std::getenv("SHARDGATE_REBALANCE_CRASH_AT");
    if (wanted && std::strcmp(wanted, name) == 0) std::raise(SIGKILL);
    static const char* stall = std::getenv("SHARDGATE_REBALANCE_STALL_AT");
    if (stall && std::strcmp(stall, name) == 0) {
        spdlog::warn("stalled at {} (SHARDGATE_REBALANCE_STALL_AT)", name);
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (!interrupted() && std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    static Delay delay = parse_delay(std::getenv("SHARDGATE_REBALANCE_DELAY_AT"));
    if (delay.left > 0 && delay.point == name) {
        --delay.left;
        spdlog::warn("delayed at {} for {} ms (SHARDGATE_REBALANCE_DELAY_AT)", name, delay.ms);
        const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(delay.ms);
        while (!interrupted() && std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

}  // namespace sg::rebalance
