// The rebalancer's side of the proxy admin console: every proxy of the deployment pauses the
// buckets being switched, loads the new map version, and resumes — all of them acknowledge the
// new map before any resumes (rebalance.md, invariant 3).
#pragma once

#include <string>
#include <vector>

#include "rebalance/pg.h"

namespace sg::rebalance {

class ProxySet {
public:
    // `extra` are additional "host:port" proxies besides the config's [proxy] address.
    static Expected<ProxySet> connect_all(const Config& cfg, const std::vector<std::string>& extra);

    // PAUSE BUCKETS on every proxy; when one cannot drain within `timeout_ms` (57014) or
    // fails, the ones already paused are resumed and the error returned.
    Status pause(const std::string& runs, int timeout_ms);
    // RELOAD MAP on every proxy; each must answer a version >= `version`.
    Status reload(uint64_t version);
    Status resume();
    size_t size() const { return conns_.size(); }

private:
    struct Proxy {
        Endpoint endpoint;
        Conn conn;
    };
    Status reconnect(Proxy& p);
    Expected<Result> run(Proxy& p, const std::string& sql);
    std::vector<Proxy> conns_;
};

}  // namespace sg::rebalance
