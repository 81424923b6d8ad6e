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
// This is the file-based default's channel (`--proxy`); with [cluster] etcd the pauses go
// through etcd instead (cli/rebalance_pauses.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rebalance/pg.h"
#include "rebalance/switch_participants.h"

namespace sg::rebalance {

class ProxySet : public SwitchParticipants {
public:
    // `extra` are additional "host:port" proxies besides the config's [proxy] address (with
    // `exact`, the whole set); `application` is the application_name the proxies show as the
    // pauses' owner. Every proxy must be reachable: one that is not stops the run.
    static Expected<ProxySet> connect_all(const Config& cfg, const std::vector<std::string>& extra,
                                          const std::string& application = "shardgate-rebalance",
                                          bool exact = false);

    // The set is fixed: nothing to read again; a proxy that does not answer is an error.
    Status refresh() override { return Ok{}; }
    bool any_unanswered() const override { return false; }

    // PAUSE BUCKETS on every proxy with a lease of `lease_ms`; when one cannot drain within
    // `drain_ms` (57014) or fails, the ones already paused are resumed and the error returned.
    Status pause(const std::string& runs, uint64_t from_version, int drain_ms,
                 int lease_ms) override;
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
        uint64_t pause_id = 0;  // the pause this set holds there (0: none)
    };
    Status reconnect(Proxy& p);
    Expected<Result> run(Proxy& p, const std::string& sql);
    std::vector<Proxy> conns_;
};

}  // namespace sg::rebalance
