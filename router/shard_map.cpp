#include "router/shard_map.h"

#include "common/files.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace sg::router {
namespace {

Error file_error(const std::string& source, const std::string& problem) {
    return Error{sqlstate::kConfigFileError, source + ": " + problem};
}

}  // namespace

ShardMap ShardMap::make_default(int bucket_bits, std::vector<std::string> shard_names,
                                uint64_t version) {
    ShardMap m;
    m.version_ = version;
    m.bucket_bits_ = bucket_bits;
    m.map_.resize(size_t{1} << bucket_bits);
    const size_t n = shard_names.empty() ? 1 : shard_names.size();
    for (size_t b = 0; b < m.map_.size(); ++b) m.map_[b] = static_cast<uint16_t>(b % n);
    m.shard_names_ = std::move(shard_names);
    m.index_owners();
    return m;
}

Expected<ShardMap> ShardMap::from_parts(uint64_t version, int bucket_bits,
                                        std::vector<std::string> shard_names,
                                        std::vector<uint16_t> map, const std::string& source) {
    if (bucket_bits < 1 || bucket_bits > kMaxBucketBits) {
        return file_error(source, "bucket_bits: must be between 1 and " +
                                      std::to_string(kMaxBucketBits) + ", got " +
                                      std::to_string(bucket_bits));
    }
    if (shard_names.empty()) return file_error(source, "shards: at least one shard is required");
    std::set<std::string> seen;
    for (const auto& n : shard_names) {
        if (n.empty()) return file_error(source, "shards: empty shard name");
        if (!seen.insert(n).second)
            return file_error(source, "shards: duplicate shard \"" + n + "\"");
    }
    if (map.size() != (size_t{1} << bucket_bits)) {
        return file_error(source, "map: has " + std::to_string(map.size()) +
                                      " entries, bucket_bits " + std::to_string(bucket_bits) +
                                      " needs " + std::to_string(size_t{1} << bucket_bits));
    }
    for (size_t b = 0; b < map.size(); ++b) {
        if (map[b] >= shard_names.size()) {
            return file_error(source, "map[" + std::to_string(b) + "]: shard index " +
                                          std::to_string(map[b]) + " is not in shards (" +
                                          std::to_string(shard_names.size()) + " shards)");
        }
    }
    ShardMap m;
    m.version_ = version;
    m.bucket_bits_ = bucket_bits;
    m.shard_names_ = std::move(shard_names);
    m.map_ = std::move(map);
    m.index_owners();
    return m;
}

Expected<ShardMap> ShardMap::from_json(std::string_view text, const std::string& source) {
    auto j = nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return file_error(source, "not valid JSON");
    if (!j.is_object()) return file_error(source, "expected a JSON object");
    for (const char* key : {"version", "bucket_bits", "shards", "map"}) {
        if (!j.contains(key)) return file_error(source, std::string(key) + ": missing");
    }
    if (!j["version"].is_number_unsigned()) {
        return file_error(source, "version: must be a non-negative integer");
    }
    if (!j["bucket_bits"].is_number_integer()) {
        return file_error(source, "bucket_bits: must be an integer");
    }
    if (!j["shards"].is_array()) return file_error(source, "shards: must be an array of names");
    if (!j["map"].is_array()) return file_error(source, "map: must be an array of shard indexes");
    std::vector<std::string> names;
    for (const auto& n : j["shards"]) {
        if (!n.is_string()) return file_error(source, "shards: every entry must be a string");
        names.push_back(n.get<std::string>());
    }
    std::vector<uint16_t> map;
    map.reserve(j["map"].size());
    for (const auto& v : j["map"]) {
        if (!v.is_number_unsigned() || v.get<uint64_t>() > 0xffff) {
            return file_error(source,
                              "map[" + std::to_string(map.size()) + "]: must be a shard index");
        }
        map.push_back(static_cast<uint16_t>(v.get<uint64_t>()));
    }
    return from_parts(j["version"].get<uint64_t>(), j["bucket_bits"].get<int>(), std::move(names),
                      std::move(map), source);
}

std::string ShardMap::to_json() const {
    nlohmann::json j;
    j["version"] = version_;
    j["bucket_bits"] = bucket_bits_;
    j["shards"] = shard_names_;
    j["map"] = map_;
    return j.dump() + "\n";
}

int ShardMap::shard_index(std::string_view name) const {
    for (size_t i = 0; i < shard_names_.size(); ++i) {
        if (shard_names_[i] == name) return static_cast<int>(i);
    }
    return -1;
}

void ShardMap::index_owners() {
    owns_.assign(shard_names_.size(), false);
    for (uint16_t s : map_)
        if (s < owns_.size()) owns_[s] = true;
    serving_.clear();
    for (size_t s = 0; s < owns_.size(); ++s)
        if (owns_[s]) serving_.push_back(static_cast<uint16_t>(s));
}

std::vector<ShardMap::Range> ShardMap::ranges() const {
    std::vector<Range> out;
    for (uint32_t b = 0; b < map_.size(); ++b) {
        if (!out.empty() && out.back().shard == map_[b]) {
            out.back().last = b;
        } else {
            out.push_back(Range{b, b, map_[b]});
        }
    }
    return out;
}

ShardMap ShardMap::split_buckets() const {
    ShardMap m = *this;
    m.bucket_bits_ = bucket_bits_ + 1;
    m.version_ = version_ + 1;
    m.map_.insert(m.map_.end(), map_.begin(), map_.end());  // map[b + 2^bits] = map[b]
    return m;
}

Expected<ShardMap> ShardMap::with_assignment(uint32_t first, uint32_t last, uint16_t shard) const {
    if (first > last || last >= map_.size() || shard >= shard_names_.size()) {
        return Error{sqlstate::kInvalidParameterValue,
                     "invalid bucket assignment [" + std::to_string(first) + ", " +
                         std::to_string(last) + "] -> shard " + std::to_string(shard)};
    }
    ShardMap m = *this;
    for (uint32_t b = first; b <= last; ++b) m.map_[b] = shard;
    m.version_ = version_ + 1;
    m.index_owners();
    return m;
}

Expected<ShardMap> load_shard_map(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return file_error(path, std::string("cannot open: ") + std::strerror(errno));
    std::stringstream buf;
    buf << in.rdbuf();
    if (in.bad()) return file_error(path, std::string("read failed: ") + std::strerror(errno));
    return ShardMap::from_json(buf.str(), path);
}

Status save_shard_map(const ShardMap& map, const std::string& path) {
    if (auto p = replace_file_atomically(path, map.to_json()))
        return file_error(p->path, p->problem);
    return Ok{};
}

Expected<ShardMap> default_map(const Config& cfg) {
    std::vector<std::string> config_names;
    for (const auto& s : cfg.shards) config_names.push_back(s.name);
    ShardMap m = ShardMap::make_default(cfg.sharding.bucket_bits, config_names);
    return ShardMap::from_parts(m.version(), m.bucket_bits(), m.shard_names(), m.buckets(),
                                cfg.source);
}

Expected<ShardMap> load_configured_map(const std::string& path, const Config& cfg) {
    std::vector<std::string> config_names;
    for (const auto& s : cfg.shards) config_names.push_back(s.name);
    std::error_code ec;
    if (!std::filesystem::exists(path, ec))
        return file_error(path, "the shard map file does not exist; `shardgate init -c " +
                                    cfg.source + "` creates it for a new cluster");
    auto loaded = load_shard_map(path);
    if (!loaded) return loaded.error();
    const ShardMap& file = *loaded;
    if (file.bucket_bits() != cfg.sharding.bucket_bits) {
        return file_error(path, "bucket_bits " + std::to_string(file.bucket_bits()) +
                                    " differs from [sharding] bucket_bits " +
                                    std::to_string(cfg.sharding.bucket_bits) + " in " + cfg.source +
                                    "; the map file is authoritative, update the config");
    }
    // Re-index to the configuration's shard order so a shard index means the same thing to
    // the router and to the pools.
    std::vector<uint16_t> remap(file.shard_names().size());
    for (size_t i = 0; i < file.shard_names().size(); ++i) {
        int idx = cfg.shard_index(file.shard_names()[i]);
        if (idx < 0) {
            return file_error(path, "shards: \"" + file.shard_names()[i] +
                                        "\" is not a [[shards]] entry in " + cfg.source);
        }
        remap[i] = static_cast<uint16_t>(idx);
    }
    std::vector<uint16_t> map = file.buckets();
    for (auto& s : map) s = remap[s];
    return ShardMap::from_parts(file.version(), file.bucket_bits(), config_names, std::move(map),
                                path);
}

}  // namespace sg::router
