#include "common/cluster_reload.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace sg {

namespace {

std::string refusal(const char* key, const std::string& from, const std::string& to) {
    return fmt::format(
        "[cluster] {} changed from {} to {}: RELOAD does not apply [cluster] keys (the etcd "
        "session and its lease were set up with the old values); nothing was reloaded; restart "
        "the proxy to apply it, or put the old value back",
        key, from, to);
}

}  // namespace

std::string cluster_reload_refusal(const ClusterConfig& now, const ClusterConfig& next) {
    if (now.etcd != next.etcd)
        return refusal("etcd", fmt::format("[{}]", fmt::join(now.etcd, ", ")),
                       fmt::format("[{}]", fmt::join(next.etcd, ", ")));
    if (now.prefix != next.prefix)
        return refusal("prefix", '"' + now.prefix + '"', '"' + next.prefix + '"');
    if (now.lease_ttl_s != next.lease_ttl_s)
        return refusal("lease_ttl_s", std::to_string(now.lease_ttl_s),
                       std::to_string(next.lease_ttl_s));
    if (now.etcd_timeout_ms != next.etcd_timeout_ms)
        return refusal("etcd_timeout_ms", std::to_string(now.etcd_timeout_ms),
                       std::to_string(next.etcd_timeout_ms));
    return {};
}

}  // namespace sg
