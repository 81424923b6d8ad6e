// The subcommands of the `shardgate` binary; each returns the process exit code.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/config.h"

namespace sg::cli {

int run_check(const Config& cfg, bool json);
int run_serve(const Config& cfg, const std::string& config_path);
// `shardgate recover`: resolves leftover prepared transactions of shardgate's two-phase commits.
int run_recover(const Config& cfg, bool all);
// `shardgate init`: creates the cluster's map (version 1) or adopts the existing file.
int run_init(const Config& cfg);
// Reports the map file against every shard's stamp (text on stdout, or into *json_out);
// whether they agree.
bool check_map(const Config& cfg, nlohmann::json* json_out);
// `shardgate map show|publish`: the shard map in etcd (cli/cmd_map.cpp).
int run_map_show(const Config& cfg, bool json);
int run_map_publish(const Config& cfg, const std::string& map_path);
int run_route(const Config& cfg, const std::string& sql, const std::vector<std::string>& params,
              bool json);

}  // namespace sg::cli
