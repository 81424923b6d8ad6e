// Replicas (issue 19): the standbys a [[shards]] entry lists, and where reads may go.
// Read with the rest of the configuration (common/config.cpp, common/replica_config.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sg {

// Where a read outside a transaction may run: the shard's primary only, its standbys (the
// primary when none is eligible), or whichever of them has the fewest statements running.
enum class ReadFrom { Primary, Replica, Any };
const char* to_string(ReadFrom r);
std::optional<ReadFrom> parse_read_from(std::string_view s);

// One standby of a shard: `replicas = [{ host = "10.0.0.2", port = 5432 }, ...]`. It has the
// shard's dbname and credentials (a physical standby is a copy of the primary).
struct ReplicaEndpoint {
    std::string host;
    uint16_t port = 5432;
    bool operator==(const ReplicaEndpoint&) const = default;
};

}  // namespace sg
