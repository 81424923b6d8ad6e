// Reading [cluster] (common/cluster_config.h); used by common/config.cpp only, so that toml++
// stays out of config.h.
#pragma once

#include <toml++/toml.h>

#include <string>

#include "common/cluster_config.h"

namespace sg {

// Reads the [cluster] table (nullptr: absent, the defaults). Throws ConfigError naming the
// file and the key ("cluster.etcd[1]").
ClusterConfig parse_cluster(const toml::table* t, const std::string& file);

}  // namespace sg
