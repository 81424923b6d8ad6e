// The rebalancer's side of the proxy admin console: every proxy of the deployment pauses the
// buckets being switched, loads the new map version, and resumes — all of them acknowledge the
// new map before any resumes (rebalance.md, invariant 3).
//
// Every pause has a lease (proxy/pause_lease.h): a proxy lifts it by itself when the
// rebalancer does not renew or resume it in time (Ctrl-C, kill -9, a lost connection). Each
// proxy's pause is known by the id its PAUSE BUCKETS answered; renew() and resume() name it,
// so a pause that lapsed is reported, never silently replaced: a switch whose pause lapsed on
// some proxy (which then served the old owner) must not be decided.
//
// With a registry (etcd, rebalance/proxy_registry.h) the set is the registered proxies, read
// again before every switch (refresh), and every request has a bound (kProxyAnswerBound): a
// proxy that does not answer is "unanswered". Before a decision that aborts the switch (the old
// owner keeps serving); the next refresh waits, bounded, until it answers again or its lease
// has expired (then it is gone: it fences itself, so it is left out). After a decision the
// same wait happens at once, and the switch goes on without a proxy whose lease expired.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "rebalance/pg.h"
#include "rebalance/proxy_registry.h"
#include "rebalance/switch_participants.h"

namespace sg::rebalance {

class ProxySet : public SwitchParticipants {
public:
    // `extra` are additional "host:port" proxies besides the config's [proxy] address (with
    // `exact`, the whole set: the proxies registered in etcd); `application` is the
    // application_name the proxies show as the pauses' owner.
    static Expected<ProxySet> connect_all(const Config& cfg, const std::vector<std::string>& extra,
                                          const std::string& application = "shardgate-rebalance",
                                          bool exact = false);

    // The registered proxies of `registry` (which must outlive the set); see the top.
    static Expected<ProxySet> from_registry(const Config& cfg, ProxyRegistry& registry,
                                            const std::string& application);
    // With a registry: the registered proxies now (new ones connected, gone ones left out,
    // unanswered ones settled); an error when one neither answers nor lets its lease expire
    // within its bound. Without: nothing.
    Status refresh() override;
    // Whether a request of the last pause/renew went unanswered (the switch must abort).
    bool any_unanswered() const override;

    // PAUSE BUCKETS on every proxy with a lease of `lease_ms`; when one cannot drain within
    // `drain_ms` (57014) or fails, the ones already paused are resumed and the error returned.
    Status pause(const std::string& runs, uint64_t from_version, int drain_ms, int lease_ms) override;
    // RENEW BUCKETS on every proxy: an error (55000) names a proxy whose pause lapsed or ended.
    Status renew() override;
    // RELOAD MAP on every proxy; each must answer a version >= `version` within
    // kReloadWaitMs (a proxy following etcd has its copy written by its watch a moment after
    // the publication, so an older answer is asked again until then).
    Status reload(uint64_t version) override;
    // RESUME BUCKETS on every proxy (naming this set's pause where it has one). A pause that
    // lapsed already is released: logged, not an error. `lapsed` (optional) gets their labels.
    Status resume(std::vector<std::string>* lapsed = nullptr) override;
    size_t size() const { return conns_.size(); }
    static constexpr int kReloadWaitMs = 3000;

private:
    struct Proxy {
        Endpoint endpoint;
        Conn conn;
        uint64_t pause_id = 0;               // the pause this set holds there (0: none)
        std::optional<RegisteredProxy> reg;  // with a registry
        bool unanswered = false;             // a request got no answer (or the link failed)
        bool gone = false;                   // its lease expired: left out from now on
    };
    Status reconnect(Proxy& p);
    Expected<Result> run(Proxy& p, const std::string& sql);
    // A proxy of the registry that did not answer: waits (bounded) for its lease to expire
    // (then it is gone) or, at the bound, asks it once more. Ok: gone or answering.
    Status settle(Proxy& p);
    Expected<Proxy> open_registered(const RegisteredProxy& r);
    const Config* cfg_ = nullptr;
    int lease_ms_ = 2000;  // of the pauses this set takes (renewed while settling)
    ProxyRegistry* registry_ = nullptr;
    std::string application_;
    std::vector<Proxy> conns_;
};

}  // namespace sg::rebalance
