#include "rebalance/journal_binding.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/sqlstate.h"
#include "router/map_stamp.h"

namespace sg::rebalance {

Expected<std::map<std::string, std::string>> read_system_ids(const Config& cfg) {
    std::map<std::string, std::string> out;
    for (const auto& s : cfg.shards) {
        Endpoint ep = shard_endpoint(cfg, s);
        auto c = connect(ep);
        if (!c) return c.error();
        auto r =
            exec(c->get(), ep.label, "SELECT system_identifier::text FROM pg_control_system()");
        if (!r) {
            spdlog::warn(
                "{}: cannot read its system identifier ({}); the journal is not bound to it",
                ep.label, r.error().message);
            continue;
        }
        out[s.name] = PQgetvalue(r->get(), 0, 0);
    }
    return out;
}

std::string start_hash_from(const Journal& j, const router::ShardMap& current) {
    std::vector<uint16_t> b = current.buckets();
    for (const auto& m : j.moves) {
        int src = current.shard_index(m.source), dst = current.shard_index(m.target);
        if (src < 0 || dst < 0) continue;
        for (uint32_t x : m.buckets)
            if (x < b.size() && b[x] == dst) b[x] = static_cast<uint16_t>(src);
    }
    auto start = router::ShardMap::from_parts(j.start_version, current.bucket_bits(),
                                              current.shard_names(), std::move(b), "journal");
    return start ? router::content_hash(*start) : std::string("(invalid)");
}

Status check_binding(const Journal& j, const router::ShardMap& current,
                     const std::map<std::string, std::string>& ids,
                     const std::string& journal_path) {
    if (j.start_hash.empty()) {
        spdlog::warn("{} predates journal binding: resuming without checking its map",
                     journal_path);
        return Ok{};
    }
    if (current.bucket_bits() != j.bucket_bits || start_hash_from(j, current) != j.start_hash)
        return Error{
            sqlstate::kObjectNotInPrerequisiteState,
            fmt::format(
                "{} was written for map version {} (hash {}, {} bits), but the current map is "
                "version {} (hash {}, {} bits) and is not that map with this run's switches "
                "applied: its plan would move buckets from shards that no longer own them. "
                "Not resumed. If the map was replaced on purpose, run `shardgate rebalance "
                "abort` to drop what this run left, then plan again",
                journal_path, j.start_version, j.start_hash, j.bucket_bits, current.version(),
                router::content_hash(current), current.bucket_bits())};
    for (const auto& [shard, id] : j.system_ids) {
        auto it = ids.find(shard);
        if (it != ids.end() && it->second != id)
            return Error{
                sqlstate::kObjectNotInPrerequisiteState,
                fmt::format("{} was written when shard \"{}\" was PostgreSQL system {}, but it "
                            "is now system {}: another server under the same name. Not "
                            "resumed; run `shardgate rebalance abort`, then plan again",
                            journal_path, shard, id, it->second)};
    }
    return Ok{};
}

}  // namespace sg::rebalance
