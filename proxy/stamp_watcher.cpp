#include "proxy/stamp_watcher.h"

#include "rebalance/stamps.h"

namespace sg::proxy {

StampWatcher::StampWatcher(net::asio::io_context& io, const Config& cfg,
                           std::chrono::milliseconds interval, Deliver deliver)
    : io_(io), interval_(interval), deliver_(std::move(deliver)) {
    thread_ = std::thread([this, cfg] { run(cfg); });
}

StampWatcher::~StampWatcher() {
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
}

void StampWatcher::poll_now() {
    {
        std::lock_guard lock(mu_);
        wake_ = true;
    }
    cv_.notify_all();
}

void StampWatcher::set_shards(const Config& cfg) {
    {
        std::lock_guard lock(mu_);
        next_cfg_ = cfg;
        wake_ = true;
    }
    cv_.notify_all();
}

void StampWatcher::run(Config cfg) {
    // A short connect timeout: a dead shard must not delay the others' readings for long.
    rebalance::StampReader reader(cfg, 1);
    for (;;) {
        {
            std::unique_lock lock(mu_);
            cv_.wait_for(lock, interval_, [this] { return stop_ || wake_; });
            if (stop_) return;
            wake_ = false;
            if (next_cfg_) {
                reader.set_shards(*next_cfg_);
                next_cfg_.reset();
            }
        }
        const auto began = net::Clock::now();
        Readings r = reader.read_all();
        net::asio::post(
            io_, [d = deliver_, r = std::move(r), began]() mutable { d(std::move(r), began); });
    }
}

}  // namespace sg::proxy
