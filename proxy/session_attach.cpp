// Attaching a pooled server connection to a client session: the settings prelude that makes
// the connection look like the client's own session, and the pool checkout itself.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <strings.h>
#include <boost/container/small_vector.hpp>
#include <cctype>
#include <climits>
#include <cmath>
#include <cstring>
#include "common/sqlstate.h"
#include "proxy/admin.h"
#include "proxy/fanout.h"
#include "proxy/fanout_legs.h"
#include "proxy/having_params.h"
#include "proxy/health/monitor.h"
#include "proxy/merge_combine.h"
#include "proxy/pool.h"
#include "proxy/proxy.h"
#include "proxy/returning_order.h"
#include "proxy/session.h"
#include "proxy/session_frames.h"
#include "proxy/session_settings.h"
#include "proxy/shard_request.h"
#include "proxy/spawn.h"
#include "proxy/stats/query_event.h"
#include "proxy/table_columns.h"
#include "proxy/txn/policy.h"
#include "proxy/wire/frame.h"
#include "proxy/wire/messages/command_complete.h"
#include "proxy/wire/messages/copy.h"
#include "proxy/wire/messages/error_response.h"
#include "proxy/wire/messages/extended_query.h"
#include "proxy/wire/messages/extended_replies.h"
#include "proxy/wire/messages/row_data.h"
#include "proxy/wire/writer.h"
#include "router/copy_split.h"
#include "router/literals.h"

namespace sg::proxy {

namespace asio = net::asio;
using namespace session_frames;

std::string Session::settings_sync_query(ServerConn& s) {
    return settings_sync_statements(s.applied_settings(), settings_);
}

bool Session::add_prelude(std::string& out, ServerConn& s) {
    // Settings were synced by sync_settings() already (nothing left here then). Never in one
    // text with the BEGIN: a failing SET would make PostgreSQL skip the BEGIN.
    bool any = ShardRequest(out, s).quiet_query(settings_sync_query(s));
    any = ShardRequest(out, s).quiet_query(begin_.take()) || any;
    return any;
}

bool Session::attach_idle_server(int shard) {
    lost_read_.attached.reset();
    if (server_) {
        if (!server_fits(shard, read_plan_)) return false;
        read_plan_ = -1;
        lost_read_.attached = std::exchange(retry_read_, std::nullopt);
        return true;
    }
    if (proxy_.paused()) return false;
    Pool& pool = pool_for(shard, read_plan_);
    auto s = pool.take_idle();
    if (!s) return false;
    if (s->map_checked() != proxy_.map_generation()) {  // attach_server checks its stamp first
        pool.release(std::move(s));
        return false;
    }
    read_plan_ = -1;
    lost_read_.attached = std::exchange(retry_read_, std::nullopt);
    server_ = std::move(s);
    server_pool_ = &pool;
    server_->attach(this);
    server_->take_rows();  // rows counted for a previous owner are not this client's
    return true;
}

awaitable<bool> Session::attach_server(int shard, bool report_with_ready) {
    const int plan = std::exchange(read_plan_, -1);
    const std::optional<ReadFrom> retry = std::exchange(retry_read_, std::nullopt);
    lost_read_.attached.reset();
    if (server_ && server_fits(shard, plan)) {
        lost_read_.attached = retry;
        co_return true;
    }
    if (server_) {
        // A transaction spanning shards: the other shard joins it (session_txn.cpp).
        if (transaction_status() == 'T' && proxy_.config().transactions.two_phase_commit) {
            auto awaited = co_await join_shard(shard, report_with_ready);
            co_return awaited;
        }
        if (transaction_status() != 'I') {
            std::string msg = fmt::format(
                "this transaction runs on shard \"{}\" and the statement needs shard \"{}\"; a "
                "transaction "
                "cannot span shards in this version",
                server_->target().shard_name, proxy_.config().shards[shard].name);
            if (report_with_ready)
                co_await error_and_ready(
                    sqlstate::kFeatureNotSupported, msg,
                    "commit first, or keep a transaction's statements on one shard key");
            else
                co_await send(std::string());
            co_return false;
        }
        // The previous request's replies are still coming: wait for its ReadyForQuery.
        while (server_ && server_->outstanding() > 0) co_await released_.wait();
        if (server_ && !server_fits(shard, plan)) release_server();
        if (server_) {
            lost_read_.attached = retry;
            co_return true;
        }
    }
    std::optional<PoolError> refused;
    if (proxy_.paused()) refused = co_await hold_while_paused(shard);  // session_pause.cpp
    Pool* pool_used = &pool_for(shard, plan);
    bool retried = false;  // once only: and then not again if its connection is lost
    // A read whose endpoint could not be reached (connect failure, breaker open), or whose new
    // connection was lost during its map stamp check: nothing reached the client yet, so it goes
    // once to another healthy endpoint of the shard.
    auto retry_pool = [&](const std::string& why) -> Pool* {
        if (!retry || retried) return nullptr;
        retry_read_ = retry;
        Pool* other = read_retry_pool(shard, pool_used->target().read_endpoint, pool_used);
        if (!other) return nullptr;
        spdlog::info("client {}: read retried on {}:{} of shard \"{}\": {}", peer_,
                     other->target().host, other->target().port, other->target().shard_name, why);
        if (health::ShardHealth* h = proxy_.health().shard(shard)) ++h->read_retries;
        retried = true;
        return other;
    };
    for (;;) {
        auto wait_start = net::Clock::now();
        std::variant<std::shared_ptr<ServerConn>, PoolError> got = PoolError{};
        if (refused)
            got = *refused;
        else
            got = co_await pool_used->acquire();
        pool_wait_ns_ +=
            std::chrono::duration_cast<std::chrono::nanoseconds>(net::Clock::now() - wait_start)
                .count();
        if (auto* err = std::get_if<PoolError>(&got)) {
            if (!refused && err->sqlstate == sqlstate::kConnectionFailure) {
                if (Pool* other = retry_pool(err->message)) {
                    pool_used = other;
                    continue;
                }
            }
            if (report_with_ready)
                co_await error_and_ready(err->sqlstate, err->message);
            else {
                std::string out;
                wire::MessageWriter w(out);
                wire::ErrorBuilder(wire::Severity::Error, err->sqlstate, err->message)
                    .encode_error(w);
                co_await send(out);
                client_.skip_to_sync();
            }
            co_return false;
        }
        server_ = std::move(std::get<std::shared_ptr<ServerConn>>(got));
        server_pool_ = pool_used;
        server_->attach(this);
        server_->take_rows();  // rows counted for a previous owner are not this client's
        if (server_->map_checked() != proxy_.map_generation()) {
            std::string lost;
            bool checked =
                co_await check_map_stamp(report_with_ready, retry && !retried ? &lost : nullptr);
            if (!checked && !lost.empty()) {
                if (Pool* other = retry_pool(lost)) {
                    pool_used = other;
                    continue;
                }
                co_await report_attach_failure(report_with_ready, sqlstate::kConnectionFailure,
                                               lost);
                co_return false;
            }
            if (!checked) co_return false;
        }
        if (!retried) lost_read_.attached = retry;
        co_return true;
    }
}

}  // namespace sg::proxy
