// The map stamp on the shards (router/map_stamp.h): the table shardgate.map_stamp holds one row,
// the version and content hash of the last map that changed the shard's ownership. The
// rebalancer writes it inside the same prepared transactions that move rows, so a shard's rows
// and its stamp change together; readers are proxies (fencing) and the tools at start.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rebalance/pg.h"
#include "router/map_stamp.h"

namespace sg::rebalance {

// Creates the schema and table when missing (readable by every role, so any proxy login can
// check it). Must run outside a transaction that has to stay short.
Status ensure_stamp_table(PGconn* c, const std::string& label);
// nullopt when the shard carries no stamp (no table, or no row).
Expected<std::optional<router::MapStamp>> read_stamp(PGconn* c, const std::string& label);
// Sets the stamp (in the caller's transaction, if one is open). Never lowers it: a shard that
// carries a newer version refuses, naming both, since then the writer's map is stale.
Status write_stamp(PGconn* c, const std::string& label, const router::MapStamp& stamp);

// Before a switch, outside its pause: creates the table when missing and refuses when the
// shard already carries a map newer than `next` (or another map of its version).
Status check_stamp_before(PGconn* c, const std::string& label, const router::MapStamp& next);
// The statement that stamps `next` inside the switch's transaction, to be sent with its
// PREPARE TRANSACTION in one round trip (the pause pays no extra one). Monotonic: a newer
// stamp is left alone (check_stamp_before refused that case already).
std::string stamp_statement(const router::MapStamp& next);

// The rebalancer's switch transactions are prepared under global ids starting so (the
// proxy's own two-phase commits use another prefix, proxy/txn/gid.h).
inline constexpr std::string_view kSwitchGidPrefix = "sg_rb_";
// Whether a switch of any rebalancer run is prepared (in doubt) on this shard's database.
Expected<bool> switch_prepared(PGconn* c, const std::string& label);

// Keeps one connection per shard and reads every shard's stamp; a shard that cannot be reached
// is a reading with reachable = false (its connection is retried on the next read).
class StampReader {
public:
    StampReader(const Config& cfg, int connect_timeout_s);
    std::vector<router::ShardStampReading> read_all();
    // The shards to read from now on (a reload may add shards).
    void set_shards(const Config& cfg);

private:
    struct Shard {
        std::string name;
        Endpoint endpoint;
        Conn conn;
    };
    std::vector<Shard> shards_;
    int timeout_s_;
};

// Stamps every shard of cfg with `stamp` (creating the table); `only_unstamped` leaves shards
// that carry any stamp alone. The first failure is returned.
Status stamp_shards(const Config& cfg, const router::MapStamp& stamp, bool only_unstamped);

}  // namespace sg::rebalance
