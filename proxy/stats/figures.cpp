#include "proxy/stats/figures.h"

#include <algorithm>

namespace sg::stats {

namespace {
uint64_t non_negative(int64_t v) {
    return v > 0 ? static_cast<uint64_t>(v) : 0;
}
}  // namespace

void Figures::add(const QueryEvent& e) {
    ++calls;
    transactions += !e.in_transaction;
    rows += e.rows;
    bytes_in += e.bytes_in;
    bytes_out += e.bytes_out;
    if (e.shards == 0)
        ++local_calls;
    else if (e.shards == 1)
        ++single_shard;
    else
        ++fanout;
    shards_sum += e.shards;
    max_shards = std::max(max_shards, e.shards);
    pool_wait_ns += non_negative(e.pool_wait_ns);
    server_ns += non_negative(std::min(e.server_ns, e.latency_ns));
    const int64_t held = std::clamp<int64_t>(e.held_ns, 0, std::max<int64_t>(e.latency_ns, 0));
    held_ns += uint64_t(held);
    proxy_ns += non_negative(e.latency_ns - std::max<int64_t>(e.server_ns, 0) - held);
    latency.record(e.latency_ns);
    if (!e.sqlstate.empty()) {
        ++errors;
        add_error(e.sqlstate, 1);
    }
}

void Figures::merge(const Figures& o) {
    calls += o.calls;
    transactions += o.transactions;
    errors += o.errors;
    rows += o.rows;
    bytes_in += o.bytes_in;
    bytes_out += o.bytes_out;
    local_calls += o.local_calls;
    single_shard += o.single_shard;
    fanout += o.fanout;
    shards_sum += o.shards_sum;
    max_shards = std::max(max_shards, o.max_shards);
    pool_wait_ns += o.pool_wait_ns;
    server_ns += o.server_ns;
    proxy_ns += o.proxy_ns;
    held_ns += o.held_ns;
    latency.merge(o.latency);
    for (const auto& ec : o.errors_by_state) add_error(ec.state(), ec.count);
}

void Figures::add_error(std::string_view sqlstate, uint64_t n) {
    ErrorCount key;
    std::copy_n(sqlstate.begin(), std::min(sqlstate.size(), key.sqlstate.size()),
                key.sqlstate.begin());
    auto it = std::lower_bound(
        errors_by_state.begin(), errors_by_state.end(), key,
        [](const ErrorCount& a, const ErrorCount& b) { return a.sqlstate < b.sqlstate; });
    if (it == errors_by_state.end() || it->sqlstate != key.sqlstate)
        it = errors_by_state.insert(it, key);
    it->count += n;
}

}  // namespace sg::stats
