#include "rebalance/proxies.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace sg::rebalance {

Expected<ProxySet> ProxySet::connect_all(const Config& cfg, const std::vector<std::string>& extra) {
    std::vector<std::pair<std::string, int>> addrs;
    std::string host = cfg.proxy.listen_addr;
    if (host.empty() || host == "0.0.0.0" || host == "*") host = "127.0.0.1";
    addrs.emplace_back(host, cfg.proxy.port);
    for (const auto& e : extra) {
        auto colon = e.rfind(':');
        if (colon == std::string::npos)
            return Error{"22023", "--proxy " + e + ": expected host:port"};
        addrs.emplace_back(e.substr(0, colon), std::atoi(e.substr(colon + 1).c_str()));
    }
    ProxySet set;
    for (const auto& [h, port] : addrs) {
        auto ep = proxy_endpoint(cfg, h, port);
        if (!ep) return ep.error();
        auto c = connect(*ep);
        if (!c)
            return Error{c.error().sqlstate,
                         c.error().message +
                             " (every proxy must be reachable to switch buckets safely; start it "
                             "or fix --proxy)"};
        set.conns_.push_back(Proxy{*ep, std::move(*c)});
    }
    return set;
}

Status ProxySet::reconnect(Proxy& p) {
    auto c = connect(p.endpoint);
    if (!c) return c.error();
    p.conn = std::move(*c);
    return Ok{};
}

Expected<Result> ProxySet::run(Proxy& p, const std::string& sql) {
    if (PQstatus(p.conn.get()) != CONNECTION_OK)
        if (auto st = reconnect(p); !st) return st.error();
    return exec(p.conn.get(), p.endpoint.label, sql);
}

Status ProxySet::pause(const std::string& runs, int timeout_ms) {
    std::string sql = fmt::format("PAUSE BUCKETS {} TIMEOUT {}", runs, timeout_ms);
    for (size_t i = 0; i < conns_.size(); ++i) {
        auto r = run(conns_[i], sql);
        if (!r) {
            for (size_t k = 0; k < i; ++k) run(conns_[k], "RESUME BUCKETS");
            return r.error();
        }
    }
    return Ok{};
}

Status ProxySet::reload(uint64_t version) {
    for (auto& p : conns_) {
        auto r = run(p, "RELOAD MAP");
        if (!r) return r.error();
        uint64_t got = 0;
        if (PQntuples(r->get()) > 0 && PQnfields(r->get()) > 0)
            got = std::strtoull(PQgetvalue(r->get(), 0, 0), nullptr, 10);
        if (got < version)
            return Error{"55000", fmt::format("{}: RELOAD MAP answered version {}, expected {} or "
                                              "newer; is it reading the same map file?",
                                              p.endpoint.label, got, version)};
    }
    return Ok{};
}

Status ProxySet::resume() {
    Status first = Ok{};
    for (auto& p : conns_) {
        auto r = run(p, "RESUME BUCKETS");
        if (!r && first.ok()) first = r.error();
    }
    return first;
}

}  // namespace sg::rebalance
