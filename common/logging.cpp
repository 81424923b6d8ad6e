#include "common/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace sg {

bool set_log_level(const std::string& level) {
    auto lvl = spdlog::level::from_str(level);
    // from_str maps unknown names to "off"; only accept "off" when it was asked for.
    if (lvl == spdlog::level::off && level != "off") return false;
    spdlog::set_level(lvl);
    return true;
}

bool init_logging(const std::string& level) {
    // Logs go to stderr so that command output (tables, JSON) on stdout stays machine-readable.
    auto logger = spdlog::stderr_color_mt("shardgate");
    spdlog::set_default_logger(logger);
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%t] %v");
    return set_log_level(level);
}

}  // namespace sg
