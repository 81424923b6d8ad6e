// The cost figures of one group of statements (one fingerprint of one user and database, or
// the "other" row that evicted groups fold into). Additive: merge(a, b) describes exactly the
// union of the calls of a and b, which is what keeps totals right across eviction.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "proxy/stats/histogram.h"
#include "proxy/stats/query_event.h"

namespace sg::stats {

struct ErrorCount {
    std::array<char, 5> sqlstate{};
    uint64_t count = 0;
    std::string_view state() const {
        std::string_view s(sqlstate.data(), sqlstate.size());
        return s.substr(0, s.find('\0'));
    }
};

struct Figures {
    uint64_t calls = 0;
    uint64_t transactions = 0;  // calls that began outside a transaction (BEGIN or autocommit)
    uint64_t errors = 0;
    uint64_t rows = 0;
    uint64_t bytes_in = 0, bytes_out = 0;
    uint64_t local_calls = 0;   // answered by the proxy (shards == 0)
    uint64_t single_shard = 0;  // shards == 1
    uint64_t fanout = 0;        // shards > 1
    uint64_t shards_sum = 0;
    uint32_t max_shards = 0;
    uint64_t pool_wait_ns = 0;
    uint64_t server_ns = 0;  // time in the shards
    uint64_t held_ns = 0;    // held by a pause (an operator's PAUSE or a rebalance switch)
    uint64_t proxy_ns =
        0;  // latency - server_ns - held_ns: what the proxy added (pool wait included)
    LogHistogram latency;                     // client-visible latency; its sum is the total time
    std::vector<ErrorCount> errors_by_state;  // sorted by SQLSTATE; a handful at most

    void add(const QueryEvent& e);
    void merge(const Figures& other);

    uint64_t total_ns() const { return latency.sum(); }
    // The time the statement itself cost: the total without pause-held time.
    uint64_t working_ns() const { return total_ns() > held_ns ? total_ns() - held_ns : 0; }
    double mean_ns() const { return latency.mean(); }
    double shards_per_call() const { return calls ? double(shards_sum) / double(calls) : 0.0; }

private:
    void add_error(std::string_view sqlstate, uint64_t n);
};

}  // namespace sg::stats
