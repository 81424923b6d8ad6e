#include "proxy/notify/service.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/sqlstate.h"
#include "proxy/wire/messages/session_status.h"

namespace sg::proxy::notify {

NotifyService::NotifyService(net::asio::any_io_executor ex, int shards, TargetsFn targets)
    : ex_(ex), shards_(shards), targets_(std::move(targets)) {}

NotifyService::~NotifyService() {
    stop();
}

void NotifyService::stop() {
    stopped_ = true;
    for (auto& [login, g] : groups_)
        for (auto& l : g->listeners) l->stop();
}

NotifyService::Group& NotifyService::group(const std::string& login) {
    auto it = groups_.find(login);
    if (it != groups_.end()) return *it->second;
    auto g = std::make_unique<Group>(shards_);
    Group* gp = g.get();
    ShardListener::Events ev;
    // The group lives as long as the service, which stops its listeners before it goes.
    ev.connected = [this, gp](int shard) {
        gp->hub.connected(shard);
        pump(*gp, shard);
        gp->changed();
    };
    ev.lost = [this, gp, login](int shard, const std::string& why, bool was_connected) {
        gp->hub.disconnected(shard);
        ++counters_.listener_losses;
        auto t = targets_(shard, login);
        const std::string name = t ? t->shard_name : std::to_string(shard);
        if (was_connected)
            spdlog::warn(
                "LISTEN connection to shard {} (user {}) lost: {}; reconnecting (notifications "
                "sent on "
                "that shard meanwhile are lost)",
                name, login, why);
        else
            spdlog::warn(
                "LISTEN connection to shard {} (user {}) could not be made: {}; retrying while a "
                "client "
                "listens",
                name, login, why);
        gp->changed();
    };
    ev.acknowledged = [this, gp](int shard, uint64_t seq) {
        gp->hub.acknowledged(shard, seq);
        pump(*gp, shard);
        gp->changed();
    };
    ev.notification = [this, gp](int, std::string_view frame) { on_notification(*gp, frame); };
    ev.wanted = [gp] { return !gp->hub.empty(); };
    for (int shard = 0; shard < shards_; ++shard) {
        auto target = [this, shard, login]() -> ServerTarget {
            auto t = targets_(shard, login);
            return t ? *t : ServerTarget{};
        };
        auto l = std::make_shared<ShardListener>(ex_, shard, std::move(target), ev);
        g->listeners.push_back(l);
    }
    auto& ref = *g;
    groups_.emplace(login, std::move(g));
    if (!stopped_)
        for (auto& l : ref.listeners) l->start();
    return ref;
}

void NotifyService::pump(Group& g, int shard) {
    if (auto cmd = g.hub.next_command(shard)) g.listeners[shard]->send(cmd->sql, cmd->seq);
}

void NotifyService::pump_all(Group& g) {
    for (int shard = 0; shard < shards_; ++shard) pump(g, shard);
}

void NotifyService::on_notification(Group& g, std::string_view frame) {
    ++counters_.received;
    wire::NotificationResponse n;
    if (!wire::decode(wire::as_bytes(frame.substr(5)), n).ok()) {
        spdlog::warn("LISTEN connection: an unreadable NotificationResponse was dropped");
        return;
    }
    const auto* subs = g.hub.subscribers(std::string(n.channel));
    if (!subs) return;  // UNLISTENed meanwhile: the server's UNLISTEN is on its way
    for (SubscriberId id : *subs) {
        auto it = g.subscribers.find(id);
        if (it == g.subscribers.end()) continue;
        ++counters_.delivered;
        it->second->deliver_notification(frame);
    }
}

net::awaitable<std::optional<ListenFailure>> NotifyService::listen(
    const std::string& login, SubscriberId id, Subscriber* sub, const std::string& channel,
    std::chrono::milliseconds timeout) {
    if (stopped_) co_return ListenFailure{sqlstate::kAdminShutdown, "shardgate is shutting down"};
    Group& g = group(login);
    g.subscribers[id] = sub;
    g.hub.listen(id, channel);
    for (auto& l : g.listeners) l->kick();
    pump_all(g);
    const auto deadline = net::Clock::now() + timeout;
    net::asio::steady_timer timer(ex_);
    while (!g.hub.confirmed_everywhere(channel) && !stopped_ && net::Clock::now() < deadline) {
        timer.expires_at(deadline);
        g.waiters.push_back(&timer);
        error_code ec;
        co_await timer.async_wait(net::ec_token(ec));
        std::erase(g.waiters, &timer);
    }
    if (g.hub.confirmed_everywhere(channel)) co_return std::nullopt;
    // Name the first shard that is not listening, and why.
    std::string detail;
    for (int shard = 0; shard < shards_; ++shard) {
        if (g.hub.confirmed(shard, channel)) continue;
        auto t = targets_(shard, login);
        const std::string& why = g.listeners[shard]->last_error();
        detail = fmt::format("shard \"{}\" {}", t ? t->shard_name : std::to_string(shard),
                             why.empty() ? std::string("did not confirm it in time")
                                         : "cannot be listened on: " + why);
        break;
    }
    g.hub.unlisten(id, channel);
    if (!g.hub.channels_of(id)) g.subscribers.erase(id);
    pump_all(g);
    ++counters_.listens_failed;
    co_return ListenFailure{sqlstate::kConnectionFailure,
                            fmt::format("LISTEN {} failed: {} (waited at most {} ms)",
                                        quote_channel(channel), detail, timeout.count())};
}

void NotifyService::unlisten(const std::string& login, SubscriberId id,
                             const std::string& channel) {
    auto it = groups_.find(login);
    if (it == groups_.end()) return;
    Group& g = *it->second;
    g.hub.unlisten(id, channel);
    if (!g.hub.channels_of(id)) g.subscribers.erase(id);
    pump_all(g);
}

void NotifyService::unlisten_all(const std::string& login, SubscriberId id) {
    auto it = groups_.find(login);
    if (it == groups_.end()) return;
    Group& g = *it->second;
    g.hub.unlisten_all(id);
    g.subscribers.erase(id);
    pump_all(g);
}

bool NotifyService::listening(const std::string& login, SubscriberId id) const {
    auto it = groups_.find(login);
    return it != groups_.end() && it->second->hub.channels_of(id) != nullptr;
}

size_t NotifyService::channels() const {
    size_t n = 0;
    for (const auto& [login, g] : groups_) n += g->hub.channel_count();
    return n;
}

size_t NotifyService::listeners_connected() const {
    size_t n = 0;
    for (const auto& [login, g] : groups_)
        for (const auto& l : g->listeners) n += l->connected() ? 1 : 0;
    return n;
}

std::vector<int32_t> NotifyService::listener_pids(const std::string& login) const {
    std::vector<int32_t> out;
    auto it = groups_.find(login);
    if (it == groups_.end()) return out;
    for (const auto& l : it->second->listeners)
        out.push_back(l->connected() ? l->backend_pid() : -1);
    return out;
}

}  // namespace sg::proxy::notify
