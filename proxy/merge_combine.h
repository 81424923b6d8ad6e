// Combining several shards' answers to one SELECT into the answer one PostgreSQL would give
// (see router::Analysis::MergePlan): the shards' rows travel back as typed literals to a query
// PostgreSQL itself runs on the default shard, which computes the combined aggregates, groups,
// distinct rows, order and limits.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/config.h"
#include "proxy/net.h"
#include "proxy/wire/messages/extended_query.h"
#include "proxy/wire/messages/row_data.h"
#include "router/analyzer.h"

namespace sg::proxy {

class Proxy;

// The shards' answers to one merged SELECT, as run_fanout concatenated them.
struct ShardRows {
    std::string notices;          // NoticeResponses, passed on before the answer
    std::string row_description;  // the 'T' frame as the shards sent it
    wire::RowDescription desc;
    std::vector<std::string_view> frames;  // each DataRow frame, as sent
    std::vector<std::vector<std::optional<std::string>>> rows;
};

// Reads `reply`; false when it is not a plain result (an error, or frames that do not decode).
bool read_shard_rows(const std::string& reply, ShardRows& out);

// The combined answer: the client's RowDescription and DataRows, or an ErrorResponse frame
// (the merge was refused, or the combining query failed).
struct MergedRows {
    std::string error;
    std::string row_description;
    std::string rows;
    size_t count = 0;
};

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

// LIMIT $n / OFFSET $n of a combined statement: the plan with this execution's values in place
// of the parameters, read as the types the client declared (`param_types`, from its Parse: a
// numeric 2.5 is LIMIT 3). False (with `error` set) when a value is not one PostgreSQL would take.
bool bind_limits(router::Analysis::MergePlan& plan, const wire::Bind& b,
                 const std::vector<uint32_t>& param_types,
                 std::pair<std::string, std::string>& error);

// A CommandComplete "SELECT n".
void append_select_tag(std::string& out, size_t count);

}  // namespace sg::proxy
