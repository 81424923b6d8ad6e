// RELOAD (SIGHUP, admin RELOAD) and [cluster] (issue 22): the etcd endpoints, the key prefix,
// the lease TTL and the request bound are read once, by the etcd agent's threads and by the
// routing window they define; changing them under a running agent would mix two clusters' keys
// or two lease lengths. So a reload that changes any of them is refused as a whole, naming the
// key, and never silently ignored: the operator restarts the proxy to apply it.
#pragma once

#include <string>

#include "common/cluster_config.h"

namespace sg {

// Empty when `next` keeps every [cluster] key of `now`; else why the reload is refused.
std::string cluster_reload_refusal(const ClusterConfig& now, const ClusterConfig& next);

}  // namespace sg
