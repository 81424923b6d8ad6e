// Combining several shards' answers to one SELECT into the answer one PostgreSQL would give
// (see router::Analysis::MergePlan): the shards' rows travel back as typed literals to a query
// PostgreSQL itself runs on the default shard, which computes the combined aggregates, groups,
// distinct rows, order and limits. The rows it reads and writes: proxy/merge_rows.h; binding
// LIMIT/OFFSET parameters first: proxy/merge_limits.h.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/config.h"
#include "proxy/merge_rows.h"
#include "proxy/net.h"
#include "proxy/wire/messages/extended_query.h"
#include "router/analyzer.h"

namespace sg::proxy {

class Proxy;
class ServerConn;

// Where the combining step runs its queries on a shard. Without one: a pooled connection there,
// outside any transaction. Inside a client's transaction the session gives its own participant
// on that shard when it has one (the pool may have no other connection free, and the catalog
// the transaction changed is seen as it sees it). Each returns the complete reply.
struct CombineRunner {
    std::function<net::awaitable<std::string>(uint16_t shard, const std::string& sql)> query;
    std::function<net::awaitable<std::string>(uint16_t shard,
                                              const std::function<std::string(ServerConn&)>& build)>
        frames;
};

// Combines the shards' rows by a query PostgreSQL runs on the default shard (see
// Analysis::MergePlan). `formats`: the result formats the client asked for (empty: text).
// `settings`: the client's session settings; the combining query runs under them, so the
// combined values print as the client expects. `bind` / `param_types`: the client's Bind and
// its Parse's declared types (extended protocol), whose values a HAVING $n takes.
net::awaitable<MergedRows> combine_rows(
    Proxy& proxy, const UserConfig& user, const std::map<std::string, std::string>& settings,
    const router::Analysis& a, const ShardRows& in, const std::vector<int16_t>& formats,
    uint16_t description_shard, const wire::Bind* bind = nullptr,
    const std::vector<uint32_t>* param_types = nullptr, const CombineRunner* runner = nullptr);

}  // namespace sg::proxy
