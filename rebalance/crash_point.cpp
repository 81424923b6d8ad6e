#include "rebalance/crash_point.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "rebalance/interrupt.h"

namespace sg::rebalance {

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
}

}  // namespace sg::rebalance
