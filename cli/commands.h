// The subcommands of the `shardgate` binary; each returns the process exit code.
#pragma once

#include <string>
#include <vector>

#include "common/config.h"

namespace sg::cli {

int run_check(const Config& cfg, bool json);
int run_serve(const Config& cfg, const std::string& config_path);
// `shardgate recover`: resolves leftover prepared transactions of shardgate's two-phase commits.
int run_recover(const Config& cfg, bool all);
int run_route(const Config& cfg, const std::string& sql, const std::vector<std::string>& params, bool json);

}  // namespace sg::cli
