#include "proxy/notify/listener.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstring>

#include "proxy/health/tcp_options.h"
#include "proxy/server_login.h"
#include "proxy/spawn.h"
#include "proxy/wire/frame.h"
#include "proxy/wire/messages/error_response.h"
#include "proxy/wire/messages/simple_query.h"
#include "proxy/wire/writer.h"

namespace sg::proxy::notify {

namespace asio = net::asio;

namespace {
constexpr auto kMinBackoff = std::chrono::milliseconds(100);
constexpr auto kMaxBackoff = std::chrono::milliseconds(5000);
constexpr size_t kReadChunk = 16 * 1024;
constexpr size_t kMaxMessage = 64 * 1024 * 1024;  // a notification's payload is < 8000 bytes
}  // namespace

ShardListener::ShardListener(asio::any_io_executor ex, int shard,
                             std::function<ServerTarget()> target, Events events)
    : ex_(ex),
      shard_(shard),
      target_(std::move(target)),
      events_(std::move(events)),
      backoff_(ex) {}

void ShardListener::start() {
    asio::co_spawn(
        ex_, [self = shared_from_this()]() { return self->run(); },
        LogUnhandled("notify listener"));
}

void ShardListener::stop() {
    stopped_ = true;
    backoff_.cancel();
    drop_connection();
}

void ShardListener::kick() {
    if (!connected_) backoff_.cancel();
}

void ShardListener::drop_connection() {
    if (!sock_) return;
    error_code ec;
    sock_->shutdown(net::tcp::socket::shutdown_both, ec);
    sock_->close(ec);
}

void ShardListener::send(const std::string& sql, uint64_t seq) {
    if (!connected_) return;
    wire::MessageWriter w(out_);
    wire::encode(wire::Query{sql}, w);
    inflight_.push_back(seq);
    if (!writing_) {
        writing_ = true;
        asio::co_spawn(
            ex_, [self = shared_from_this()]() { return self->write_loop(); },
            LogUnhandled("notify listener write"));
    }
}

net::awaitable<void> ShardListener::write_loop() {
    auto self = shared_from_this();
    net::tcp::socket* sock = sock_.get();  // the connection these commands belong to
    while (!out_.empty() && sock_.get() == sock && connected_) {
        std::string chunk = std::move(out_);
        out_.clear();
        error_code ec;
        co_await asio::async_write(*sock, asio::buffer(chunk), net::ec_token(ec));
        if (ec) {
            if (sock_.get() == sock) drop_connection();  // the read loop notices and reconnects
            break;
        }
    }
    writing_ = false;
}

net::awaitable<void> ShardListener::run() {
    auto self = shared_from_this();
    auto backoff = kMinBackoff;
    while (!stopped_) {
        ServerTarget t = target_();
        sock_ = std::make_unique<net::tcp::socket>(ex_);
        rbuf_.assign(kReadChunk, '\0');
        rlen_ = 0;
        LoginResult r = co_await login_to_server(*sock_, t, rbuf_, rlen_);
        if (stopped_) break;
        std::string why;
        bool was_connected = false;
        if (r.error.empty()) {
            if (std::string err = health::apply_tcp_options(sock_->native_handle(), t.tcp);
                !err.empty())
                spdlog::warn("notify listener ({}): {}", t.shard_name, err);
            backend_pid_ = r.backend_pid;
            connected_ = true;
            was_connected = true;
            failed_command_ = false;
            inflight_.clear();
            out_.clear();
            backoff = kMinBackoff;
            spdlog::debug("notify listener ({}): connected, backend pid {}", t.shard_name,
                          backend_pid_);
            events_.connected(shard_);
            why = co_await read_loop();
            connected_ = false;
            inflight_.clear();
            out_.clear();
        } else {
            why = r.error;
        }
        drop_connection();
        last_error_ = why;
        if (stopped_) break;
        events_.lost(shard_, why, was_connected);
        // Nobody listens: no point in retrying until someone does (kick()).
        if (!events_.wanted()) {
            backoff = kMinBackoff;
            backoff_.expires_at(net::Clock::time_point::max());
        } else {
            backoff_.expires_after(backoff);
            backoff = std::min<std::chrono::milliseconds>(backoff * 2, kMaxBackoff);
        }
        error_code ec;
        co_await backoff_.async_wait(net::ec_token(ec));
    }
    connected_ = false;
    sock_.reset();
}

net::awaitable<std::string> ShardListener::read_loop() {
    for (;;) {
        if (std::string err = scan(); !err.empty()) co_return err;
        if (rlen_ == rbuf_.size()) rbuf_.resize(rbuf_.size() * 2);
        error_code ec;
        size_t n = co_await sock_->async_read_some(
            asio::buffer(rbuf_.data() + rlen_, rbuf_.size() - rlen_), net::ec_token(ec));
        if (stopped_) co_return "stopped";
        if (ec)
            co_return ec == asio::error::eof ? "the shard closed the connection"
                                             : "read failed: " + ec.message();
        rlen_ += n;
    }
}

std::string ShardListener::scan() {
    size_t pos = 0;
    std::string err;
    while (err.empty()) {
        auto st = wire::parse_frame(
            wire::as_bytes(std::string_view(rbuf_.data() + pos, rlen_ - pos)), kMaxMessage);
        if (std::holds_alternative<wire::NeedMore>(st)) break;
        if (auto* bad = std::get_if<wire::Malformed>(&st)) {
            err = fmt::format("the shard sent a malformed message: {}", bad->reason);
            break;
        }
        const auto& f = std::get<wire::Frame>(st);
        std::string_view frame(rbuf_.data() + pos, f.size);
        switch (f.type) {
            case wire::be::kNotificationResponse:
                events_.notification(shard_, frame);
                break;
            case wire::be::kErrorResponse: {
                wire::ErrorResponse e;
                if (wire::decode(f.body, e).ok())
                    failure_ = fmt::format("{} ({})", e.message(), e.sqlstate());
                else
                    failure_ = "an unreadable error";
                failed_command_ = true;
                // No ReadyForQuery follows a FATAL one: the server closes the connection.
                if (e.severity() == "FATAL" || e.severity() == "PANIC")
                    err = "the shard ended the session: " + failure_;
                break;
            }
            case wire::be::kReadyForQuery:
                if (failed_command_) {
                    // The server's listening state is not what the hub thinks: start afresh.
                    err = "LISTEN/UNLISTEN failed: " + failure_;
                    break;
                }
                if (!inflight_.empty()) {
                    uint64_t seq = inflight_.front();
                    inflight_.pop_front();
                    events_.acknowledged(shard_, seq);
                }
                break;
            default:
                break;  // CommandComplete, NoticeResponse, ParameterStatus
        }
        pos += f.size;
    }
    if (pos > 0) {
        std::memmove(rbuf_.data(), rbuf_.data() + pos, rlen_ - pos);
        rlen_ -= pos;
    }
    return err;
}

}  // namespace sg::proxy::notify
