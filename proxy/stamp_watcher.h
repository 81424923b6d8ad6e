// Watches the map stamps on the shards for the proxy (issue 22): a proxy that another proxy or
// the rebalancer left behind must fail loudly, never route by its old map. A thread of its own
// reads every shard's stamp over libpq (one kept connection per shard) every `interval`, and at
// once when poll_now() is called (after the proxy's map changed); the readings are handed to
// the event loop, which fences or unfences the map (Proxy::on_stamp_readings). The proxy's
// hot path never waits for it: routing stays a lookup in memory.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/config.h"
#include "proxy/net.h"
#include "router/map_stamp.h"

namespace sg::proxy {

class StampWatcher {
public:
    using Readings = std::vector<router::ShardStampReading>;
    // `deliver` runs on `io`'s thread, with the moment that reading began (a reading begun
    // before some event proves nothing about the shards after it).
    using Deliver = std::function<void(Readings, net::Clock::time_point began)>;
    StampWatcher(net::asio::io_context& io, const Config& cfg, std::chrono::milliseconds interval,
                 Deliver deliver);
    ~StampWatcher();  // stops the thread and waits for it
    StampWatcher(const StampWatcher&) = delete;
    StampWatcher& operator=(const StampWatcher&) = delete;

    // Reads again without waiting for the interval.
    void poll_now();
    // The shards to watch from now on (RELOAD may add shards).
    void set_shards(const Config& cfg);

private:
    void run(Config cfg);

    net::asio::io_context& io_;
    std::chrono::milliseconds interval_;
    Deliver deliver_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false;
    bool wake_ = false;
    std::optional<Config> next_cfg_;
    std::thread thread_;
};

}  // namespace sg::proxy
