// The proxy's LISTEN/NOTIFY service (proxy/notify): its construction and its /metrics lines.
#include <fmt/format.h>

#include "proxy/notify/service.h"
#include "proxy/proxy.h"

namespace sg::proxy {

void Proxy::make_notify_service() {
    // A group is keyed by the configured user: its listeners log in to each shard as that
    // user's server login there, at the address of that pool (after a failover: the new
    // primary's), so LISTEN sees what the user's own transactions see.
    auto targets = [this](int shard, const std::string& user) -> std::optional<ServerTarget> {
        if (shard < 0 || static_cast<size_t>(shard) >= cfg_.shards.size()) return std::nullopt;
        auto users = users_;
        for (const auto& u : *users)
            if (u.name == user) return pool(shard, u).target();
        return std::nullopt;
    };
    notify_ = std::make_unique<notify::NotifyService>(
        io_.get_executor(), static_cast<int>(cfg_.shards.size()), std::move(targets));
}

std::string Proxy::notify_metrics() const {
    const auto& c = notify_->counters();
    return fmt::format(
        "# HELP shardgate_notify_channels Channels the proxy's LISTEN connections listen on for "
        "clients.\n"
        "# TYPE shardgate_notify_channels gauge\nshardgate_notify_channels {}\n"
        "# HELP shardgate_notify_listeners_connected LISTEN connections to shards logged in.\n"
        "# TYPE shardgate_notify_listeners_connected gauge\nshardgate_notify_listeners_connected "
        "{}\n"
        "# HELP shardgate_notify_received_total Notifications the LISTEN connections received.\n"
        "# TYPE shardgate_notify_received_total counter\nshardgate_notify_received_total {}\n"
        "# HELP shardgate_notify_delivered_total Notifications queued for a listening client.\n"
        "# TYPE shardgate_notify_delivered_total counter\nshardgate_notify_delivered_total {}\n"
        "# HELP shardgate_notify_dropped_total Notifications dropped: the client's queue was "
        "full.\n"
        "# TYPE shardgate_notify_dropped_total counter\nshardgate_notify_dropped_total {}\n"
        "# HELP shardgate_notify_listener_losses_total LISTEN connections lost or refused (then "
        "reconnected).\n"
        "# TYPE shardgate_notify_listener_losses_total "
        "counter\nshardgate_notify_listener_losses_total {}\n"
        "# HELP shardgate_notify_listen_failures_total Client LISTENs answered with an error.\n"
        "# TYPE shardgate_notify_listen_failures_total "
        "counter\nshardgate_notify_listen_failures_total {}\n",
        notify_->channels(), notify_->listeners_connected(), c.received, c.delivered, c.dropped,
        c.listener_losses, c.listens_failed);
}

}  // namespace sg::proxy
