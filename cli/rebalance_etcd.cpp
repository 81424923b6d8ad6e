#include "cli/rebalance_etcd.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "common/sqlstate.h"
#include "proxy/cluster/etcd_bootstrap.h"
#include "proxy/cluster/map_store.h"
#include "proxy/cluster/shard_list.h"

namespace sg::cli {

namespace {

using std::chrono::milliseconds;

std::string lock_key(const Config& cfg) {
    return cfg.cluster.prefix + "/rebalance/lock";
}

cluster::EtcdOptions options(const Config& cfg) {
    return {cfg.cluster.etcd, milliseconds(cfg.cluster.etcd_timeout_ms)};
}

}  // namespace

std::string follow_rebalance_shards(Config& cfg) {
    auto r = cluster::follow_etcd_shards(cfg);
    return r ? std::string() : r.error().message;
}

std::string sync_rebalance_map(const Config& cfg) {
    if (!cfg.cluster.uses_etcd()) return {};
    auto v = cluster::sync_map_file_from_etcd(cfg);
    return v ? std::string() : v.error().message;
}

EtcdRebalance::EtcdRebalance(const Config& cfg) : cfg_(cfg), etcd_(options(cfg)) {}

cluster::EtcdResult<std::unique_ptr<EtcdRebalance>> EtcdRebalance::open(const Config& cfg) {
    std::unique_ptr<EtcdRebalance> r(new EtcdRebalance(cfg));
    auto& etcd = r->etcd_;
    auto grant = etcd.lease_grant(cfg.cluster.lease_ttl_s);
    if (!grant)
        return cluster::EtcdError{"cannot take the rebalance lock: " + grant.error().message};
    r->lease_ = grant->id;
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0) host[0] = 0;
    const std::string holder =
        nlohmann::json{{"host", host}, {"pid", static_cast<int64_t>(::getpid())}}.dump();
    auto taken = etcd.cas(lock_key(cfg), holder, 0, r->lease_);
    if (!taken || !taken->succeeded) {
        (void)etcd.lease_revoke(r->lease_);
        r->lease_ = 0;
        if (!taken)
            return cluster::EtcdError{"cannot take the rebalance lock: " + taken.error().message};
        return cluster::EtcdError{
            fmt::format("another rebalance holds the lock {} ({}); one rebalancer per cluster: "
                        "wait for it, or for its "
                        "lease of at most {} s to expire if it died",
                        lock_key(cfg), taken->current ? taken->current->value : "gone again",
                        cfg.cluster.lease_ttl_s)};
    }
    r->renewer_ = std::thread([p = r.get()] { p->renew_loop(); });
    // The shard list names every shard of this run's config before any map version that gives
    // a new one buckets is published (a proxy's watch delivers the list first, so it knows the
    // shard's address when that map arrives). Under the lock: no other rebalancer writes it.
    if (auto listed = cluster::publish_shards(etcd, cfg.cluster, cfg.shards, false); !listed)
        return cluster::EtcdError{"cannot write the shard list to etcd: " + listed.error().message};
    // The local file (read by planning, the journal binding and the switches) is the etcd map
    // as of now, read under the lock, so no other rebalancer changes it until we are done.
    if (auto v = cluster::sync_map_file_from_etcd(cfg); !v) return v.error();
    auto stored = cluster::read_map(etcd, cfg.cluster);
    if (!stored) return stored.error();
    if (!*stored) return cluster::EtcdError{"etcd key " + cfg.cluster.map_key() + " vanished"};
    r->map_mod_revision_ = (*stored)->mod_revision;
    spdlog::info("rebalance lock {} taken", lock_key(cfg));
    return r;
}

EtcdRebalance::~EtcdRebalance() {
    stop_ = true;
    if (renewer_.joinable()) renewer_.join();
    if (lease_ != 0) {
        (void)etcd_.delete_if_lease(lock_key(cfg_), lease_);
        (void)etcd_.lease_revoke(lease_);
    }
}

void EtcdRebalance::renew_loop() {
    cluster::EtcdClient etcd(options(cfg_));
    const milliseconds every(cfg_.cluster.lease_ttl_s * 1000 / 3);
    auto next = std::chrono::steady_clock::now() + every;
    while (!stop_) {
        std::this_thread::sleep_for(milliseconds(50));
        if (std::chrono::steady_clock::now() < next) continue;
        auto k = etcd.lease_keepalive(lease_);
        if (k && *k == 0) {
            spdlog::error(
                "the rebalance lock's lease expired: no further map version can be published");
            lost_ = true;
            return;
        }
        next = std::chrono::steady_clock::now() + (k ? every : milliseconds(200));
    }
}

rebalance::MapPublisher EtcdRebalance::publisher() {
    return [this](const router::ShardMap& next) -> router::Status {
        const std::string key = cfg_.cluster.map_key();
        if (lost_)
            return router::Error{sqlstate::kObjectNotInPrerequisiteState,
                                 "the rebalance lock was lost (its lease expired); not publishing"};
        auto t = etcd_.cas_guarded(key, next.to_json(), map_mod_revision_, lock_key(cfg_), lease_,
                                   cfg_.cluster.proxies_prefix(), registrations_revision_, pinned_);
        if (t && t->succeeded) {
            map_mod_revision_ = t->revision;
            return router::Ok{};
        }
        // A request that timed out may have been applied, and a retry on another member then
        // fails its compare: what etcd holds now decides (bounded by the lock's lease).
        const std::string want = next.to_json();
        const auto deadline =
            std::chrono::steady_clock::now() + std::chrono::seconds(cfg_.cluster.lease_ttl_s);
        std::string why = t ? "the compare failed" : t.error().message;
        while (std::chrono::steady_clock::now() < deadline) {
            auto cur = etcd_.get(key);
            if (!cur) {
                why = cur.error().message;
                std::this_thread::sleep_for(milliseconds(100));
                continue;
            }
            const cluster::KeyValue* kv = cur->first();
            if (kv && kv->value == want) {
                map_mod_revision_ = kv->mod_revision;
                return router::Ok{};  // it was ours
            }
            if (kv && kv->mod_revision == map_mod_revision_)
                return router::Error{
                    sqlstate::kObjectNotInPrerequisiteState,
                    fmt::format("etcd: map version {} not published: a proxy registered "
                                "after this switch read the registrations, or one that "
                                "acknowledged the pause changed its registration (its "
                                "pause lapsed), or the rebalance lock was lost; the "
                                "switch is retried",
                                next.version())};
            return router::Error{
                sqlstate::kObjectNotInPrerequisiteState,
                fmt::format("etcd: map version {} not published ({}): the map key "
                            "changed since this run read it, or the rebalance lock is "
                            "no longer held by this run",
                            next.version(), why)};
        }
        return router::Error{
            rebalance::kDecidedElsewhere,
            fmt::format("etcd: cannot tell whether map version {} was published ({}); stopping "
                        "without rolling the switch back: rerun `shardgate rebalance run`",
                        next.version(), why)};
    };
}

}  // namespace sg::cli
