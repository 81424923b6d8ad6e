// Read pools (issue 19): one per (shard, standby endpoint, server login), beside the shard's
// primary pool in Proxy::pools(). They carry no circuit breaker: a standby that stops answering
// is banned by its role check (proxy/health/role_watch.cpp) and reads go elsewhere; the shard's
// breaker stays the primary's.
#include "proxy/health/monitor.h"
#include "proxy/proxy.h"

namespace sg::proxy {

Pool& Proxy::read_pool(int shard, int endpoint, const UserConfig& user) {
    ServerLogin login = server_login(cfg_.shards[shard], &user);
    auto key = std::make_pair(shard, login.user + "@" + std::to_string(endpoint));
    auto it = pools_.find(key);
    if (it != pools_.end()) return *it->second;
    const health::EndpointHealth& e = health_->shard(shard)->endpoints.at(endpoint);
    return add_pool(std::move(key), shard, login, e.host, e.port, endpoint, nullptr);
}

Pool& Proxy::read_or_primary_pool(int shard, int endpoint, const UserConfig& user) {
    const health::ShardHealth* h = health_->shard(shard);
    if (h && endpoint >= 0 && size_t(endpoint) < h->endpoints.size() && endpoint != h->primary)
        return read_pool(shard, endpoint, user);
    return pool(shard, user);
}

}  // namespace sg::proxy
