// The checkout-time map check (issue 22): before a statement goes to a shard over a server
// connection that has not confirmed the proxy's current map, that connection reads its shard's
// map stamp (router/map_stamp.h) — one quiet round trip, only after the proxy's map changed
// (or on a new connection), never per statement.
//
// Invariants:
//  - a connection that confirmed generation G of the proxy's map is not asked again until the
//    map changes: routing stays a lookup in memory;
//  - a shard stamped with a newer map than the proxy's (or the same version with another
//    content hash) makes the proxy load its map file at once (the rebalancer writes it before
//    it commits a switch); the statement runs only when the map then agrees with the shard and
//    owns every bucket the transaction touched as before; otherwise it is refused loudly, 55000
//    naming both versions, and the map is fenced;
//  - the check is bounded (kCheckTimeout), like every wait.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <sstream>

#include "common/sqlstate.h"
#include "proxy/proxy.h"
#include "proxy/session.h"
#include "proxy/shard_request.h"
#include "proxy/wire/messages/error_response.h"
#include "proxy/wire/writer.h"
#include "router/map_stamp.h"

namespace sg::proxy {

namespace {

constexpr auto kCheckTimeout = std::chrono::seconds(10);
constexpr std::string_view kMarker = "shardgate-map-stamp ";

// Raises (as 55000, with the shard's stamp in the message) only when the shard carries a map
// that the proxy's map must not route against; an unstamped shard cannot contradict it.
std::string stamp_check_sql(uint64_t version, const std::string& hash) {
    return fmt::format(
        "DO $sg$DECLARE v bigint; h text; BEGIN "
        "IF to_regclass('shardgate.map_stamp') IS NOT NULL THEN "
        "SELECT version, content_hash INTO v, h FROM shardgate.map_stamp; "
        "IF v > {0} OR (v = {0} AND h <> '{1}') THEN "
        "RAISE EXCEPTION USING ERRCODE = '55000', MESSAGE = '{2}' || v || ' ' || h; "
        "END IF; END IF; END$sg$",
        version, hash, kMarker);
}

bool same_owners(const router::ShardMap& a, const router::ShardMap& b,
                 const std::vector<uint32_t>& buckets) {
    if (a.bucket_count() != b.bucket_count()) return false;
    for (uint32_t x : buckets) {
        if (x >= a.bucket_count()) return false;
        if (a.shard_names()[a.shard_of_bucket(x)] != b.shard_names()[b.shard_of_bucket(x)])
            return false;
    }
    return true;
}

}  // namespace

awaitable<bool> Session::check_map_stamp(bool report_with_ready, std::string* lost) {
    std::shared_ptr<ServerConn> keep = server_;
    ServerConn& s = *keep;
    const uint64_t generation = proxy_.map_generation();
    const router::ShardMap& map = proxy_.shard_map();
    const uint64_t version = map.version();
    const std::string hash = router::content_hash(map);
    const uint64_t first = s.quiet_sent();
    std::string out;
    ShardRequest(out, s).quiet_query(stamp_check_sql(version, hash));
    co_await s.write(out);
    const auto deadline = net::Clock::now() + kCheckTimeout;
    while (server_ == keep && s.usable() && s.quiet_done() <= first) {
        auto now = net::Clock::now();
        if (now >= deadline) break;
        co_await released_.wait_for(deadline - now);
    }
    std::string sqlstate, message;
    const std::string& shard = s.target().shard_name;
    if (!s.usable() || server_ != keep) {
        sqlstate = sqlstate::kConnectionFailure;
        message = fmt::format(
            "shardgate lost the connection to shard \"{}\" while checking its map stamp", shard);
    } else if (s.quiet_done() <= first) {
        sqlstate = sqlstate::kConnectionFailure;
        message =
            fmt::format("shard \"{}\" did not answer the map stamp check within {} s", shard,
                        std::chrono::duration_cast<std::chrono::seconds>(kCheckTimeout).count());
    } else {
        for (const auto& f : s.quiet_failures_since(first)) {
            if (f.number != first) continue;
            sqlstate = f.sqlstate.empty() ? sqlstate::kInternalError : f.sqlstate;
            if (f.message.rfind(kMarker, 0) == 0) {
                std::istringstream in(f.message.substr(kMarker.size()));
                router::MapStamp theirs;
                in >> theirs.version >> theirs.hash;
                // Usually the rebalancer committed a switch and has not told this proxy yet: it
                // wrote the map file first, so load it. The route stands when the new map agrees
                // with the shard and owns every bucket this transaction touched as the old one
                // did (a switched bucket was paused, and is routed again after the pause).
                const router::ShardMap before = proxy_.shard_map();
                proxy_.note_shard_stamp(s.target().shard, theirs);
                const router::ShardMap& now = proxy_.shard_map();
                if (now.fence().empty() && now.version() >= theirs.version &&
                    same_owners(before, now, touched_buckets_) && !touched_all_buckets_) {
                    sqlstate.clear();
                    continue;
                }
                sqlstate = sqlstate::kObjectNotInPrerequisiteState;
                message = fmt::format(
                    "this proxy routes by shard map version {} (hash {}) but shard \"{}\" carries "
                    "version {} (hash "
                    "{}): the cluster has moved past this proxy's map, so the statement did not "
                    "run. Give the "
                    "proxy the current map file ({}) and run RELOAD MAP, or restart it",
                    version, hash, shard, theirs.version, theirs.hash, proxy_.config().map_path());
                spdlog::error("client {}: {}", peer_, message);
            } else {
                message = fmt::format("shardgate could not check the map stamp of shard \"{}\": {}",
                                      shard, f.message);
            }
        }
        if (sqlstate.empty()) {
            s.set_map_checked(proxy_.map_generation() == generation ? generation : 0);
            co_return true;
        }
    }
    // The connection is sound (a DO block failed, outside any transaction): back to the pool,
    // unchecked, so the next checkout asks again.
    if (server_ == keep && sqlstate != sqlstate::kConnectionFailure) {
        release_server();
    } else {
        if (server_ == keep) {
            server_->detach();
            server_.reset();
            server_pool_ = nullptr;
        }
        keep->close("map stamp check failed");
    }
    released_.notify_all();
    if (lost && sqlstate == sqlstate::kConnectionFailure) {
        *lost = message;  // the caller decides (a read may go to another endpoint)
        co_return false;
    }
    co_await report_attach_failure(report_with_ready, sqlstate, message);  // session_sync.cpp
    co_return false;
}

}  // namespace sg::proxy
