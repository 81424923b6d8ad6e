#include "proxy/session.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstring>

#include "common/sqlstate.h"
#include "proxy/admin.h"
#include "proxy/health/probe.h"
#include "proxy/notify/inbox.h"
#include "proxy/notify/relay_filter.h"
#include "proxy/pool.h"
#include "proxy/proxy.h"
#include "proxy/session_settings.h"
#include "proxy/shard_request.h"
#include "proxy/spawn.h"
#include "proxy/stats/query_event.h"
#include "proxy/wire/frame.h"
#include "proxy/wire/frame_cursor.h"
#include "proxy/wire/messages/command_complete.h"
#include "proxy/wire/messages/error_response.h"
#include "proxy/wire/messages/extended_query.h"
#include "proxy/wire/messages/session_status.h"
#include "proxy/wire/messages/startup.h"
#include "proxy/wire/writer.h"

namespace sg::proxy {

namespace asio = net::asio;

namespace {
uint64_t g_next_client_id = 1;

int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               net::Clock::now().time_since_epoch())
        .count();
}

// The bytes of one ErrorResponse.
std::string error_frame(wire::Severity sev, std::string_view sqlstate, const std::string& message,
                        const std::string& hint = {}) {
    std::string out;
    wire::MessageWriter w(out);
    wire::ErrorBuilder b(sev, sqlstate, message);
    if (!hint.empty()) b.hint(hint);
    b.encode_error(w);
    return out;
}

void ready_frame(std::string& out, char status) {
    wire::append_ready_for_query(out, status);
}
}  // namespace

const char* to_string(SessionState s) {
    switch (s) {
        case SessionState::Startup:
            return "startup";
        case SessionState::Authenticating:
            return "authenticating";
        case SessionState::Ready:
            return "ready";
        case SessionState::Busy:
            return "busy";
        case SessionState::Closed:
            return "closed";
    }
    return "?";
}

Session::Session(Proxy& proxy, net::tcp::socket sock)
    : proxy_(proxy),
      stream_(std::move(sock)),
      released_(proxy.io().get_executor()),
      write_done_(proxy.io().get_executor()),
      client_id_(g_next_client_id++) {
    error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    peer_ = addr_ = ec ? "?" : fmt::format("{}:{}", ep.address().to_string(), ep.port());
    stream_.socket().set_option(net::tcp::no_delay(true), ec);
    // Small to start (1000 idle clients should cost little); grows for large messages.
    cbuf_ = proxy_.take_read_buffer();
}

Session::~Session() {
    // run() gives the server connection back on its way out; a session whose coroutine never
    // got there (destroyed at shutdown, or ended by an exception) still holds it. Its state is
    // unknown, so it is closed, never pooled, and it must stop pointing at this session.
    if (server_) {
        server_->detach();
        server_->close("client session destroyed while holding it");
        server_.reset();
    }
    proxy_.give_read_buffer(std::move(cbuf_));
    if (pid_) proxy_.unregister_session(pid_);
}

void Session::transition(SessionState to) {
    // Legal moves only; anything else is a bug in this file, logged loudly.
    bool ok = false;
    switch (state_) {
        case SessionState::Startup:
            ok = to == SessionState::Authenticating || to == SessionState::Closed;
            break;
        case SessionState::Authenticating:
            ok = to == SessionState::Ready || to == SessionState::Closed;
            break;
        case SessionState::Ready:
            ok = to == SessionState::Busy || to == SessionState::Closed;
            break;
        case SessionState::Busy:
            ok = to == SessionState::Ready || to == SessionState::Closed;
            break;
        case SessionState::Closed:
            ok = to == SessionState::Closed;
            break;
    }
    if (!ok)
        spdlog::error("client {}: illegal state change {} -> {}", peer_, to_string(state_),
                      to_string(to));
    state_ = to;
}

awaitable<bool> Session::send(std::string_view bytes) {
    while (writing_) co_await write_done_.wait();
    writing_ = true;
    error_code ec;
    co_await stream_.write_all(asio::buffer(bytes.data(), bytes.size()), ec);
    proxy_.counters().bytes_out += bytes.size();
    writing_ = false;
    write_done_.notify_all();
    if (ec) {
        closing_ = true;
        co_return false;
    }
    co_return true;
}

namespace {
// A pooled server connection that ran a client's LISTEN (transaction pooling): its own
// notifications are not relayed (proxy/notify/relay_filter.h).
bool drops_notifications(const Proxy& proxy, const ServerConn& s) {
    return s.listened() && proxy.config().proxy.pool_mode == PoolMode::Transaction;
}
}  // namespace

size_t Session::relay_now(ServerConn& s, const std::vector<asio::const_buffer>& frames) {
    if (writing_ || stream_.is_tls() || closing_) return 0;
    if (drops_notifications(proxy_, s)) return 0;  // relay() filters them
    error_code ec;
    size_t n = net::send_now(stream_.socket().native_handle(), frames.data(), frames.size(), ec);
    proxy_.counters().bytes_out += n;
    relayed_bytes_ += n;
    relayed_total_ += n;
    if (ec) {
        closing_ = true;  // the client is gone; the serve loop notices on its next read
        return asio::buffer_size(frames);  // nothing more to write to it
    }
    return n;
}

awaitable<void> Session::relay(ServerConn& s, const std::vector<asio::const_buffer>& frames,
                               size_t done) {
    // The server's reader calls in through a plain pointer; hold the session until the write
    // completes even if the client's coroutine ends meanwhile.
    auto self = shared_from_this();
    // (relay_now() wrote nothing of frames to be filtered: done is 0 for them.)
    const bool filter = done == 0 && drops_notifications(proxy_, s);
    std::vector<asio::const_buffer> kept;
    if (filter) kept = notify::without_notifications(frames);
    const auto& out = filter ? kept : frames;
    while (writing_) co_await write_done_.wait();
    writing_ = true;
    error_code ec;
    size_t n = 0;
    if (stream_.is_tls()) {  // relay_now() writes nothing to a TLS client: done is 0
        for (const auto& b : out) {
            co_await stream_.write_all(b, ec);
            if (ec) break;
            n += b.size();
        }
    } else if (done > 0) {
        n = co_await net::write_rest(stream_.socket(), out.data(), out.size(), done, ec);
    } else {
        n = co_await net::write_plain(stream_.socket(), out.data(), out.size(), ec);
    }
    proxy_.counters().bytes_out += n;
    relayed_bytes_ += n;
    relayed_total_ += n;
    writing_ = false;
    write_done_.notify_all();
    if (ec) closing_ = true;  // the client is gone; the serve loop notices on its next read
}

void Session::on_ready(ServerConn& s, char status) {
    settings_tracker_.ready(status, s.ready_failed(), s.applied_settings());
    last_status_ = status;
    stats_complete(s);
    if (status == 'I') ++proxy_.counters().transactions;
    if (status == 'I' && s.outstanding() == 0) forget_touched_buckets();
    if (s.outstanding() == 0) lookups_unconfirmed_.clear();
    if (server_.get() != &s) return;
    if (s.outstanding() == 0 && status == 'I' &&
        proxy_.config().proxy.pool_mode == PoolMode::Transaction)
        release_server();
    if (s.outstanding() == 0) {
        if (state_ == SessionState::Busy && !server_) transition(SessionState::Ready);
        released_.notify_all();
    }
    if (inbox_) wake_notifications();  // a notification waits for this ReadyForQuery 'I'
}

void Session::on_error(ServerConn& s, std::string_view sqlstate) {
    ++proxy_.counters().errors;
    // A lookup run as a prepared statement failed, or one sent with it did: its statement may
    // not exist on this server (its Parse failed, a DISCARD ALL dropped it) or may no longer
    // fit its table. It gets a new name, prepared afresh where it is next used.
    for (auto& [st, id] : lookups_unconfirmed_) {
        s.prepared().erase(id);
        proxy_.lookups().retire(*st, id);
    }
    lookups_unconfirmed_.clear();
    split_error_ = true;
    if (inflight_count_ > 0) {
        auto& front = inflight_ring_[inflight_head_];
        if (front.sqlstate.empty()) front.sqlstate.assign(sqlstate);
    }
}

void Session::stats_sent(std::string_view text, uint64_t param_hash,
                         const std::vector<std::string>* params, int shard) {
    if (!proxy_.stats().enabled()) return;
    if (inflight_count_ == inflight_ring_.size()) {
        // Grow, keeping order: the oldest request first.
        std::vector<InflightRequest> bigger(std::max<size_t>(4, inflight_ring_.size() * 2));
        for (size_t i = 0; i < inflight_count_; ++i)
            bigger[i] = std::move(inflight_ring_[(inflight_head_ + i) % inflight_ring_.size()]);
        inflight_ring_ = std::move(bigger);
        inflight_head_ = 0;
    }
    InflightRequest& r = inflight_ring_[(inflight_head_ + inflight_count_) % inflight_ring_.size()];
    ++inflight_count_;
    if (const auto* shape = large_stats_shape_for(text)) {  // a large text: not copied again
        r.shape = *shape;
        r.text.assign(r.shape->normalized);
    } else {
        r.shape.reset();
        r.text.assign(text);
    }
    r.param_hash = param_hash;
    r.sqlstate.clear();
    r.params.clear();
    if (params && proxy_.config().stats.log_parameters) r.params = *params;
    r.sent_ns = now_ns();
    r.start_ns = req_start_ns_ ? req_start_ns_ : r.sent_ns;
    r.pool_wait_ns = pool_wait_ns_;
    r.held_ns = std::exchange(held_ns_, 0);
    r.bytes_in = req_bytes_in_;
    req_bytes_in_ = 0;
    r.shard = shard;
    r.in_transaction = transaction_status() != 'I';
    pool_wait_ns_ = 0;
    req_start_ns_ = 0;
}

void Session::stats_complete(ServerConn& s) {
    if (inflight_count_ == 0) {
        s.take_rows();
        return;
    }
    InflightRequest& r = inflight_ring_[inflight_head_];
    inflight_head_ = (inflight_head_ + 1) % inflight_ring_.size();
    --inflight_count_;
    int64_t end =
        std::chrono::duration_cast<std::chrono::nanoseconds>(s.ready_at().time_since_epoch())
            .count();
    stats::QueryEvent e;
    e.text = r.text;
    e.shape = r.shape ? &r.shape : nullptr;
    e.user = user_name_;
    e.database = database_;
    e.client_id = client_id_;
    e.in_transaction = r.in_transaction;
    e.latency_ns = end - r.start_ns;
    e.pool_wait_ns = r.pool_wait_ns;
    e.server_ns = end - r.sent_ns;
    e.shards = 1;
    e.rows = s.take_rows();
    e.bytes_in = r.bytes_in;
    e.bytes_out = std::exchange(relayed_bytes_, 0);
    e.sqlstate = r.sqlstate;
    e.params = r.params.empty() ? nullptr : &r.params;
    e.param_hash = r.param_hash;
    e.end_ns = end;
    e.held_ns = r.held_ns;
    const stats::ShardLeg leg{r.shard,    e.server_ns, r.pool_wait_ns,     e.rows,
                              r.bytes_in, e.bytes_out, !r.sqlstate.empty()};
    if (r.shard >= 0) e.legs = {&leg, 1};
    proxy_.stats().record(e);
    count_shard_legs(e.legs);
}

void Session::stats_merged(std::string_view text, uint64_t param_hash, uint32_t shards,
                           std::string_view reply) {
    if (!proxy_.stats().enabled()) return;
    // Rows and the error come from the merged reply the client got.
    uint64_t rows = 0;
    std::string sqlstate, message;
    wire::FrameCursor cursor(reply);
    while (auto f = cursor.next()) {
        if (f->type == wire::be::kCommandComplete) {
            wire::CommandComplete cc;
            if (!wire::decode(wire::as_bytes(f->body), cc).ok()) continue;
            if (auto tag = wire::parse_row_count_tag(cc.tag)) rows += tag->rows;
        } else if (f->type == wire::be::kErrorResponse && sqlstate.empty()) {
            wire::ErrorResponse err;
            if (!wire::decode(wire::as_bytes(f->body), err).ok()) continue;
            sqlstate.assign(err.sqlstate());
            message.assign(err.message());
        }
    }
    int64_t end = now_ns();
    stats::QueryEvent e;
    e.text = text;
    e.shape = large_stats_shape_for(text);
    e.user = user_name_;
    e.database = database_;
    e.client_id = client_id_;
    e.in_transaction = false;
    e.latency_ns = end - (req_start_ns_ ? req_start_ns_ : end);
    e.pool_wait_ns = pool_wait_ns_;
    e.server_ns = e.latency_ns;
    e.shards = shards;
    e.rows = rows;
    e.bytes_in = std::exchange(req_bytes_in_, 0);
    e.bytes_out = reply.size();
    e.sqlstate = sqlstate;
    e.param_hash = param_hash;
    e.held_ns = std::exchange(held_ns_, 0);
    e.server_ns -= std::min(
        e.held_ns, e.server_ns);  // a fan-out's time is the shards' except what a pause held
    e.legs = leg_stats_;
    // A refusal raised after the shards answered (the combining step could not show its
    // answer right) is a refusal of its construct, like one raised before they ran.
    if (sqlstate == sqlstate::kFeatureNotSupported && message.rfind("shard \"", 0) != 0)
        proxy_.stats().record_refusal(e, message);
    else
        proxy_.stats().record(e);
    count_shard_legs(e.legs);
    leg_stats_.clear();
    pool_wait_ns_ = 0;
    req_start_ns_ = 0;
}

void Session::on_quiet_ready(ServerConn& s, char status) {
    last_status_ = status;
    split_piece_done_ = true;
    if (server_.get() == &s && s.outstanding() == 0 && status == 'I' &&
        proxy_.config().proxy.pool_mode == PoolMode::Transaction)
        release_server();
    released_.notify_all();
}

void Session::on_quiet_done(ServerConn&) {
    released_.notify_all();
}

bool Session::touches_paused_bucket() const {
    if (!proxy_.any_bucket_paused()) return false;
    if (touched_all_buckets_) return true;
    for (uint32_t b : touched_buckets_)
        if (proxy_.bucket_paused(b)) return true;
    return false;
}

void Session::forget_touched_buckets() {
    touched_all_buckets_ = false;
    touched_buckets_.clear();
}

bool Session::touch_buckets_unless_paused(const router::Analysis& a, const router::Route& r) {
    const bool reference_write = a.placement == router::Placement::Reference && a.is_write;
    if (a.placement != router::Placement::Sharded && !reference_write) return true;
    if (proxy_.any_bucket_paused()) return false;
    if (r.keys.empty() || reference_write) touched_all_buckets_ = true;
    for (const auto& k : r.keys) touched_buckets_.push_back(k.bucket);
    return true;
}

void Session::on_lost(ServerConn& s, const std::string& why) {
    if (server_.get() != &s) return;
    lookups_unconfirmed_.clear();
    settings_tracker_.lost();
    bool mid_request = s.outstanding() > 0 || last_status_ != 'I';
    server_->detach();
    server_.reset();
    server_pool_ = nullptr;
    released_.notify_all();
    if (mid_request) {
        if (lost_read_taken(s, why)) return;  // a read the client saw nothing of: sent elsewhere
        // The client was owed replies (or had a transaction open there): it cannot continue.
        spdlog::warn("client {}: lost its shard connection mid-request: {}", peer_, why);
        // A connection the proxy failed on purpose (query_timeout_ms) carries its own SQLSTATE.
        bool lost = s.lost_sqlstate() == sqlstate::kConnectionFailure;
        // The shard's last words first, when they were held for a retry
        // (ServerConn::hold_answer_start).
        std::string msg =
            s.take_held() +
            error_frame(
                wire::Severity::Fatal, s.lost_sqlstate(),
                lost ? "shardgate lost the connection to the shard serving this session: " + why
                     : why);
        asio::co_spawn(
            proxy_.io(),
            [self = shared_from_this(), msg]() -> awaitable<void> {
                co_await self->send(msg);
                self->terminate("server lost");
            },
            LogUnhandled("session: server-lost notice"));
    }
}

void Session::release_server() {
    if (!server_) return;
    auto s = std::move(server_);
    Pool* pool = server_pool_;
    server_pool_ = nullptr;
    s->detach();
    if (pool)
        pool->release(std::move(s));
    else
        s->close("no pool");
}

void Session::terminate(const std::string& why) {
    if (closing_ && state_ == SessionState::Closed) return;
    spdlog::debug("client {}: closing: {}", peer_, why);
    closing_ = true;
    stream_.close();
}

void Session::cancel_running() {
    fanout_legs_.cancel_all(proxy_.io().get_executor());  // a multi-shard statement: every leg
    if (!server_ || server_->outstanding() == 0) return;
    // Bounded: a frozen shard accepts the cancel's connection but never acts on it.
    health::send_cancel_bounded(
        proxy_.io().get_executor(), server_->target(), server_->backend_pid(),
        server_->backend_secret(),
        std::chrono::milliseconds(proxy_.config().proxy.connect_timeout_ms));
}

char Session::transaction_status() const {
    if (held_failed())
        return 'E';  // a multi-shard transaction failed in the proxy (session_txn.cpp)
    if (server_) return server_->tx_status();
    return begin_.status();
}

bool Session::in_transaction() const {
    return transaction_status() != 'I';
}

awaitable<void> Session::wait_replies_out() {
    while (server_ && server_->outstanding() > 0) co_await released_.wait();
}

awaitable<bool> Session::wait_for_client() {
    if (cstart_ > 0 && cstart_ == clen_) cstart_ = clen_ = 0;
    if (clen_ == 0 && stream_.would_wait()) {
        // Nothing buffered and nothing to read yet: wait without a buffer (an idle client then
        // costs no read buffer), take one back when the client has sent something.
        proxy_.give_read_buffer(std::move(cbuf_));
        error_code wec;
        co_await stream_.wait_readable(wec);
        cbuf_ = proxy_.take_read_buffer();
        if (wec || closing_) co_return false;
    }
    co_return !closing_;
}

awaitable<bool> Session::read_more() {
    if (cstart_ > 0 && cstart_ == clen_) cstart_ = clen_ = 0;
    if (clen_ == 0 && stream_.would_wait()) {
        if (!co_await wait_for_client()) co_return false;
    }
    if (clen_ == cbuf_.size()) {
        if (cstart_ > 0) {
            std::memmove(cbuf_.data(), cbuf_.data() + cstart_, clen_ - cstart_);
            clen_ -= cstart_;
            cstart_ = 0;
        } else {
            cbuf_.resize(cbuf_.size() * 2);
        }
    }
    error_code ec;
    auto space = asio::buffer(cbuf_.data() + clen_, cbuf_.size() - clen_);
    auto now = stream_.try_read(space, ec);  // usually there: the wait above said so
    size_t n = 0;
    if (now)
        n = *now;
    else
        n = co_await stream_.read_some(space,
                                       ec);  // (not in ?: — GCC 12 miscompiles co_await there)
    if (ec || closing_) co_return false;
    clen_ += n;
    last_activity_ = net::coarse_now();
    proxy_.counters().bytes_in += n;
    co_return true;
}

awaitable<void> Session::fatal(std::string_view sqlstate, const std::string& message) {
    co_await send(error_frame(wire::Severity::Fatal, sqlstate, message));
}

awaitable<bool> Session::abort_transaction_for_refusal(std::string_view sqlstate,
                                                       const std::string& message) {
    // A refused statement inside a transaction must fail the transaction, as any error does in
    // PostgreSQL: a later COMMIT then rolls back instead of committing half of the work.
    if (server_ && server_->tx_status() == 'T') {
        // (Not a setting that failed: the log says which case it is.)
        spdlog::info(
            "client {}: statement refused inside a transaction on shard {}, whose transaction is "
            "now failed "
            "(the client's settings stay): {} [{}]",
            peer_, server_->target().shard_name, message, sqlstate);
        std::string sql =
            "DO $shardgate$ BEGIN RAISE EXCEPTION USING ERRCODE = '" + std::string(sqlstate) +
            "', MESSAGE = " + quote_sql_literal("shardgate refused a statement: " + message) +
            "; END $shardgate$";
        std::string out;
        ShardRequest(out, *server_).quiet_query(sql);
        co_await server_->write(out);
        // The client is told the transaction status next: wait (briefly) for the shard to take it.
        auto deadline = net::Clock::now() + std::chrono::seconds(2);
        while (server_ && server_->usable() && server_->tx_status() == 'T' &&
               net::Clock::now() < deadline)
            co_await released_.wait_for(std::chrono::milliseconds(1));
        co_return true;
    }
    if (!server_) begin_.fail();
    co_return false;
}

awaitable<void> Session::error_and_ready(std::string_view sqlstate, const std::string& message,
                                         std::string hint) {
    co_await wait_replies_out();
    co_await abort_transaction_for_refusal(sqlstate, message);
    if (sqlstate == sqlstate::kFeatureNotSupported) stats_refused({}, message);
    std::string out = error_frame(wire::Severity::Error, sqlstate, message, hint);
    ready_frame(out, transaction_status());
    ++proxy_.counters().errors;
    co_await send(out);
}

awaitable<void> Session::run() {
    // Everything this session touches stays valid for its whole life: the proxy outlives it.
    bool ok = co_await startup();
    // An idle client waits here, in small coroutine frames (serve_loop's is large), holding no
    // read buffer: that is most of what 1000 idle clients cost.
    while (ok) {  // (no co_await inside && or ?:, which GCC 12 miscompiles)
        parked_ = true;
        if (inbox_) wake_notifications();  // queued while the last request ran
        bool more = co_await wait_for_client();
        parked_ = false;
        if (!more) break;
        ok = co_await serve_loop();
    }
    // Give back (or close) the server connection: never leave it to another client dirty.
    if (server_) {
        if (server_->outstanding() > 0 || server_->tx_status() != 'I') {
            // A statement still running would run to its end: the shard does not notice the
            // closed connection until it writes. Cancel it first.
            if (server_->outstanding() > 0)
                asio::co_spawn(proxy_.io(),
                               send_cancel(proxy_.io().get_executor(), server_->target(),
                                           server_->backend_pid(), server_->backend_secret()),
                               LogUnhandled("session: cancel on leaving"));
            server_->close("client left mid-transaction");
            server_.reset();
        } else {
            release_server();
        }
    }
    if (state_ != SessionState::Closed) transition(SessionState::Closed);
    drop_inbox();  // unlistens everything, as a disconnect does
    proxy_.stats().forget_client(client_id_);
    stream_.close();
}

}  // namespace sg::proxy
