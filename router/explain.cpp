#include "router/explain.h"

namespace sg::router {
namespace {

std::string shard_name(const ShardMap& map, uint16_t s) {
    return s < map.shard_names().size() ? map.shard_names()[s] : "#" + std::to_string(s);
}

std::vector<std::string> reasons(const Analysis& a, const Route& r) {
    std::vector<std::string> why = a.why;
    why.insert(why.end(), r.why.begin(), r.why.end());
    return why;
}

}  // namespace

nlohmann::json explain_route_json(const Analysis& a, const Route& r, const ShardMap& map) {
    nlohmann::json j;
    j["statement"] = to_string(a.kind);
    j["table"] = a.table;
    j["placement"] = to_string(a.placement);
    if (a.table_config && a.table_config->kind == TableKind::Sharded) {
        j["shard_key"] = a.table_config->shard_key;
        j["key_type"] = to_string(a.table_config->key_type);
    }
    j["route"] = to_string(r.kind);
    j["map_version"] = map.version();
    j["keys"] = nlohmann::json::array();
    for (const auto& k : r.keys) {
        j["keys"].push_back(
            {{"value", k.text}, {"bucket", k.bucket}, {"shard", shard_name(map, k.shard)}});
    }
    j["shards"] = nlohmann::json::array();
    for (uint16_t s : r.shards) j["shards"].push_back(shard_name(map, s));
    if (!r.insert_rows.empty()) {
        j["insert_rows"] = nlohmann::json::object();
        for (const auto& sr : r.insert_rows) {
            for (uint32_t row : sr.rows)
                j["insert_rows"][shard_name(map, sr.shard)].push_back(row + 1);
        }
    }
    if (r.is_error()) j["error"] = {{"sqlstate", r.error.sqlstate}, {"message", r.error.message}};
    j["why"] = reasons(a, r);
    return j;
}

std::string explain_route(const Analysis& a, const Route& r, const ShardMap& map) {
    std::string out;
    auto line = [&](const std::string& label, const std::string& value) {
        out += label;
        out.append(label.size() < 12 ? 12 - label.size() : 1, ' ');
        out += value + "\n";
    };
    line("statement:", to_string(a.kind));
    if (!a.table.empty()) {
        std::string t = a.table + " (" + to_string(a.placement);
        if (a.table_config && a.table_config->kind == TableKind::Sharded) {
            t += ", key " + a.table_config->shard_key + " " + to_string(a.table_config->key_type);
        }
        line("table:", t + ")");
    }
    line("route:", to_string(r.kind));
    for (const auto& k : r.keys) {
        line("key:",
             k.text + " -> bucket " + std::to_string(k.bucket) + " -> " + shard_name(map, k.shard));
    }
    std::string shards;
    for (uint16_t s : r.shards) shards += (shards.empty() ? "" : ", ") + shard_name(map, s);
    if (!shards.empty()) line("shards:", shards);
    for (const auto& sr : r.insert_rows) {
        std::string rows;
        for (uint32_t row : sr.rows) rows += (rows.empty() ? "" : ", ") + std::to_string(row + 1);
        line("rows:", shard_name(map, sr.shard) + " <- rows " + rows);
    }
    if (r.is_error()) line("error:", r.error.sqlstate + " " + r.error.message);
    line("map:", "version " + std::to_string(map.version()) + ", " +
                     std::to_string(map.bucket_count()) + " buckets");
    for (const auto& w : reasons(a, r)) line("why:", w);
    return out;
}

}  // namespace sg::router
