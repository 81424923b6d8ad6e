// Global transaction ids of the proxy's two-phase commits.
//
// Format: sgx_<instance>_<coordinator shard index>_<start time, µs>_<sequence>. The "sgx_"
// prefix keeps them apart from the rebalancer's switch ("sg_rb_..."), so neither's recovery
// touches the other's prepared transactions. The instance names the proxy ([transactions]
// instance_id, default host name and listen port): a proxy resolves its own leftovers at once
// and leaves other live proxies' in-flight ones alone. The start time makes ids of a restarted
// instance differ from its previous life's (whose decisions may still be stored).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sg::proxy::txn {

inline constexpr std::string_view kGidPrefix = "sgx_";

struct GidParts {
    std::string instance;
    int coordinator = -1;
    uint64_t epoch_us = 0;
    uint64_t sequence = 0;
};

// Only letters, digits and '-' survive (the id is quoted in SQL and '_' separates fields).
std::string sanitize_instance(std::string_view raw);
std::string make_gid(std::string_view instance, int coordinator, uint64_t epoch_us,
                     uint64_t sequence);
std::optional<GidParts> parse_gid(std::string_view gid);

}  // namespace sg::proxy::txn
