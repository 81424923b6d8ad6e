#include "rebalance/proxies.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <thread>

#include "common/sqlstate.h"
#include "rebalance/pg_timed.h"
#include "rebalance/proxy_registry.h"

namespace sg::rebalance {

Expected<ProxySet> ProxySet::connect_all(const Config& cfg, const std::vector<std::string>& extra,
                                         const std::string& application, bool exact) {
    std::vector<std::pair<std::string, int>> addrs;
    std::string host = cfg.proxy.listen_addr;
    if (host.empty() || host == "0.0.0.0" || host == "*") host = "127.0.0.1";
    if (!exact) addrs.emplace_back(host, cfg.proxy.port);
    for (const auto& e : extra) {
        auto colon = e.rfind(':');
        if (colon == std::string::npos)
            return Error{sqlstate::kInvalidParameterValue, "--proxy " + e + ": expected host:port"};
        addrs.emplace_back(e.substr(0, colon), std::atoi(e.substr(colon + 1).c_str()));
    }
    ProxySet set;
    for (const auto& [h, port] : addrs) {
        auto ep = proxy_endpoint(cfg, h, port);
        if (!ep) return ep.error();
        ep->application = application;
        auto c = connect(*ep);
        if (!c)
            return Error{c.error().sqlstate,
                         c.error().message +
                             " (every proxy must be reachable to switch buckets safely; start it "
                             "or fix --proxy)"};
        set.conns_.push_back(Proxy{*ep, std::move(*c), 0});
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
    if (!p.conn || PQstatus(p.conn.get()) != CONNECTION_OK)
        if (auto st = reconnect(p); !st) return st.error();
    // Bounded: a frozen proxy (its kernel still accepts) must not hang the run. A late answer
    // must not be read as the next request's, so the connection is dropped on a timeout.
    auto r = exec_timed(p.conn.get(), p.endpoint.label, sql, kProxyAnswerBound);
    if (!r && (r.error().sqlstate == kNoAnswer || PQstatus(p.conn.get()) != CONNECTION_OK))
        p.conn.reset();
    return r;
}

Status ProxySet::pause(const std::string& runs, uint64_t /*from_version*/, int drain_ms,
                       int lease_ms) {
    std::string sql = fmt::format("PAUSE BUCKETS {} TIMEOUT {} DRAIN {}", runs, lease_ms, drain_ms);
    for (size_t i = 0; i < conns_.size(); ++i) {
        auto r = run(conns_[i], sql);
        if (!r) {
            (void)resume();
            return r.error();
        }
        // The answer names the pause: renewals and the resume name it in turn.
        conns_[i].pause_id =
            PQntuples(r->get()) > 0 ? std::strtoull(PQgetvalue(r->get(), 0, 0), nullptr, 10) : 0;
    }
    return Ok{};
}

Status ProxySet::renew() {
    for (auto& p : conns_) {
        if (p.pause_id == 0) continue;
        auto r = run(p, fmt::format("RENEW BUCKETS ID {}", p.pause_id));
        if (!r) return r.error();
    }
    return Ok{};
}

Status ProxySet::reload(uint64_t version) {
    for (auto& p : conns_) {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kReloadWaitMs);
        uint64_t got = 0;
        for (;;) {
            auto r = run(p, "RELOAD MAP");
            if (!r) return r.error();
            got = 0;
            if (PQntuples(r->get()) > 0 && PQnfields(r->get()) > 0)
                got = std::strtoull(PQgetvalue(r->get(), 0, 0), nullptr, 10);
            if (got >= version || std::chrono::steady_clock::now() >= deadline) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        if (got < version)
            return Error{sqlstate::kObjectNotInPrerequisiteState,
                         fmt::format("{}: RELOAD MAP answered version {}, expected {} or "
                                     "newer; is it reading the same map file?",
                                     p.endpoint.label, got, version)};
    }
    return Ok{};
}

Status ProxySet::resume(std::vector<std::string>* lapsed) {
    Status first = Ok{};
    for (auto& p : conns_) {
        const uint64_t id = p.pause_id;
        p.pause_id = 0;
        auto r =
            run(p, id ? fmt::format("RESUME BUCKETS ID {}", id) : std::string("RESUME BUCKETS"));
        if (!r && r.error().sqlstate == sqlstate::kObjectNotInPrerequisiteState) {
            // Lapsed (or replaced): the proxy released the buckets already.
            spdlog::warn("{}", r.error().message);
            if (lapsed) lapsed->push_back(p.endpoint.label);
            continue;
        }
        if (!r && first.ok()) first = r.error();
    }
    return first;
}

}  // namespace sg::rebalance
