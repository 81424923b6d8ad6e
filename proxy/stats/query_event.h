// What the proxy tells the statistics about one statement, once its reply is complete.
// Plain data, built on the caller's stack: every view only has to live for the record() call.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/stats/shard_figures.h"

namespace sg::stats {

struct Shape;

struct QueryEvent {
    std::string_view
        text;  // statement text: the literal-free shape when the proxy has one, else the exact text
    std::string_view user, database;
    uint64_t client_id = 0;       // the client session
    bool in_transaction = false;  // inside an explicit transaction
    int64_t latency_ns = 0;       // client-visible: request received -> ReadyForQuery sent
    int64_t pool_wait_ns = 0;     // time waiting for a server connection
    int64_t held_ns = 0;    // time held by a pause (PAUSE, PAUSE BUCKETS): not the proxy's cost
    int64_t server_ns = 0;  // first byte sent to a shard -> its ReadyForQuery received
    uint32_t shards = 1;    // shards touched (0 = answered by the proxy itself)
    uint64_t rows = 0;      // rows from CommandComplete / DataRow count
    uint64_t bytes_in = 0, bytes_out = 0;
    std::string_view sqlstate;  // empty = success
    const std::vector<std::string>* params =
        nullptr;  // parameter values as text, when known (slow log only)
    // Tells the N+1 detector whether two calls of one statement had different parameters:
    // param_hash(values) for Bind/extracted literals, or text_hash(exact text) when the proxy
    // has no shape. 0 = unknown, taken as "different from the previous call".
    uint64_t param_hash = 0;
    // When the reply ended, steady_clock nanoseconds since its epoch; 0 = now (the recorder
    // reads the clock). Gaps between a client's statements come from end_ns - latency_ns.
    int64_t end_ns = 0;
    // Every shard leg of the statement (one for a single-shard statement, one per shard of a
    // fan-out); empty when the proxy answered itself or the statement was refused.
    std::span<const ShardLeg> legs;
    // The shape of `text`, when the caller computed it already (off the event loop, for a large
    // text: proxy/session_large_query.cpp); null: the recorder looks it up by `text`.
    const std::shared_ptr<const Shape>* shape = nullptr;
};

// FNV-1a over the values, each prefixed by its length so ("ab", "c") and ("a", "bc") differ.
// Never 0, so a computed hash is never mistaken for "unknown".
uint64_t param_hash(std::span<const std::string> values);
uint64_t text_hash(std::string_view text);

}  // namespace sg::stats
