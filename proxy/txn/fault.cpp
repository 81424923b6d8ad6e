#include "proxy/txn/fault.h"

#include <csignal>
#include <cstdlib>

namespace sg::proxy::txn {

bool crash_point_armed(std::string_view name) {
    static const char* wanted = std::getenv("SHARDGATE_TXN_CRASH_AT");
    return wanted && name == wanted;
}

void crash_point(std::string_view name) {
    if (crash_point_armed(name)) std::raise(SIGKILL);
}

}  // namespace sg::proxy::txn
