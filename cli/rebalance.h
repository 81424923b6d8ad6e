// `shardgate rebalance plan|run|status|verify`: the entry point the CLI wires to CLI11.
#pragma once

#include <CLI/CLI.hpp>
#include <map>
#include <string>
#include <vector>

#include "common/config.h"

namespace sg::cli {

struct RebalanceOptions {
    std::string action;  // plan|run|status|verify
    std::vector<std::string> drain;
    bool dry_run = false;
    int max_pause_ms = 100;
    int pause_lease_ms = 0;  // 0: max(2000, 10 x max_pause_ms)
    int parallel = 1;
    std::map<std::string, double> weights;
    bool json = false;
    std::string state_dir;             // journal location; default next to the map file
    std::vector<std::string> proxies;  // extra proxies (host:port) besides [proxy]
};

// Adds the positional action and every flag of `shardgate rebalance` to `sub` (all but
// -c/--config, which main owns): --drain NAME (repeat), --dry-run, --max-pause-ms MS,
// --parallel N, --weight NAME=W (repeat), --json, --state-dir DIR, --proxy HOST:PORT (repeat).
void add_rebalance_options(CLI::App* sub, RebalanceOptions& opts);

int run_rebalance(const Config& cfg, const RebalanceOptions& opts);

}  // namespace sg::cli
