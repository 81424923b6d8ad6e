// Process-wide logging setup. Library code logs through spdlog's default logger; only this
// file decides where it goes and at which level.
#pragma once

#include <string>

namespace sg {

// level: trace|debug|info|warn|error|critical|off. Returns false for an unknown level.
bool init_logging(const std::string& level);
bool set_log_level(const std::string& level);

}  // namespace sg
