// A read whose server connection is lost after it was sent (issue 19): when no byte of its
// answer reached the client, it goes once to another healthy endpoint of the shard instead of
// failing the client with 08006.
//
// Which reads: those whose attach was planned as retryable (plan_read(): a replica-safe SELECT
// outside any transaction, in transaction pooling, read_from = replica|any, on a shard with
// standbys; router/replica_safe.h keeps FOR UPDATE, data-modifying WITH and functions not known
// to be read-only on the primary, and those are never retried), sent alone on the connection
// (nothing pipelined before it), and not already retried at its attach. Writes and anything
// in a transaction are never armed.
//
// Exactness: the read must not be answered twice or partly. The session awaits the armed
// read's ReadyForQuery before it reads the client's next message (so a later request cannot
// overtake the resent one), and on_lost takes the loss only while relayed_total_ has not moved
// since the read was sent and no relay is being written: then the client has seen nothing of
// the answer. The answer's first 32 KiB (all of a point read's: PostgreSQL flushes what it
// buffered with its last words) and the shard's last words (a 57P01/57P02 notice or FATAL before
// it closes) are held by the connection meanwhile (ServerConn::hold_answer_start): dropped with
// a retry (the new endpoint answers afresh), relayed before the 08006 otherwise. A read the proxy
// failed on purpose (query_timeout_ms: 57014) is not retried.
#include <spdlog/spdlog.h>

#include "common/sqlstate.h"
#include "proxy/health/monitor.h"
#include "proxy/pool.h"
#include "proxy/proxy.h"
#include "proxy/server_conn.h"
#include "proxy/session.h"
#include "proxy/session_frames.h"
#include "proxy/wire/messages/error_response.h"
#include "proxy/wire/writer.h"

namespace sg::proxy {

bool Session::arm_lost_read(std::string_view batch) {
    const std::optional<ReadFrom> mode = std::exchange(lost_read_.attached, std::nullopt);
    lost_read_.mode.reset();
    lost_read_.server = nullptr;
    lost_read_.lost = false;
    if (!mode) return false;
    if (!batch.empty()) {
        char last = 0;
        for (session_frames::BatchFrames f{batch}; f.next();) {
            if (f.type != 'P' && f.type != 'B' && f.type != 'D' && f.type != 'E' && f.type != 'S')
                return false;
            last = f.type;
        }
        if (last != 'S') return false;
    }
    // Alone on the connection: its Sync or Query is the only reply owed (expected already).
    if (!mode || !server_ || !server_->usable() || server_->outstanding() != 1) return false;
    lost_read_.mode = mode;
    lost_read_.server = server_.get();
    lost_read_.endpoint = server_->target().read_endpoint;
    lost_read_.relayed_at = relayed_total_;
    lost_read_.why.clear();
    lost_read_.held.clear();
    server_->hold_answer_start();
    return true;
}

bool Session::lost_read_taken(ServerConn& s, const std::string& why) {
    if (!lost_read_.mode || lost_read_.server != &s || lost_read_.lost) return false;
    // Something of the answer was written (or is being written) to the client: no retry.
    if (relayed_total_ != lost_read_.relayed_at || writing_) return false;
    if (s.lost_sqlstate() != sqlstate::kConnectionFailure)
        return false;  // failed on purpose (query_timeout_ms)
    lost_read_.lost = true;
    lost_read_.why = why;
    lost_read_.held = s.take_held();
    return true;
}

awaitable<void> Session::await_read_or_retry(
    int shard, const std::function<void(ServerConn&, std::string&)>& resend) {
    if (!lost_read_.mode) co_return;
    {
        ClientWatch client_watch(*this);  // a client that leaves cancels the read meanwhile
        while (!lost_read_.lost && server_ && server_.get() == lost_read_.server &&
               server_->outstanding() > 0)
            co_await released_.wait();
    }
    const bool lost = std::exchange(lost_read_.lost, false);
    retry_read_ = lost_read_.mode;
    lost_read_.mode.reset();
    lost_read_.server = nullptr;
    if (!lost) {
        retry_read_.reset();
        co_return;
    }
    const std::string why = std::move(lost_read_.why);
    const std::string held = std::move(lost_read_.held);
    Pool* other = read_retry_pool(shard, lost_read_.endpoint, nullptr);  // consumes retry_read_
    std::variant<std::shared_ptr<ServerConn>, PoolError> got = PoolError{};
    if (other && !proxy_.paused()) got = co_await other->acquire();
    if (std::holds_alternative<PoolError>(got)) {
        // As on_lost answers a lost request: what the shard sent (held), then 08006, and goodbye.
        spdlog::warn(
            "client {}: lost its shard connection mid-request: {} (no other endpoint to retry the "
            "read on)",
            peer_, why);
        std::string out = held;
        wire::MessageWriter w(out);
        wire::ErrorBuilder(
            wire::Severity::Fatal, sqlstate::kConnectionFailure,
            "shardgate lost the connection to the shard serving this session: " + why)
            .encode_error(w);
        co_await send(out);
        terminate("server lost");
        co_return;
    }
    spdlog::info(
        "client {}: read retried on {}:{} of shard \"{}\" after its connection was lost: {}", peer_,
        other->target().host, other->target().port, other->target().shard_name, why);
    if (health::ShardHealth* h = proxy_.health().shard(shard)) ++h->read_retries_lost;
    server_ = std::move(std::get<std::shared_ptr<ServerConn>>(got));
    server_pool_ = other;
    server_->attach(this);
    server_->take_rows();
    if (server_->map_checked() != proxy_.map_generation()) {
        bool ok = co_await check_map_stamp(true);  // (not in a condition: GCC 12)
        if (!ok) co_return;
    }
    if (server_->applied_settings() != settings_) {
        bool synced = co_await sync_settings(true);
        if (!synced) co_return;
    }
    ServerConn& s = *server_;
    std::string out;
    add_prelude(out, s);
    resend(s, out);
    co_await s.write(out);  // not armed again: a second loss reaches the client as 08006
}

}  // namespace sg::proxy
