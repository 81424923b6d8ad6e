// The shard list in etcd (issue 22): `<prefix>/shards`, what a proxy needs to reach every
// shard the cluster's maps name, so a proxy learns a new shard from etcd without a config edit.
//
// Invariants:
// - The value holds names and endpoints only (host, port, dbname, standbys), never a user or
//   a password: credentials stay in each proxy's config. A shard a proxy's config does not
//   list logs in as the config's default shard entry does (its user/password; empty: the
//   users' server logins).
// - The list only grows and keeps its order (a shard's position is what its index means to
//   the proxies that learned it); it is written by compare-and-swap on the key's mod_revision,
//   like the map, and always BEFORE a map version naming a new shard is published, so a proxy,
//   which applies the keys of its watch in revision order, knows the shard before that map.
// - A proxy follows etcd's list (proxy/proxy_etcd_shards.cpp): for a shard both name, etcd's
//   endpoints win over the config's (each difference logged once); a shard only etcd has is
//   appended; a shard only the config has is kept (it owns no bucket of any published map).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "proxy/cluster/etcd_client.h"

namespace sg::cluster {

// Names and endpoints of `shards` as the stored JSON (no credentials).
std::string shard_list_json(const std::vector<ShardConfig>& shards);
// Parses a stored value; an error names the key and what is wrong. Entries have no
// credentials (filled in by merge_shard_list).
EtcdResult<std::vector<ShardConfig>> parse_shard_list(const std::string& value,
                                                      const std::string& key);

struct ShardListMerge {
    std::vector<ShardConfig> shards;       // what the proxy routes to from now on
    std::vector<std::string> differences;  // one line per shard whose config etcd overrides
    std::vector<std::string> added;        // names appended from etcd
    bool changed = false;                  // shards differs from `current`
};

// `current` (the shards the process uses, in index order) following `etcd`'s list; `configured`
// (the config file's [[shards]]) supplies credentials: a shard's own entry, else the entry of
// `default_shard` (may be null).
ShardListMerge merge_shard_list(const std::vector<ShardConfig>& current,
                                const std::vector<ShardConfig>& etcd,
                                const ShardConfig* default_shard);

struct StoredShardList {
    std::vector<ShardConfig> shards;
    int64_t mod_revision = 0;
};

// The list in etcd, nullopt when the key does not exist.
EtcdResult<std::optional<StoredShardList>> read_shard_list(EtcdClient& etcd,
                                                           const ClusterConfig& cluster);

// Makes etcd's list contain every shard of `shards` (appended in their order; entries etcd
// has already are kept as they are unless `override_endpoints`), by compare-and-swap, retried
// on a concurrent writer a few times. Creates the key when absent. Returns the list now stored.
EtcdResult<std::vector<ShardConfig>> publish_shards(EtcdClient& etcd, const ClusterConfig& cluster,
                                                    const std::vector<ShardConfig>& shards,
                                                    bool override_endpoints);

// For a tool or a starting proxy with [cluster] etcd: reads etcd's list (creating it from
// cfg.shards when absent) and makes cfg.shards follow it (merge_shard_list), logging each
// difference; returns the differences. Without etcd: nothing.
EtcdResult<std::vector<std::string>> follow_etcd_shards(Config& cfg);

}  // namespace sg::cluster
