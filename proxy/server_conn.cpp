#include "proxy/server_conn.h"

#include "common/sqlstate.h"
#include "proxy/readiness.h"

#include <spdlog/spdlog.h>

#include <cstring>

#include "proxy/server_login.h"
#include "proxy/spawn.h"
#include "proxy/wire/frame_cursor.h"
#include "proxy/wire/messages/error_response.h"
#include "proxy/wire/protocol.h"
#include "proxy/wire/writer.h"

namespace sg::proxy {

namespace asio = net::asio;

const char* to_string(ServerState s) {
    switch (s) {
        case ServerState::Connecting:
            return "connecting";
        case ServerState::Idle:
            return "idle";
        case ServerState::Active:
            return "active";
        case ServerState::Closed:
            return "closed";
    }
    return "?";
}

namespace {

// The ErrorResponse a deadlock victim gets (see ServerConn::mark_deadlock_victim).
std::string deadlock_error(const std::string& detail) {
    std::string out;
    wire::MessageWriter w(out);
    wire::ErrorBuilder(wire::Severity::Error, sqlstate::kDeadlockDetected, "deadlock detected")
        .detail(detail)
        .hint("The transaction was chosen to break a deadlock that spans shards; retry it.")
        .encode_error(w);
    return out;
}
constexpr size_t kInitialBuffer = 16 * 1024;
}  // namespace

ServerConn::ServerConn(asio::any_io_executor ex, ServerTarget target, uint64_t id)
    : sock_(ex), target_(std::move(target)), id_(id) {
    rbuf_.resize(kInitialBuffer);
}

ServerConn::~ServerConn() {
    if (readiness_handle_) readiness_->remove(readiness_handle_, sock_.native_handle());
    error_code ec;
    sock_.close(ec);
}

awaitable<std::string> ServerConn::connect() {
    auto self = shared_from_this();
    LoginResult r = co_await login_to_server(sock_, target_, rbuf_, rlen_);
    if (!r.error.empty()) {
        state_ = ServerState::Closed;
        broken_ = true;
        login_refused_sqlstate_ = r.refused_sqlstate;
        error_code ec;
        sock_.close(ec);
        co_return r.error;
    }
    backend_pid_ = r.backend_pid;
    backend_secret_ = r.backend_secret;
    params_ = std::move(r.parameters);
    // The socket can be closed under the login (its connect timeout or the health monitor's
    // abort fired as the last reply arrived): that is a lost connection, reported as a value —
    // an exception here would end the client's whole session.
    error_code opt_ec;
    if (sock_.is_open()) sock_.set_option(net::tcp::no_delay(true), opt_ec);
    if (!sock_.is_open() || opt_ec) {
        state_ = ServerState::Closed;
        broken_ = true;
        error_code ec;
        sock_.close(ec);
        co_return "connection to shard lost right after login" +
            (opt_ec ? ": " + opt_ec.message() : std::string());
    }
    tx_status_ = 'I';
    state_ = ServerState::Idle;
    if (std::string err = health::apply_tcp_options(sock_.native_handle(), target_.tcp);
        !err.empty())
        spdlog::warn("server {} ({}): {}", id_, target_.shard_name, err);
    readiness_ = &ReadinessService::of(sock_.get_executor());
    readiness_handle_ = readiness_->add(sock_.native_handle());
    asio::co_spawn(
        sock_.get_executor(), [self]() { return self->read_loop(); },
        LogUnhandled("server read loop"));
    co_return std::string();
}

size_t ServerConn::write_now(std::string_view bytes) {
    error_code ec;
    touch();
    asio::const_buffer b(bytes.data(), bytes.size());
    size_t n = net::send_now(sock_.native_handle(), &b, 1, ec);
    if (!ec) return n;
    fail("write to shard failed: " + ec.message());
    return bytes.size();  // nothing more goes to this connection
}

awaitable<error_code> ServerConn::write(std::string_view bytes) {
    // The owner may drop its reference while this write is suspended (an abort from the health
    // monitor resets the session's pointer in on_lost): the connection outlives its own write.
    auto self = shared_from_this();
    error_code ec;
    touch();
    asio::const_buffer b(bytes.data(), bytes.size());
    co_await net::write_plain(sock_, &b, 1, ec);
    if (ec) fail("write to shard failed: " + ec.message());
    co_return ec;
}

void ServerConn::close(const std::string& why) {
    if (state_ == ServerState::Closed) return;
    spdlog::debug("server {} ({}) closed: {}", id_, target_.shard_name, why);
    state_ = ServerState::Closed;
    broken_ = true;
    // A polite Terminate when the connection is still healthy; errors do not matter here.
    std::string terminate;
    wire::MessageWriter(terminate).empty_message(wire::fe::kTerminate);
    error_code ec;
    sock_.non_blocking(true, ec);
    sock_.write_some(asio::buffer(terminate), ec);
    sock_.shutdown(net::tcp::socket::shutdown_both, ec);
    if (readiness_handle_)
        readiness_->remove(readiness_handle_, sock_.native_handle());  // wakes read_loop
    readiness_handle_ = 0;
    sock_.close(ec);
    if (on_closed) on_closed(*this);
}

void ServerConn::fail(const std::string& why) {
    if (state_ == ServerState::Closed) return;
    broken_ = true;
    ServerSink* sink = sink_;
    sink_ = nullptr;
    if (sink) sink->on_lost(*this, why);
    close(why);
}

std::vector<ServerConn::QuietFailure> ServerConn::quiet_failures_since(uint64_t from) const {
    std::vector<QuietFailure> out;
    for (const auto& f : quiet_failures_)
        if (f.number >= from) out.push_back(f);
    return out;
}

namespace {

// A NoticeResponse/ErrorResponse body that announces the backend's exit: 57P01
// (admin_shutdown: pg_terminate_backend, a fast or immediate shutdown) or 57P02
// (crash_shutdown: another backend crashed).
bool is_goodbye(const char* body, size_t body_len) {
    size_t i = 0;
    while (i < body_len && body[i] != 0) {
        const char field = body[i++];
        const size_t start = i;
        while (i < body_len && body[i] != 0) ++i;
        if (field == 'C') {
            std::string_view code(body + start, i - start);
            return code == sqlstate::kAdminShutdown || code == "57P02";
        }
        ++i;
    }
    return false;
}

// How much of an answer ServerConn::hold_answer_start() keeps: a point read's whole answer,
// and a bounded copy of a larger one's start.
constexpr size_t kHoldBytes = 32 * 1024;

}  // namespace

size_t ServerConn::scan(std::vector<asio::const_buffer>& relay, std::vector<char>& readies,
                        std::string& first_error) {
    rewritten_.clear();  // the previous scan's relay is written by now
    size_t pos = 0;
    const char* base = rbuf_.data();
    size_t run_start = 0, run_len = 0;  // the current contiguous range to relay
    auto flush_run = [&] {
        if (run_len) relay.emplace_back(base + run_start, run_len);
        run_len = 0;
    };
    while (rlen_ - pos >= 5) {
        const char type = base[pos];
        const uint32_t len = wire::load_be32(base + pos + 1);
        if (len < 4 || len > max_message_) {
            fail("shard sent a malformed message");
            return pos;
        }
        const size_t total = size_t(len) + 1;
        if (rlen_ - pos < total) break;
        const char* body = base + pos + 5;
        const size_t body_len = len - 4;
        // What this reply is owed for (proxy/core/reply_expectations.h): relayed or dropped,
        // the ParseCompletes the proxy answers ahead of it, which request it ends.
        const core::Disposition d = expects_.on_reply(type);
        bool forward = d.forward;
        for (int k = 0; k < d.parse_completes; ++k) {
            static constexpr char kParseComplete[] = {wire::be::kParseComplete, 0, 0, 0, 4};
            flush_run();
            if (holding_)
                held_.append(kParseComplete, sizeof kParseComplete);
            else
                relay.emplace_back(kParseComplete, sizeof kParseComplete);
        }

        if (d.quiet) {
            if (type == wire::be::kErrorResponse) {
                // Recorded for the sender (which reports it, naming what failed); kept few.
                QuietFailure f;
                f.number = quiet_done_;
                wire::ErrorResponse e;
                if (wire::decode(wire::as_bytes(std::string_view(body, body_len)), e).ok()) {
                    f.sqlstate = std::string(e.sqlstate());
                    f.message = std::string(e.message());
                }
                spdlog::debug("server {}: quiet query {} failed: {} ({})", id_, f.number, f.message,
                              f.sqlstate);
                if (quiet_failures_.size() == 16) quiet_failures_.pop_front();
                quiet_failures_.push_back(std::move(f));
            }
            if (d.ready == core::Disposition::Ready::QuietQuery) {
                if (body_len >= 1) tx_status_ = body[0];
                ++quiet_done_;
                quiet_answered_ = true;
            }
        } else if (holding_ &&
                   (type == wire::be::kNoticeResponse || type == wire::be::kErrorResponse) &&
                   is_goodbye(body, body_len)) {
            forward = false;  // the shard's last words: held (hold_answer_start)
            held_.append(base + pos, total);
        } else {
            if (holding_ && (type == wire::be::kReadyForQuery || type == wire::be::kErrorResponse ||
                             held_.size() + total > kHoldBytes)) {
                // The answer ends (or is large): what was held goes out first, nothing more is
                // held.
                holding_ = false;
                if (!held_.empty()) {
                    flush_run();
                    rewritten_.push_back(std::exchange(held_, std::string()));
                    relay.emplace_back(rewritten_.back().data(), rewritten_.back().size());
                }
            }
            switch (type) {
                case wire::be::kCommandComplete: {
                    // "SELECT 5", "INSERT 0 5", "UPDATE 5": the count is the last word.
                    size_t end = body_len ? body_len - 1 : 0, i = end;
                    while (i > 0 && body[i - 1] >= '0' && body[i - 1] <= '9') --i;
                    uint64_t n = 0;
                    for (size_t k = i; k < end; ++k) n = n * 10 + uint64_t(body[k] - '0');
                    rows_ += n;
                    // A LISTEN ran here (session pooling passes it through): see listened().
                    if (body_len == 7 && std::memcmp(body, "LISTEN", 6) == 0) listened_ = true;
                    break;
                }
                case wire::be::kErrorResponse: {
                    error_before_ready_ = true;  // (the expectations skipped to the Sync)
                    // Find the SQLSTATE field ('C').
                    std::string code;
                    size_t i = 0;
                    while (i < body_len && body[i] != 0) {
                        char field = body[i++];
                        size_t start = i;
                        while (i < body_len && body[i] != 0) ++i;
                        if (field == 'C') code.assign(body + start, i - start);
                        ++i;
                    }
                    if (code.empty()) code = sqlstate::kInternalError;
                    if (!deadlock_detail_.empty() && code == sqlstate::kQueryCanceled) {
                        // The detector's cancel of a deadlock's victim: answered as PostgreSQL
                        // answers its own deadlock victims.
                        forward = false;
                        flush_run();
                        rewritten_.push_back(deadlock_error(deadlock_detail_));
                        relay.emplace_back(rewritten_.back().data(), rewritten_.back().size());
                        deadlock_detail_.clear();
                        code = sqlstate::kDeadlockDetected;
                    }
                    if (first_error.empty()) first_error = std::move(code);
                    break;
                }
                case wire::be::kReadyForQuery:
                    if (body_len >= 1) tx_status_ = body[0];
                    if (d.ready == core::Disposition::Ready::QuietSync) {
                        error_before_ready_ = false;  // the piece's error: reported by the session
                        quiet_readies_.push_back(tx_status_);
                        break;
                    }
                    deadlock_detail_
                        .clear();  // the victim's request ended (a cancel that came too late)
                    readies.push_back(tx_status_);
                    ready_errors_.push_back(std::exchange(error_before_ready_, false));
                    break;
                case wire::be::kParameterStatus: {
                    const char* nul = static_cast<const char*>(std::memchr(body, 0, body_len));
                    if (nul) {
                        size_t nlen = size_t(nul - body);
                        const char* v = nul + 1;
                        const char* vend =
                            static_cast<const char*>(std::memchr(v, 0, body_len - nlen - 1));
                        if (vend)
                            params_[std::string(body, nlen)] = std::string(v, size_t(vend - v));
                    }
                    break;
                }
                default:
                    break;
            }
        }
        if (forward && holding_) {
            flush_run();
            held_.append(base + pos, total);
        } else if (forward) {
            if (run_len && run_start + run_len == pos)
                run_len += total;
            else {
                flush_run();
                run_start = pos;
                run_len = total;
            }
        } else {
            flush_run();
        }
        pos += total;
    }
    flush_run();
    return pos;
}

awaitable<void> ServerConn::read_loop() {
    auto self = shared_from_this();
    std::vector<asio::const_buffer> relay;
    std::vector<char> readies;
    std::string first_error;
    for (;;) {
        if (rlen_ == rbuf_.size()) rbuf_.resize(rbuf_.size() * 2);
        error_code ec;
        size_t n = 0;
        auto space = asio::buffer(rbuf_.data() + rlen_, rbuf_.size() - rlen_);
        if (readiness_handle_) {
            // Most replies are there already: no suspension for them. Otherwise wait for epoll
            // in this frame (no nested read coroutine) and read what arrived.
            std::optional<size_t> now =
                readiness_->try_read(readiness_handle_, sock_.native_handle(), space, ec);
            if (!now) {
                co_await readiness_->wait_readable(readiness_handle_, ec);
                if (!ec && state_ != ServerState::Closed) continue;
                now = 0;
            }
            n = *now;
        } else {
            n = co_await sock_.async_read_some(space, net::ec_token(ec));
        }
        if (ec || state_ == ServerState::Closed) {
            fail(ec == asio::error::eof ? "the shard closed the connection"
                                        : "read from shard failed: " + ec.message());
            co_return;
        }
        rlen_ += n;
        relay.clear();
        readies.clear();
        ready_errors_.clear();
        quiet_answered_ = false;
        quiet_readies_.clear();
        first_error.clear();
        size_t consumed = scan(relay, readies, first_error);
        if (!usable()) co_return;
        // A frame larger than the buffer: grow so the next read can complete it.
        if (consumed == 0 && rlen_ >= 5) {
            size_t need = size_t(wire::load_be32(rbuf_.data() + 1)) + 1;
            if (need > rbuf_.size()) rbuf_.resize(need);
        }
        ServerSink* sink = sink_;
        if (!readies.empty()) {
            ready_at_ = net::Clock::now();
            if (expects_.outstanding() >
                0) {  // the next pipelined request starts now (query_timeout_ms)
                busy_since_ = ready_at_;
                cancel_sent_ = false;
            }
        }
        if (sink) {
            if (!relay.empty()) {
                size_t done = sink->relay_now(*this, relay);
                if (done < net::asio::buffer_size(relay)) co_await sink->relay(*this, relay, done);
            }
            if (!first_error.empty() && sink_ == sink) sink->on_error(*this, first_error);
        } else if (!relay.empty()) {
            spdlog::debug("server {}: {} unsolicited bytes while idle", id_,
                          asio::buffer_size(relay));
        }
        if (consumed < rlen_) std::memmove(rbuf_.data(), rbuf_.data() + consumed, rlen_ - consumed);
        rlen_ -= consumed;
        // Readiness last: the session may hand this connection to someone else right here.
        for (char st : quiet_readies_) {
            if (sink_ && sink_ == sink) sink->on_quiet_ready(*this, st);
        }
        if (quiet_answered_ && sink_ && sink_ == sink) sink->on_quiet_done(*this);
        for (size_t i = 0; i < readies.size(); ++i) {
            ready_failed_ = ready_errors_[i];
            if (sink_ && sink_ == sink) sink->on_ready(*this, readies[i]);
        }
        if (!usable()) co_return;
    }
}

awaitable<void> send_cancel(asio::any_io_executor ex, const ServerTarget& target, int32_t pid,
                            int32_t secret) {
    net::tcp::socket s(ex);
    error_code ec;
    net::tcp::endpoint ep(asio::ip::make_address(target.host, ec), target.port);
    if (ec) {
        net::tcp::resolver res(ex);
        auto results =
            co_await res.async_resolve(target.host, std::to_string(target.port), net::ec_token(ec));
        if (ec || results.empty()) co_return;
        ep = *results.begin();
    }
    co_await s.async_connect(ep, net::ec_token(ec));
    if (ec) co_return;
    char pkt[16];
    auto put = [&](int off, uint32_t v) {
        pkt[off] = char(v >> 24);
        pkt[off + 1] = char(v >> 16);
        pkt[off + 2] = char(v >> 8);
        pkt[off + 3] = char(v);
    };
    put(0, 16);
    put(4, wire::kCancelRequestCode);
    put(8, uint32_t(pid));
    put(12, uint32_t(secret));
    co_await asio::async_write(s, asio::buffer(pkt, 16), net::ec_token(ec));
    // The shard closes the connection after acting on the request.
    char sink[1];
    co_await s.async_read_some(asio::buffer(sink), net::ec_token(ec));
}

}  // namespace sg::proxy
