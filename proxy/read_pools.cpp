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
    const auto& sc = cfg_.shards[shard];
    const HealthConfig& hc = cfg_.health;
    const health::EndpointHealth& e = health_->shard(shard)->endpoints.at(endpoint);
    ServerTarget t{shard,
                   sc.name,
                   e.host,
                   e.port,
                   sc.dbname,
                   login.user,
                   login.password,
                   cfg_.proxy.connect_timeout_ms,
                   health::TcpOptions{hc.tcp_keepalive, hc.tcp_keepidle_s, hc.tcp_keepintvl_s, hc.tcp_keepcnt,
                                      hc.tcp_user_timeout_ms},
                   0,
                   endpoint};
    auto p = std::make_unique<Pool>(io_.get_executor(), t, cfg_.proxy.pool_size, cfg_.proxy.pool_timeout_ms);
    p->set_checks(PoolChecks{nullptr, hc.server_check_delay_ms, hc.check_timeout_ms, hc.server_lifetime_s});
    auto& ref = *p;
    pools_.emplace(key, std::move(p));
    return ref;
}

}  // namespace sg::proxy
