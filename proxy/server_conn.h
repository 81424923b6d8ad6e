// One connection from the proxy to a shard (the backend protocol side).
//
// A ServerConn logs in once, then a permanent reader coroutine relays what the shard sends to
// whichever client session currently owns it. Only the owning session writes to the shard.
// The reader knows which replies belong to messages the proxy injected (a Parse re-prepared
// for a pooled client, a SET that carries session parameters) and swallows them, so the
// client sees exactly the replies to what it sent.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "common/sqlstate.h"
#include "proxy/core/reply_expectations.h"
#include "proxy/health/tcp_options.h"
#include "proxy/net.h"

namespace sg::proxy {

using net::awaitable;
using net::error_code;

class ServerConn;
class ReadinessService;

// Where a server's replies go while a client session owns it.
class ServerSink {
public:
    virtual ~ServerSink() = default;
    // Relays complete frames to the client; returns once they are written (back-pressure).
    // `done` bytes of them were already written by relay_now().
    virtual awaitable<void> relay(ServerConn& s, const std::vector<net::asio::const_buffer>& frames,
                                  size_t done = 0) = 0;
    // The common case without starting a coroutine: the bytes of `frames` written at once,
    // without waiting; relay() is then called for the rest only if some are left. A sink that
    // cannot write at once (busy, TLS) writes nothing here.
    virtual size_t relay_now(ServerConn& s, const std::vector<net::asio::const_buffer>& frames) {
        return 0;
    }
    // A ReadyForQuery for a client-visible request arrived; `status` is I, T or E.
    virtual void on_ready(ServerConn& s, char status) = 0;
    // An ErrorResponse (client-visible) was relayed; for statistics and transaction state.
    virtual void on_error(ServerConn& s, std::string_view sqlstate) {}
    // The ReadyForQuery of a Sync the proxy added (not relayed to the client).
    virtual void on_quiet_ready(ServerConn& s, char status) {}
    // A quiet query (ShardRequest::quiet_query) was answered; see ServerConn::quiet_done().
    virtual void on_quiet_done(ServerConn& s) {}
    // The connection broke; the sink must not use `s` any more.
    virtual void on_lost(ServerConn& s, const std::string& why) = 0;
};

struct ServerTarget {
    int shard = 0;
    std::string shard_name;
    std::string host;
    uint16_t port = 0;
    std::string dbname;
    std::string user;
    std::string password;
    int connect_timeout_ms = 3000;
    health::TcpOptions tcp;  // applied once logged in
    uint32_t epoch = 0;      // the pool's address generation (see Pool::retarget)
    // -1: the shard's primary (writes and reads); >= 0: a read pool of that standby endpoint
    // (proxy/health/shard_health.h), which only replica-safe reads outside transactions use.
    int read_endpoint = -1;
    // The setting that bounds the connect and login, as errors name it (the health checks'
    // logins are bounded by [health] check_timeout_ms, not connect_timeout_ms).
    const char* connect_timeout_key = "connect_timeout_ms";
};

enum class ServerState { Connecting, Idle, Active, Closed };
const char* to_string(ServerState s);

class ServerConn : public std::enable_shared_from_this<ServerConn> {
public:
    ServerConn(net::asio::any_io_executor ex, ServerTarget target, uint64_t id);
    ~ServerConn();

    // Connects and logs in (auth, ParameterStatus, BackendKeyData, ReadyForQuery). On
    // success starts the reader. Returns an error text on failure.
    awaitable<std::string> connect();

    // Writes bytes to the shard (owner only).
    awaitable<error_code> write(std::string_view bytes);
    // The same without suspending, for a socket that takes all of `bytes` at once (the usual
    // case, and then no coroutine is started): the bytes written; the caller finishes with
    // write() when fewer. An error fails the connection as write() does and counts as written.
    size_t write_now(std::string_view bytes);

    // Client-visible ReadyForQuery messages still to come.
    int outstanding() const { return expects_.outstanding(); }
    // Quiet queries sent and answered so far (numbered from 0 in the order sent), and the
    // errors some of them got: a quiet query's failure is never only swallowed, its sender
    // can tell which one failed and why.
    struct QuietFailure {
        uint64_t number = 0;
        std::string sqlstate, message;
    };
    uint64_t quiet_sent() const { return quiet_sent_; }
    uint64_t quiet_done() const { return quiet_done_; }
    // The failures of quiet queries numbered `from` or later (older ones are forgotten).
    std::vector<QuietFailure> quiet_failures_since(uint64_t from) const;
    // Whether the client-visible ReadyForQuery being handed to on_ready() ended a request that
    // got an ErrorResponse.
    bool ready_failed() const { return ready_failed_; }
    // The proxy's map generation under which this connection last confirmed its shard's map
    // stamp (0: never); see Session::check_map_stamp.
    uint64_t map_checked() const { return map_checked_; }
    void set_map_checked(uint64_t generation) { map_checked_ = generation; }

    void attach(ServerSink* sink) {
        sink_ = sink;
        state_ = ServerState::Active;
    }
    void detach() {
        sink_ = nullptr;
        holding_ = false;
        if (state_ == ServerState::Active) state_ = ServerState::Idle;
    }
    // For the request just sent (alone on the connection): its answer is kept here instead of
    // being relayed, so the owner can still retry a read of which its client has seen nothing
    // when the connection is lost (Session's lost-read retry): up to 32 KiB of it (PostgreSQL
    // flushes what it buffered, a RowDescription or rows, with its last words), and the shard's
    // last words before it closes the connection (a NoticeResponse or ErrorResponse with SQLSTATE
    // 57P01 or 57P02: terminated by an administrator, a fast or immediate shutdown, another
    // backend's crash). Its ReadyForQuery, an error, or more than 32 KiB end the hold: what was
    // held is relayed first, in order, and the rest streams as usual. take_held() hands over what
    // is held (relayed before reporting the loss when not retrying).
    //
    void hold_answer_start() { holding_ = true; }
    std::string take_held() { return std::exchange(held_, std::string()); }
    ServerSink* sink() const { return sink_; }

    void close(const std::string& why);
    // Fails the connection from outside (query timeout, an opened circuit breaker): the owner is
    // told through on_lost, and lost_sqlstate() says what to answer its client.
    void abort(std::string sqlstate, const std::string& why) {
        lost_sqlstate_ = std::move(sqlstate);
        fail(why);
    }
    // The SQLSTATE a client owed replies gets when the connection is lost (08006 unless
    // abort() said otherwise).
    const std::string& lost_sqlstate() const { return lost_sqlstate_; }
    // Since when the shard owes a client-visible reply (outstanding() > 0): the request's
    // start, moved on at each ReadyForQuery while more are owed. For query_timeout_ms.
    net::Clock::time_point busy_since() const { return busy_since_; }
    bool cancel_sent() const { return cancel_sent_; }
    void mark_cancel_sent() { cancel_sent_ = true; }
    net::Clock::time_point created_at() const { return created_at_; }
    // The deadlock detector (txn/deadlock_detector.h) chose the statement this connection runs
    // as a deadlock's victim and cancels it: the shard's 57014 for it reaches the client as
    // 40P01 "deadlock detected" with `detail`, as PostgreSQL answers its own deadlock victims
    // (applications retry 40P01, not a cancel). Forgotten at the request's ReadyForQuery, so a
    // cancel that arrives too late cannot relabel a later one.
    void mark_deadlock_victim(std::string detail) { deadlock_detail_ = std::move(detail); }
    bool deadlock_victim() const { return !deadlock_detail_.empty(); }
    // After a failed connect(): the SQLSTATE of the shard's refusal, empty when the shard
    // never answered (refused, reset, timed out): only the latter says the shard is sick.
    const std::string& login_refused_sqlstate() const { return login_refused_sqlstate_; }
    bool usable() const { return state_ != ServerState::Closed && !broken_; }
    ServerState state() const { return state_; }
    char tx_status() const { return tx_status_; }
    // A LISTEN ran on this connection (only in session pooling, or a LISTEN inside a text of
    // several statements): its notifications would reach the next client that takes it, so it
    // is closed instead of going back to its pool.
    bool listened() const { return listened_; }
    bool idle_clean() const {
        return usable() && tx_status_ == 'I' && expects_.outstanding() == 0 && expects_.empty() &&
               synced_;
    }
    // False after extended-protocol messages were sent without a closing Sync.
    void set_synced(bool synced) { synced_ = synced; }
    bool synced() const { return synced_; }

    const ServerTarget& target() const { return target_; }
    uint64_t id() const { return id_; }
    int32_t backend_pid() const { return backend_pid_; }
    int32_t backend_secret() const { return backend_secret_; }
    const std::map<std::string, std::string>& parameters() const { return params_; }
    net::Clock::time_point last_used() const { return last_used_; }
    void touch() { last_used_ = net::coarse_now(); }
    uint64_t queries() const { return queries_; }
    // When the last client-visible ReadyForQuery was handed on (its reply's end, for statistics:
    // taken before the write, whose completion may be scheduled well after the bytes left).
    net::Clock::time_point ready_at() const { return ready_at_; }
    // Rows reported by CommandComplete since the last call.
    uint64_t take_rows() { return std::exchange(rows_, 0); }
    void count_query() { ++queries_; }

    // Prepared statements this connection holds (proxy-chosen ids) and the unnamed statement's
    // owner (client id, parse sequence) so a pooled client's unnamed statement is re-prepared
    // when it lands elsewhere.
    std::unordered_set<uint64_t>& prepared() { return prepared_; }
    std::pair<uint64_t, uint64_t>& unnamed_owner() { return unnamed_owner_; }
    // How many of prepared() the proxy made itself for simple-protocol lookups (bounded).
    uint32_t& lookups_prepared() { return lookups_prepared_; }
    // Session settings applied on this connection (name -> value), to bring it in line with
    // the next owner's settings.
    std::map<std::string, std::string>& applied_settings() { return applied_; }

    // Called when the connection closes for any reason (the pool forgets it).
    std::function<void(ServerConn&)> on_closed;

private:
    friend class ShardRequest;
    void expect(core::Expect e) {
        if (expects_.push(e)) start_busy();
    }
    awaitable<void> read_loop();
    // Splits the buffered bytes into relayed ranges and events; returns the bytes consumed.
    size_t scan(std::vector<net::asio::const_buffer>& relay, std::vector<char>& readies,
                std::string& first_error);
    std::vector<char> quiet_readies_;
    std::vector<bool> ready_errors_;  // per entry of `readies`: an error came before it
    bool error_before_ready_ = false;
    bool ready_failed_ = false;
    uint64_t quiet_sent_ = 0, quiet_done_ = 0;
    uint64_t map_checked_ = 0;
    bool quiet_answered_ = false;              // in this scan
    std::deque<QuietFailure> quiet_failures_;  // the last few
    void fail(const std::string& why);
    void start_busy() {
        busy_since_ = net::coarse_now();
        cancel_sent_ = false;
    }

    net::tcp::socket sock_;
    ReadinessService* readiness_ = nullptr;  // reads without Asio's speculative recv
    uint64_t readiness_handle_ = 0;
    ServerTarget target_;
    uint64_t id_;
    ServerState state_ = ServerState::Connecting;
    bool broken_ = false;
    bool listened_ = false;
    bool synced_ = true;
    char tx_status_ = 'I';
    // The replies owed for what was sent, in order (written only through ShardRequest).
    core::ReplyExpectations expects_;
    ServerSink* sink_ = nullptr;
    std::string rbuf_;
    size_t rlen_ = 0;
    int32_t backend_pid_ = 0;
    int32_t backend_secret_ = 0;
    std::map<std::string, std::string> params_;
    std::unordered_set<uint64_t> prepared_;
    std::pair<uint64_t, uint64_t> unnamed_owner_{0, 0};
    uint32_t lookups_prepared_ = 0;
    std::map<std::string, std::string> applied_;
    net::Clock::time_point last_used_ = net::Clock::now();
    uint64_t queries_ = 0;
    uint64_t rows_ = 0;
    net::Clock::time_point ready_at_{};
    size_t max_message_ = 1u << 30;
    net::Clock::time_point busy_since_{};
    bool cancel_sent_ = false;
    net::Clock::time_point created_at_ = net::coarse_now();
    std::string lost_sqlstate_ = sqlstate::kConnectionFailure;
    std::string deadlock_detail_;
    std::deque<std::string> rewritten_;  // frames relayed in place of the shard's (this scan)
    std::string login_refused_sqlstate_;
    bool holding_ = false;
    std::string held_;  // hold_answer_start()

    friend class ServerConnTestPeer;
};

// Sends a CancelRequest for (pid, secret) to the shard at `target` (a fresh connection).
awaitable<void> send_cancel(net::asio::any_io_executor ex, const ServerTarget& target, int32_t pid,
                            int32_t secret);

}  // namespace sg::proxy
