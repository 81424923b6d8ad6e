// ProxySet with a registry (etcd): which proxies a switch pauses, and when a silent one is
// gone (rebalance/proxies.h, rebalance/proxy_registry.h).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "rebalance/pg_timed.h"
#include "rebalance/proxies.h"

namespace sg::rebalance {

namespace {

std::pair<std::string, int> split_address(const std::string& a) {
    auto colon = a.rfind(':');
    if (colon == std::string::npos) return {a, 0};
    return {a.substr(0, colon), std::atoi(a.substr(colon + 1).c_str())};
}

}  // namespace

Expected<ProxySet> ProxySet::from_registry(const Config& cfg, ProxyRegistry& registry,
                                           const std::string& application) {
    ProxySet set;
    set.cfg_ = &cfg;
    set.registry_ = &registry;
    set.application_ = application;
    if (auto st = set.refresh(); !st) return st.error();
    return set;
}

bool ProxySet::any_unanswered() const {
    return std::any_of(conns_.begin(), conns_.end(),
                       [](const Proxy& p) { return !p.gone && p.reg && p.unanswered; });
}

Expected<ProxySet::Proxy> ProxySet::open_registered(const RegisteredProxy& r) {
    auto [host, port] = split_address(r.address);
    if (port <= 0) return Error{"22023", "registration " + r.key + ": bad address " + r.address};
    auto ep = proxy_endpoint(*cfg_, host, port);
    if (!ep) return ep.error();
    ep->application = application_;
    // A frozen proxy's kernel accepts the connection; the login then waits: keep that short.
    ep->connect_timeout_s = 2;
    Proxy p{*ep, nullptr, 0, r, false, false};
    auto c = connect(p.endpoint);
    if (c)
        p.conn = std::move(*c);
    else
        p.unanswered = true;
    return p;
}

Status ProxySet::settle(Proxy& p) {
    using Clock = std::chrono::steady_clock;
    const auto bound = lease_expiry_bound(*p.reg);
    spdlog::warn(
        "{} does not answer: waiting up to {} ms for it to answer or for its lease {:x} "
        "to expire",
        p.endpoint.label, bound.count(), p.reg->lease);
    const auto deadline = Clock::now() + bound;
    // The other proxies' pauses (after a decision: the switched buckets) must not lapse while
    // we wait: a lapsed pause would let them write before the commits.
    const auto renew_every = std::chrono::milliseconds(std::clamp(lease_ms_ / 4, 50, 500));
    auto next_renew = Clock::now();
    std::string why = "its registration is still there";
    while (Clock::now() < deadline) {
        auto g = registry_->gone(*p.reg);
        if (!g) why = g.error().message;
        if (g && *g) {
            spdlog::warn(
                "{}: its lease {:x} expired; it fences itself, the switches go on without it",
                p.endpoint.label, p.reg->lease);
            p.gone = true;
            p.conn.reset();
            p.pause_id = 0;
            return Ok{};
        }
        if (Clock::now() >= next_renew) {
            for (auto& q : conns_) {
                if (&q == &p || q.gone || q.unanswered || q.pause_id == 0) continue;
                if (auto r = run(q, fmt::format("RENEW BUCKETS ID {}", q.pause_id)); !r)
                    spdlog::error("{}: the pause could not be renewed while waiting for {}: {}",
                                  q.endpoint.label, p.endpoint.label, r.error().message);
            }
            next_renew = Clock::now() + renew_every;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    p.unanswered = false;
    if (auto r = run(p, "SHOW VERSION"); r) return Ok{};
    return Error{"08006",
                 fmt::format("{} neither answers nor let its lease {:x} expire within {} ms ({}); "
                             "the switch cannot be finished without it: check that proxy, then "
                             "rerun `shardgate rebalance run`",
                             p.endpoint.label, p.reg->lease, bound.count(), why)};
}

Status ProxySet::refresh() {
    if (!registry_) return Ok{};
    // A proxy settled meanwhile may have registered again: read until nothing had to wait.
    for (int round = 0; round < 4; ++round) {
        auto listed = registry_->list();
        if (!listed) return listed.error();
        std::vector<Proxy> next;
        std::vector<bool> kept(conns_.size(), false);
        bool waited = false;
        for (const auto& r : *listed) {
            auto it = std::find_if(conns_.begin(), conns_.end(), [&](const Proxy& p) {
                return p.reg && p.reg->key == r.key && p.reg->lease == r.lease && !p.gone;
            });
            Proxy p;
            if (it != conns_.end()) {
                kept[it - conns_.begin()] = true;
                p = std::move(*it);
                it->gone = true;  // moved into `next`
            } else {
                auto opened = open_registered(r);
                if (!opened) return opened.error();
                p = std::move(*opened);
                spdlog::info("{} (registered under lease {:x}) joins the switches",
                             p.endpoint.label, r.lease);
            }
            if (p.unanswered) {
                if (auto st = settle(p); !st) return st;
                waited = true;
                if (p.gone) continue;
            }
            next.push_back(std::move(p));
        }
        for (size_t i = 0; i < conns_.size(); ++i)
            if (!kept[i] && !conns_[i].gone && conns_[i].reg)
                spdlog::info("{}: no longer registered (lease {:x}); left out",
                             conns_[i].endpoint.label, conns_[i].reg->lease);
        conns_ = std::move(next);
        if (!waited) return Ok{};
    }
    return Ok{};
}

}  // namespace sg::rebalance
