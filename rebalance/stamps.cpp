#include "rebalance/stamps.h"
#include "common/sqlstate.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace sg::rebalance {
namespace {

constexpr const char* kCreate =
    "CREATE SCHEMA IF NOT EXISTS shardgate; "
    "CREATE TABLE IF NOT EXISTS shardgate.map_stamp ("
    " singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),"
    " version bigint NOT NULL,"
    " content_hash text NOT NULL,"
    " stamped_at timestamptz NOT NULL DEFAULT now()); "
    "GRANT USAGE ON SCHEMA shardgate TO PUBLIC; "
    "GRANT SELECT ON shardgate.map_stamp TO PUBLIC";

Expected<bool> table_exists(PGconn* c, const std::string& label) {
    auto r = exec(c, label, "SELECT to_regclass('shardgate.map_stamp') IS NOT NULL");
    if (!r) return r.error();
    return std::string(PQgetvalue(r->get(), 0, 0)) == "t";
}

}  // namespace

Status ensure_stamp_table(PGconn* c, const std::string& label) {
    auto exists = table_exists(c, label);
    if (!exists) return exists.error();
    if (*exists) return Ok{};
    if (auto r = exec(c, label, kCreate); !r) return r.error();
    return Ok{};
}

Expected<std::optional<router::MapStamp>> read_stamp(PGconn* c, const std::string& label) {
    auto exists = table_exists(c, label);
    if (!exists) return exists.error();
    if (!*exists) return std::optional<router::MapStamp>{};
    auto r = exec(c, label, "SELECT version, content_hash FROM shardgate.map_stamp");
    if (!r) return r.error();
    if (PQntuples(r->get()) == 0) return std::optional<router::MapStamp>{};
    return std::optional<router::MapStamp>(router::MapStamp{
        std::strtoull(PQgetvalue(r->get(), 0, 0), nullptr, 10), PQgetvalue(r->get(), 0, 1)});
}

Status write_stamp(PGconn* c, const std::string& label, const router::MapStamp& stamp) {
    auto r =
        exec_params(c, label,
                    "INSERT INTO shardgate.map_stamp AS s (singleton, version, content_hash) "
                    "VALUES (true, $1, $2) ON CONFLICT (singleton) DO UPDATE SET version = "
                    "EXCLUDED.version, content_hash = EXCLUDED.content_hash, stamped_at = now() "
                    "WHERE s.version < EXCLUDED.version OR (s.version = EXCLUDED.version AND "
                    "s.content_hash = EXCLUDED.content_hash)",
                    {std::to_string(stamp.version), stamp.hash});
    if (!r) return r.error();
    if (std::string(PQcmdTuples(r->get())) != "0") return Ok{};
    auto now = read_stamp(c, label);
    std::string theirs = now && *now
                             ? fmt::format("version {} (hash {})", (*now)->version, (*now)->hash)
                             : std::string("another stamp");
    return Error{sqlstate::kObjectNotInPrerequisiteState,
                 fmt::format("{}: carries map {}, refusing to stamp version {} (hash {}): "
                             "the map being written is stale or forked",
                             label, theirs, stamp.version, stamp.hash)};
}

Expected<bool> switch_prepared(PGconn* c, const std::string& label) {
    auto r = exec_params(c, label,
                         "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_prepared_xacts WHERE "
                         "starts_with(gid, $1) AND database = current_database())",
                         {std::string(kSwitchGidPrefix)});
    if (!r) return r.error();
    return std::string(PQgetvalue(r->get(), 0, 0)) == "t";
}

Status check_stamp_before(PGconn* c, const std::string& label, const router::MapStamp& next) {
    if (auto st = ensure_stamp_table(c, label); !st) return st;
    auto cur = read_stamp(c, label);
    if (!cur) return cur.error();
    if (*cur && ((*cur)->version > next.version ||
                 ((*cur)->version == next.version && (*cur)->hash != next.hash)))
        return Error{
            sqlstate::kObjectNotInPrerequisiteState,
            fmt::format("{}: carries map version {} (hash {}); this switch would stamp version {} "
                        "(hash {}): the map file is stale or forked, not switching",
                        label, (*cur)->version, (*cur)->hash, next.version, next.hash)};
    return Ok{};
}

std::string stamp_statement(const router::MapStamp& next) {
    // Both values are ours (a number and 16 hex digits): no quoting issue.
    return fmt::format(
        "INSERT INTO shardgate.map_stamp AS s (singleton, version, content_hash) VALUES (true, "
        "{0}, '{1}') "
        "ON CONFLICT (singleton) DO UPDATE SET version = EXCLUDED.version, content_hash = "
        "EXCLUDED.content_hash, stamped_at = now() WHERE s.version <= EXCLUDED.version",
        next.version, next.hash);
}

StampReader::StampReader(const Config& cfg, int connect_timeout_s) : timeout_s_(connect_timeout_s) {
    set_shards(cfg);
}

void StampReader::set_shards(const Config& cfg) {
    std::vector<Shard> next;
    for (const auto& s : cfg.shards) {
        Shard sh{s.name, shard_endpoint(cfg, s), nullptr};
        sh.endpoint.connect_timeout_s = timeout_s_;
        sh.endpoint.application = "shardgate-map-stamps";
        for (auto& old : shards_)
            if (old.name == s.name && old.endpoint.host == sh.endpoint.host &&
                old.endpoint.port == sh.endpoint.port)
                sh.conn = std::move(old.conn);
        next.push_back(std::move(sh));
    }
    shards_ = std::move(next);
}

std::vector<router::ShardStampReading> StampReader::read_all() {
    std::vector<router::ShardStampReading> out;
    for (auto& s : shards_) {
        router::ShardStampReading r;
        r.shard = s.name;
        if (s.conn && PQstatus(s.conn.get()) != CONNECTION_OK) s.conn.reset();
        if (!s.conn) {
            auto c = connect(s.endpoint);
            if (!c) {
                r.error = c.error().message;
                out.push_back(std::move(r));
                continue;
            }
            s.conn = std::move(*c);
        }
        auto st = read_stamp(s.conn.get(), s.endpoint.label);
        if (!st) {
            r.error = st.error().message;
            s.conn.reset();  // a broken connection is reopened next time
        } else if (auto in_doubt = switch_prepared(s.conn.get(), s.endpoint.label); !in_doubt) {
            r.error = in_doubt.error().message;
            s.conn.reset();
        } else {
            r.reachable = true;
            r.stamp = *st;
            r.switch_prepared = *in_doubt;
        }
        out.push_back(std::move(r));
    }
    return out;
}

Status stamp_shards(const Config& cfg, const router::MapStamp& stamp, bool only_unstamped) {
    for (const auto& s : cfg.shards) {
        Endpoint ep = shard_endpoint(cfg, s);
        auto c = connect(ep);
        if (!c) return c.error();
        if (only_unstamped) {
            auto cur = read_stamp(c->get(), ep.label);
            if (!cur) return cur.error();
            if (*cur) continue;
        }
        if (auto st = ensure_stamp_table(c->get(), ep.label); !st) return st;
        if (auto st = write_stamp(c->get(), ep.label, stamp); !st) return st;
        spdlog::info("{}: stamped with map version {} (hash {})", ep.label, stamp.version,
                     stamp.hash);
    }
    return Ok{};
}

}  // namespace sg::rebalance
