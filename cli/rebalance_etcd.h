// `shardgate rebalance` with [cluster] etcd (issue 22): no --proxy list, one rebalancer per
// cluster, every map version decided in etcd.
//
// - The lock: `<prefix>/rebalance/lock`, created only if absent, under a lease this process
//   renews from a thread of its own; another rebalancer finds it and refuses. A rebalancer
//   that dies loses it at the lease's expiry.
// - The proxies: those registered under `<prefix>/proxies/`, read again before every switch
//   (cli/rebalance_pauses.h); each holds its registration under its own lease, so one
//   that died or froze disappears at its expiry, and only then is it switched without.
// - The decision of a switch is the compare-and-swap of `<prefix>/map` from the version the
//   run read to V+1, guarded by the lock's lease: a rebalancer that lost its lock cannot
//   publish, and neither can one whose view of the map is stale, nor one that has not seen a
//   proxy that registered after its last reading of the registrations (compare on their
//   create revisions). The proxies' watches load V+1 and ProxySet::reload waits until each
//   answers it before any resumes.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/config.h"
#include "proxy/cluster/etcd_client.h"
#include "rebalance/map_publisher.h"
#include "rebalance/proxy_registry.h"

namespace sg::cli {

class EtcdRebalance {
public:
    // Syncs the local map file from etcd, takes the lock and reads the registrations; the
    // error says what is in the way (another rebalancer's lock, etcd unreachable).
    static cluster::EtcdResult<std::unique_ptr<EtcdRebalance>> open(const Config& cfg);
    ~EtcdRebalance();  // stops renewing and releases the lock (if still ours)
    EtcdRebalance(const EtcdRebalance&) = delete;
    EtcdRebalance& operator=(const EtcdRebalance&) = delete;

    rebalance::MapPublisher publisher();
    // For the pauses through etcd (cli/rebalance_pauses.h), on the run's thread: the client,
    // the lock's lease (the pause key lives under it), the registrations' revision the next
    // decision compares against, and the acknowledging registrations it requires unchanged.
    cluster::EtcdClient& client() { return etcd_; }
    int64_t lease() const { return lease_; }
    void set_registrations_revision(int64_t r) { registrations_revision_ = r; }
    void pin_registrations(cluster::KeyRevisions pinned) { pinned_ = std::move(pinned); }

private:
    explicit EtcdRebalance(const Config& cfg);
    void renew_loop();

    const Config& cfg_;
    cluster::EtcdClient etcd_;
    int64_t lease_ = 0;
    int64_t map_mod_revision_ = 0;
    int64_t registrations_revision_ = 0;  // of the switch's reading: the decision's compare
    cluster::KeyRevisions pinned_;        // registrations that must not have changed
    std::atomic<bool> stop_{false};
    std::atomic<bool> lost_{false};
    std::thread renewer_;
};

// Makes cfg.shards follow etcd's shard list (proxy/cluster/shard_list.h); an error text when
// etcd cannot give it. Nothing without [cluster] etcd.
std::string follow_rebalance_shards(Config& cfg);

// Makes the local map file hold the etcd map (plan, verify, status, abort read it); an error
// text when etcd cannot give one. Empty without [cluster] etcd.
std::string sync_rebalance_map(const Config& cfg);

}  // namespace sg::cli
