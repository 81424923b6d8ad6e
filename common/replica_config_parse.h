// Reading the replica keys of the configuration (common/replica_config.h); used by
// common/config.cpp only, so that toml++ stays out of config.h.
#pragma once

#include <toml++/toml.h>

#include <string>
#include <vector>

#include "common/replica_config.h"

namespace sg {

// Reads `replicas` (an array of inline tables) of the shard at `key` ("shards[0].replicas");
// `default_host` is the shard's host. Throws ConfigError naming the file and the key.
std::vector<ReplicaEndpoint> parse_replicas(const toml::node& n, const std::string& file,
                                            const std::string& key,
                                            const std::string& default_host);

}  // namespace sg
