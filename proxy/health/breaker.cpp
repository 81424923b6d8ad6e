#include "proxy/health/breaker.h"

#include <fmt/format.h>

#include <ctime>

namespace sg::proxy::health {

const char* to_string(BreakerState s) {
    switch (s) {
        case BreakerState::Closed:
            return "closed";
        case BreakerState::Open:
            return "open";
        case BreakerState::HalfOpen:
            return "half-open";
    }
    return "?";
}

std::optional<BreakerChange> Breaker::on_failure(SysTime now, std::string_view reason) {
    last_error_.assign(reason);
    last_error_at_ = now;
    switch (state_) {
        case BreakerState::Closed:
            if (++failures_ < threshold_) return std::nullopt;
            state_ = BreakerState::Open;
            since_ = now;
            open_reason_.assign(reason);
            ++opens_;
            return BreakerChange{BreakerState::Closed, BreakerState::Open, std::string(reason)};
        case BreakerState::HalfOpen:
            // Still unavailable since the first opening: since_ stays.
            ++failures_;
            state_ = BreakerState::Open;
            open_reason_.assign(reason);
            return BreakerChange{BreakerState::HalfOpen, BreakerState::Open, std::string(reason)};
        case BreakerState::Open:
            ++failures_;
            return std::nullopt;
    }
    return std::nullopt;
}

std::optional<BreakerChange> Breaker::on_success(SysTime now) {
    failures_ = 0;
    if (state_ == BreakerState::Closed) return std::nullopt;
    BreakerState from = state_;
    state_ = BreakerState::Closed;
    since_ = now;
    open_reason_.clear();
    return BreakerChange{from, BreakerState::Closed, "the shard answered a health check"};
}

std::optional<BreakerChange> Breaker::on_probe(SysTime) {
    if (state_ != BreakerState::Open) return std::nullopt;
    state_ = BreakerState::HalfOpen;
    return BreakerChange{BreakerState::Open, BreakerState::HalfOpen, "probing the shard"};
}

void Breaker::reset(SysTime now) {
    state_ = BreakerState::Closed;
    since_ = now;
    failures_ = 0;
    open_reason_.clear();
}

std::string format_utc(SysTime t) {
    if (t == SysTime{}) return "never";
    auto secs = std::chrono::time_point_cast<std::chrono::seconds>(t);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t - secs).count();
    std::time_t tt = std::chrono::system_clock::to_time_t(secs);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    return fmt::format("{}.{:03d} UTC", buf, static_cast<int>(ms));
}

}  // namespace sg::proxy::health
