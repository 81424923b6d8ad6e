#include "proxy/cluster/map_store.h"

#include <fmt/format.h>

namespace sg::cluster {

EtcdResult<router::ShardMap> parse_stored_map(const std::string& value, const std::string& key) {
    auto m = router::ShardMap::from_json(value, "etcd key " + key);
    if (!m) return EtcdError{m.error().message};
    return std::move(*m);
}

EtcdResult<std::optional<StoredMap>> read_map(EtcdClient& etcd, const ClusterConfig& cluster) {
    const std::string key = cluster.map_key();
    auto r = etcd.get(key);
    if (!r) return r.error();
    const KeyValue* kv = r->first();
    if (!kv) return std::optional<StoredMap>();
    auto m = parse_stored_map(kv->value, key);
    if (!m) return m.error();
    return std::optional<StoredMap>(StoredMap{std::move(*m), kv->mod_revision, r->revision});
}

EtcdResult<PublishResult> publish_map(EtcdClient& etcd, const ClusterConfig& cluster,
                                      const router::ShardMap& next, int64_t expected_mod_revision,
                                      uint64_t expected_version) {
    const std::string key = cluster.map_key();
    if (next.version() <= expected_version)
        return EtcdError{
            fmt::format("map version {} is not newer than version {} in etcd key {}; publish "
                        "version {} or later",
                        next.version(), expected_version, key, expected_version + 1)};
    auto t = etcd.cas(key, next.to_json(), expected_mod_revision);
    if (!t) return t.error();
    PublishResult out;
    out.published = t->succeeded;
    if (t->succeeded) {
        out.mod_revision = t->revision;
        return out;
    }
    if (t->current) {
        auto m = parse_stored_map(t->current->value, key);
        if (!m) return m.error();
        out.current = StoredMap{std::move(*m), t->current->mod_revision, t->revision};
    }
    return out;
}

EtcdResult<router::Ok> check_map_against_config(const router::ShardMap& map, const Config& cfg,
                                                const std::string& source) {
    if (map.bucket_bits() != cfg.sharding.bucket_bits)
        return EtcdError{
            fmt::format("{}: bucket_bits {} differs from [sharding] bucket_bits {} in {}", source,
                        map.bucket_bits(), cfg.sharding.bucket_bits, cfg.source)};
    for (const auto& name : map.shard_names())
        if (cfg.shard_index(name) < 0)
            return EtcdError{fmt::format("{}: shard '{}' is not a [[shards]] entry of {}", source,
                                         name, cfg.source)};
    return router::Ok{};
}

}  // namespace sg::cluster
