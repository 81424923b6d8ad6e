// `shardgate map show|publish`: the shard map kept in etcd ([cluster] etcd, issue 22).
//
// `publish` is how an operator or a tool hands every proxy a new map: it reads the key,
// refuses a version that is not newer than the stored one (or a map that does not fit the
// config), and writes with a compare-and-swap on the mod_revision it read, so a concurrent
// publisher makes it fail instead of being overwritten. Proxies watching the key apply it.
// Publishing moves no data: a map that changes the owner of buckets holding rows is the
// rebalancer's job (it copies the rows first).
#include <fmt/format.h>

#include <iostream>

#include "cli/commands.h"
#include "proxy/cluster/etcd_client.h"
#include "proxy/cluster/map_store.h"
#include "proxy/cluster/shard_list.h"
#include "router/map_stamp.h"

namespace sg::cli {

namespace {

cluster::EtcdOptions etcd_options(const Config& cfg) {
    return cluster::EtcdOptions{cfg.cluster.etcd,
                                std::chrono::milliseconds(cfg.cluster.etcd_timeout_ms)};
}

bool require_etcd(const Config& cfg, const char* verb) {
    if (cfg.cluster.uses_etcd()) return true;
    std::cerr << fmt::format(
        "shardgate map {}: {} has no [cluster] etcd; the map lives in {} (see shardgate init)\n",
        verb, cfg.source, cfg.map_path());
    return false;
}

}  // namespace

int run_map_show(const Config& cfg, bool json) {
    if (!require_etcd(cfg, "show")) return 2;
    cluster::EtcdClient etcd(etcd_options(cfg));
    auto r = cluster::read_map(etcd, cfg.cluster);
    if (!r) {
        std::cerr << "shardgate map show: " << r.error().message << "\n";
        return 1;
    }
    if (!*r) {
        std::cerr << fmt::format(
            "shardgate map show: etcd key {} does not exist (no proxy or tool has "
            "published a map yet)\n",
            cfg.cluster.map_key());
        return 1;
    }
    const auto& s = **r;
    if (json) {
        std::cout << s.map.to_json() << "\n";
        return 0;
    }
    std::cout << fmt::format(
        "etcd key {}: map version {} (hash {}), mod_revision {}, {} buckets over {} shard(s)\n",
        cfg.cluster.map_key(), s.map.version(), router::content_hash(s.map), s.mod_revision,
        s.map.bucket_count(), s.map.shard_names().size());
    for (const auto& range : s.map.ranges())
        std::cout << fmt::format("  buckets {}-{} -> {}\n", range.first, range.last,
                                 s.map.shard_names()[range.shard]);
    return 0;
}

int run_map_publish(const Config& cfg, const std::string& map_path) {
    if (!require_etcd(cfg, "publish")) return 2;
    auto next = router::load_shard_map(map_path);
    if (!next) {
        std::cerr << "shardgate map publish: " << next.error().message << "\n";
        return 2;
    }
    if (auto fits = cluster::check_map_against_config(*next, cfg, map_path); !fits) {
        std::cerr << "shardgate map publish: " << fits.error().message << "\n";
        return 2;
    }
    cluster::EtcdClient etcd(etcd_options(cfg));
    auto cur = cluster::read_map(etcd, cfg.cluster);
    if (!cur) {
        std::cerr << "shardgate map publish: " << cur.error().message << "\n";
        return 1;
    }
    // The shard list before the map: a proxy learns a shard's address from it before a map
    // naming the shard arrives. This config's endpoints are published (an operator's explicit
    // act); shards only etcd lists stay listed.
    if (auto listed = cluster::publish_shards(etcd, cfg.cluster, cfg.shards, true); !listed) {
        std::cerr << "shardgate map publish: cannot write the shard list: "
                  << listed.error().message << "\n";
        return 1;
    }
    const int64_t mod_rev = *cur ? (*cur)->mod_revision : 0;
    const uint64_t version = *cur ? (*cur)->map.version() : 0;
    auto p = cluster::publish_map(etcd, cfg.cluster, *next, mod_rev, version);
    if (!p) {
        std::cerr << "shardgate map publish: " << p.error().message << "\n";
        return 1;
    }
    if (!p->published) {
        std::cerr << fmt::format(
            "shardgate map publish: etcd key {} changed while publishing (now version {}); "
            "nothing written, read it again\n",
            cfg.cluster.map_key(),
            p->current ? std::to_string(p->current->map.version()) : "absent");
        return 1;
    }
    std::cout << fmt::format(
        "published map version {} (hash {}) to etcd key {} (mod_revision {})\n", next->version(),
        router::content_hash(*next), cfg.cluster.map_key(), p->mod_revision);
    return 0;
}

}  // namespace sg::cli
