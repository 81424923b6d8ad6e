#include "proxy/cluster/shard_list.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>

namespace sg::cluster {

namespace {

using nlohmann::json;

std::string endpoints_text(const ShardConfig& s) {
    std::string out = fmt::format("{}:{}/{}", s.host, s.port, s.dbname);
    if (!s.replicas.empty()) {
        out += " standbys";
        for (const auto& r : s.replicas) out += fmt::format(" {}:{}", r.host, r.port);
    }
    return out;
}

bool same_endpoints(const ShardConfig& a, const ShardConfig& b) {
    return a.host == b.host && a.port == b.port && a.dbname == b.dbname && a.replicas == b.replicas;
}

const ShardConfig* find(const std::vector<ShardConfig>& v, const std::string& name) {
    for (const auto& s : v)
        if (s.name == name) return &s;
    return nullptr;
}

}  // namespace

std::string shard_list_json(const std::vector<ShardConfig>& shards) {
    json list = json::array();
    for (const auto& s : shards) {
        json replicas = json::array();
        for (const auto& r : s.replicas) replicas.push_back({{"host", r.host}, {"port", r.port}});
        // Deliberately no user and no password: credentials stay in each proxy's config.
        list.push_back({{"name", s.name},
                        {"host", s.host},
                        {"port", s.port},
                        {"dbname", s.dbname},
                        {"replicas", std::move(replicas)}});
    }
    return json{{"shards", std::move(list)}}.dump();
}

EtcdResult<std::vector<ShardConfig>> parse_shard_list(const std::string& value,
                                                      const std::string& key) {
    auto bad = [&](const std::string& why) {
        return EtcdError{fmt::format("etcd key {}: not a shard list ({})", key, why)};
    };
    json j = json::parse(value, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("shards") || !j["shards"].is_array())
        return bad("expected {\"shards\": [...]}");
    std::vector<ShardConfig> out;
    for (const auto& e : j["shards"]) {
        if (!e.is_object() || !e.contains("name") || !e["name"].is_string() ||
            !e.contains("host") || !e["host"].is_string() || !e.contains("port") ||
            !e["port"].is_number_unsigned() || !e.contains("dbname") || !e["dbname"].is_string())
            return bad("an entry lacks name, host, port or dbname: " + e.dump());
        ShardConfig s;
        s.name = e["name"].get<std::string>();
        s.host = e["host"].get<std::string>();
        const auto port = e["port"].get<uint64_t>();
        if (s.name.empty() || port == 0 || port > 65535)
            return bad("an entry has an empty name or a port out of range: " + e.dump());
        s.port = static_cast<uint16_t>(port);
        s.dbname = e["dbname"].get<std::string>();
        if (e.contains("replicas")) {
            if (!e["replicas"].is_array()) return bad("replicas of " + s.name + " is not an array");
            for (const auto& r : e["replicas"]) {
                if (!r.is_object() || !r.contains("host") || !r["host"].is_string() ||
                    !r.contains("port") || !r["port"].is_number_unsigned() ||
                    r["port"].get<uint64_t>() == 0 || r["port"].get<uint64_t>() > 65535)
                    return bad("a standby of " + s.name + " lacks host or port: " + r.dump());
                s.replicas.push_back(
                    ReplicaEndpoint{r["host"].get<std::string>(),
                                    static_cast<uint16_t>(r["port"].get<uint64_t>())});
            }
        }
        if (find(out, s.name)) return bad("shard '" + s.name + "' is listed twice");
        out.push_back(std::move(s));
    }
    return out;
}

ShardListMerge merge_shard_list(const std::vector<ShardConfig>& current,
                                const std::vector<ShardConfig>& etcd,
                                const ShardConfig* default_shard) {
    ShardListMerge m;
    m.shards = current;
    for (auto& s : m.shards) {
        const ShardConfig* e = find(etcd, s.name);
        if (!e || same_endpoints(s, *e)) continue;
        m.differences.push_back(
            fmt::format("shard '{}': config says {}, etcd says {}; following etcd", s.name,
                        endpoints_text(s), endpoints_text(*e)));
        s.host = e->host;
        s.port = e->port;
        s.dbname = e->dbname;
        s.replicas = e->replicas;
        m.changed = true;
    }
    for (const auto& e : etcd) {
        if (find(m.shards, e.name)) continue;
        ShardConfig s = e;
        // Credentials never come from etcd: the default shard's login (or the users' own).
        if (default_shard) {
            s.user = default_shard->user;
            s.password = default_shard->password;
        }
        m.added.push_back(s.name);
        m.differences.push_back(
            fmt::format("shard '{}' ({}) is in etcd's list, not in the config; following etcd",
                        s.name, endpoints_text(s)));
        m.shards.push_back(std::move(s));
        m.changed = true;
    }
    return m;
}

EtcdResult<std::optional<StoredShardList>> read_shard_list(EtcdClient& etcd,
                                                           const ClusterConfig& cluster) {
    const std::string key = cluster.shards_key();
    auto r = etcd.get(key);
    if (!r) return r.error();
    const KeyValue* kv = r->first();
    if (!kv) return std::optional<StoredShardList>();
    auto list = parse_shard_list(kv->value, key);
    if (!list) return list.error();
    return std::optional<StoredShardList>(StoredShardList{std::move(*list), kv->mod_revision});
}

EtcdResult<std::vector<ShardConfig>> publish_shards(EtcdClient& etcd, const ClusterConfig& cluster,
                                                    const std::vector<ShardConfig>& shards,
                                                    bool override_endpoints) {
    const std::string key = cluster.shards_key();
    // A concurrent writer (another proxy's bootstrap, `map publish`) makes the compare fail:
    // read again and merge again; the rebalance lock keeps rebalancers from racing at all.
    for (int attempt = 0; attempt < 5; ++attempt) {
        auto cur = read_shard_list(etcd, cluster);
        if (!cur) return cur.error();
        std::vector<ShardConfig> next = *cur ? (*cur)->shards : std::vector<ShardConfig>{};
        bool changed = !*cur;
        for (const auto& s : shards) {
            ShardConfig entry = s;
            entry.user.clear();
            entry.password.clear();
            auto it = std::find_if(next.begin(), next.end(),
                                   [&](const ShardConfig& e) { return e.name == s.name; });
            if (it == next.end()) {
                next.push_back(std::move(entry));
                changed = true;
            } else if (override_endpoints && !same_endpoints(*it, entry)) {
                *it = std::move(entry);
                changed = true;
            }
        }
        if (!changed) return next;
        auto t = etcd.cas(key, shard_list_json(next), *cur ? (*cur)->mod_revision : 0);
        if (!t) return t.error();
        if (t->succeeded) {
            spdlog::info("etcd key {}: shard list written ({} shard(s))", key, next.size());
            return next;
        }
    }
    return EtcdError{
        fmt::format("etcd key {} kept changing while the shard list was written; try again", key)};
}

EtcdResult<std::vector<std::string>> follow_etcd_shards(Config& cfg) {
    if (!cfg.cluster.uses_etcd()) return std::vector<std::string>{};
    EtcdClient etcd({cfg.cluster.etcd, std::chrono::milliseconds(cfg.cluster.etcd_timeout_ms)});
    auto cur = read_shard_list(etcd, cfg.cluster);
    if (!cur)
        return EtcdError{
            fmt::format("cannot read the shard map from etcd (its shard list, {}); refusing to "
                        "start without it: {}",
                        cfg.cluster.shards_key(), cur.error().message)};
    std::vector<ShardConfig> list;
    if (*cur) {
        list = std::move((*cur)->shards);
    } else {
        // No list yet (a brand-new cluster, or one published before the list existed): this
        // config's shards become it.
        auto p = publish_shards(etcd, cfg.cluster, cfg.shards, false);
        if (!p) return EtcdError{"cannot write the shard list to etcd: " + p.error().message};
        list = std::move(*p);
    }
    const int def = cfg.default_shard_index();
    const ShardConfig* def_shard =
        def >= 0 && static_cast<size_t>(def) < cfg.shards.size() ? &cfg.shards[def] : nullptr;
    auto m = merge_shard_list(cfg.shards, list, def_shard);
    for (const auto& d : m.differences) spdlog::warn("etcd {}: {}", cfg.cluster.shards_key(), d);
    cfg.shards = std::move(m.shards);
    return std::move(m.differences);
}

}  // namespace sg::cluster
