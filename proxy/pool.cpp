#include "proxy/pool.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/sqlstate.h"
#include "proxy/health/probe.h"
#include "proxy/health/shard_health.h"

namespace sg::proxy {

namespace {
uint64_t g_next_server_id = 1;
}

Pool::Pool(net::asio::any_io_executor ex, ServerTarget target, int size, int timeout_ms)
    : ex_(ex), target_(std::move(target)), size_(size), timeout_ms_(timeout_ms) {}

Pool::~Pool() {
    *alive_ = false;
    close_all("pool destroyed");
}

bool Pool::refused() const {
    return checks_.health && !checks_.health->admits();
}

PoolError Pool::refusal() const {
    return PoolError{sqlstate::kConnectionFailure, checks_.health->refusal()};
}

awaitable<std::variant<std::shared_ptr<ServerConn>, PoolError>> Pool::open_new() {
    if (refused()) {
        if (!waiters_.empty()) waiters_.front()->ready.notify_all();  // they get the refusal too
        co_return refusal();
    }
    ++total_;
    ++connecting_;
    auto s = std::make_shared<ServerConn>(ex_, target_, g_next_server_id++);
    opening_.push_back(s.get());
    std::string err = co_await s->connect();
    std::erase(opening_, s.get());
    --connecting_;
    if (!err.empty()) {
        --total_;
        ++stats_.connect_failures;
        // A waiter may now be able to open a connection of its own.
        if (!waiters_.empty()) waiters_.front()->ready.notify_all();
        // Aborted by an opened breaker (fail_all), or it opened meanwhile: say why.
        if (refused()) co_return refusal();
        // Only a shard that did not answer is sick; one that refused the login (a wrong password,
        // too many connections) answered. Starting up or shutting down (57P0x) counts as sick.
        const std::string& refused_state = s->login_refused_sqlstate();
        if (checks_.health && (refused_state.empty() || refused_state.starts_with("57P0"))) {
            ++checks_.health->connect_failures;
            checks_.health->failure("connect: " + err);
        }
        if (refused()) co_return refusal();
        co_return PoolError{sqlstate::kConnectionFailure,
                            fmt::format("cannot connect to shard \"{}\" ({}:{}): {}",
                                        target_.shard_name, target_.host, target_.port, err)};
    }
    std::weak_ptr<bool> alive = alive_;
    s->on_closed = [this, alive](ServerConn& c) {
        if (auto a = alive.lock(); a && *a) forget(c);
    };
    params_ = s->parameters();
    all_.push_back(s);
    co_return s;
}

std::shared_ptr<ServerConn> Pool::take_idle() {
    if (refused()) return nullptr;
    while (!idle_.empty()) {
        // Unused for longer than server_check_delay_ms: acquire() checks it first. The newest
        // is at the back, so the rest are at least as old.
        if (checks_.check_delay_ms > 0 &&
            idle_.back()->last_used() <
                net::coarse_now() - std::chrono::milliseconds(checks_.check_delay_ms))
            return nullptr;
        auto s = std::move(idle_.back());  // most recently used: warm caches, fewer idle closes
        idle_.pop_back();
        if (s->usable()) {
            ++stats_.checkouts;
            return s;
        }
    }
    return nullptr;
}

awaitable<std::variant<std::shared_ptr<ServerConn>, PoolError>> Pool::acquire() {
    if (refused()) co_return refusal();
    if (auto s = take_idle()) co_return s;  // (counted there)
    // Idle connections unused for longer than server_check_delay_ms answer an empty query
    // (bounded by check_timeout_ms) before a client gets one; one that does not is closed.
    while (!idle_.empty() && !refused()) {
        auto s = std::move(idle_.back());
        idle_.pop_back();
        if (!s->usable()) continue;
        std::string err =
            co_await health::probe(*s, std::chrono::milliseconds(checks_.check_timeout_ms));
        if (err.empty() && s->usable()) {
            s->touch();
            ++stats_.checkouts;
            co_return s;
        }
        ++stats_.check_failures;
        s->close("server check failed: " + err);
        if (checks_.health) checks_.health->failure("server check: " + err);
    }
    if (refused()) co_return refusal();
    ++stats_.checkouts;
    if (total_ < size_) {
        auto awaited = co_await open_new();
        co_return awaited;
    }

    ++stats_.waits;
    auto start = net::Clock::now();
    auto deadline = start + std::chrono::milliseconds(timeout_ms_);
    Waiter w(ex_);
    waiters_.push_back(&w);
    for (;;) {
        auto now = net::Clock::now();
        bool notified = false;  // (no co_await inside && or ?:, which GCC 12 miscompiles)
        if (now < deadline) notified = co_await w.ready.wait_for(deadline - now);
        if (w.handed) break;
        if (refused()) {  // the breaker opened while waiting
            std::erase(waiters_, &w);
            co_return refusal();
        }
        if (!notified) {
            std::erase(waiters_, &w);
            ++stats_.timeouts;
            stats_.wait_seconds += std::chrono::duration<double>(net::Clock::now() - start).count();
            co_return PoolError{
                sqlstate::kTooManyConnections,
                fmt::format("no server connection to shard \"{}\" became free within "
                            "pool_timeout_ms={} (pool_size={}); raise pool_size or "
                            "shorten transactions",
                            target_.shard_name, timeout_ms_, size_)};
        }
        // Woken without a hand-off: a slot freed up (a connection closed or failed to open).
        if (total_ < size_) {
            std::erase(waiters_, &w);
            stats_.wait_seconds += std::chrono::duration<double>(net::Clock::now() - start).count();
            auto awaited = co_await open_new();
            co_return awaited;
        }
    }
    stats_.wait_seconds += std::chrono::duration<double>(net::Clock::now() - start).count();
    co_return std::move(w.handed);
}

void Pool::release(std::shared_ptr<ServerConn> s) {
    if (!s) return;
    s->detach();
    if (!s->idle_clean()) {
        s->close(s->usable() ? "returned in a bad state (transaction open or replies owed)"
                             : "broken");
        return;
    }
    if (s->listened()) {
        s->close(
            "it ran LISTEN for its last client; its notifications must not reach the next one");
        return;
    }
    s->touch();
    if (s->id() < reconnect_below_) {
        s->close("RECONNECT from the admin console");
        return;
    }
    if (total_ > size_) {  // the pool was shrunk by a reload
        s->close("pool shrunk");
        return;
    }
    if (s->target().epoch != epoch_) {
        s->close("the shard's address changed (RELOAD)");
        return;
    }
    if (checks_.lifetime_s > 0 &&
        s->last_used() - s->created_at() > std::chrono::seconds(checks_.lifetime_s)) {
        ++stats_.lifetime_closes;
        s->close("server_lifetime_s");
        return;
    }
    if (!waiters_.empty()) {
        Waiter* w = waiters_.front();
        waiters_.pop_front();
        w->handed = std::move(s);
        w->ready.notify_all();
        return;
    }
    idle_.push_back(std::move(s));
}

void Pool::forget(ServerConn& c) {
    --total_;
    std::erase_if(idle_, [&](const auto& p) { return p.get() == &c; });
    all_.remove_if([&](const auto& w) {
        auto p = w.lock();
        return !p || p.get() == &c;
    });
    if (!waiters_.empty()) waiters_.front()->ready.notify_all();
}

void Pool::close_idle(std::chrono::seconds idle) {
    auto cutoff = net::Clock::now() - idle;
    std::vector<std::shared_ptr<ServerConn>> victims;
    for (auto& s : idle_)
        if (s->last_used() < cutoff) victims.push_back(s);
    for (auto& s : victims) s->close("idle_server_timeout");
}

void Pool::fail_all(const std::string& sqlstate, const std::string& why) {
    std::vector<std::shared_ptr<ServerConn>> victims;
    for (auto& w : all_)
        if (auto p = w.lock()) victims.push_back(p);
    // Logging in: closing the socket ends the login (open_new then reports the refusal).
    for (ServerConn* p : std::vector<ServerConn*>(opening_)) p->close(why);
    for (auto& s : victims) s->abort(sqlstate, why);
    idle_.clear();
    for (Waiter* w : waiters_) w->ready.notify_all();
}

void Pool::close_expired(std::chrono::seconds lifetime) {
    auto cutoff = net::coarse_now() - lifetime;
    std::vector<std::shared_ptr<ServerConn>> victims;
    for (auto& s : idle_)
        if (s->created_at() < cutoff) victims.push_back(s);
    stats_.lifetime_closes += victims.size();
    for (auto& s : victims) s->close("server_lifetime_s");
}

void Pool::retarget(const std::string& host, uint16_t port) {
    target_.host = host;
    target_.port = port;
    target_.epoch = ++epoch_;
    std::vector<std::shared_ptr<ServerConn>> victims(idle_.begin(), idle_.end());
    for (auto& s : victims) s->close("the shard's address changed (RELOAD)");
}

void Pool::reconnect() {
    reconnect_below_ = g_next_server_id;
    std::vector<std::shared_ptr<ServerConn>> idle(idle_.begin(), idle_.end());
    for (auto& s : idle) s->close("RECONNECT from the admin console");
}

void Pool::close_all(const std::string& why) {
    std::vector<std::shared_ptr<ServerConn>> victims;
    for (auto& w : all_)
        if (auto p = w.lock()) victims.push_back(p);
    for (auto& s : victims) s->close(why);
    idle_.clear();
}

}  // namespace sg::proxy
