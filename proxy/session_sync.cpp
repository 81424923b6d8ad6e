// Re-applying a client's session settings on the pooled server connection a request lands on.
//
// Invariants (issue 17):
//  - each setting is sent as a quiet Query of its own, so each runs in its own implicit
//    transaction: one refused setting neither undoes the others nor, ever, a held-back BEGIN
//    (that is sent after the sync, in a Query of its own);
//  - the client's request goes to the server only once every setting was accepted: a
//    statement never runs with settings other than the client's;
//  - a refused setting is never silent: the client gets PostgreSQL's error naming the setting,
//    the setting leaves the session, and the server connection (whose state is now uncertain)
//    is discarded;
//  - the wait for the answers is bounded.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/sqlstate.h"
#include "proxy/proxy.h"
#include "proxy/session.h"
#include "proxy/session_settings.h"
#include "proxy/shard_request.h"
#include "proxy/wire/frame_cursor.h"
#include "proxy/wire/messages/error_response.h"
#include "proxy/wire/writer.h"

namespace sg::proxy {

namespace {
// A SET answers at once; a shard that takes longer is treated as lost for this request.
constexpr auto kSyncTimeout = std::chrono::seconds(10);
}  // namespace

awaitable<bool> Session::sync_settings(bool report_with_ready) {
    std::shared_ptr<ServerConn> keep = server_;
    ServerConn& s = *keep;
    const char status_before = s.tx_status();
    const auto list = settings_sync_list(s.applied_settings(), settings_);
    if (list.empty()) co_return true;
    const uint64_t first = s.quiet_sent();
    std::string out;
    for (const auto& [name, statement] : list) ShardRequest(out, s).quiet_query(statement);
    co_await s.write(out);
    const uint64_t last = first + list.size();
    const auto deadline = net::Clock::now() + kSyncTimeout;
    while (server_ == keep && s.usable() && s.quiet_done() < last) {
        auto now = net::Clock::now();
        if (now >= deadline) break;
        co_await released_.wait_for(deadline - now);
    }
    std::string sqlstate, message;
    if (!s.usable() || server_ != keep) {
        sqlstate = sqlstate::kConnectionFailure;
        message = fmt::format(
            "shardgate lost the connection to shard \"{}\" while re-applying this session's "
            "settings",
            s.target().shard_name);
    } else if (s.quiet_done() < last) {
        sqlstate = sqlstate::kConnectionFailure;
        message =
            fmt::format("shard \"{}\" did not confirm this session's settings within {} s",
                        s.target().shard_name,
                        std::chrono::duration_cast<std::chrono::seconds>(kSyncTimeout).count());
    } else {
        const auto failures = s.quiet_failures_since(first);
        for (const auto& f : failures) {
            if (f.number >= last) continue;
            const auto& [name, statement] = list[f.number - first];
            spdlog::warn(
                "client {}: shard {} refused the session setting \"{}\" when shardgate re-applied "
                "it ({}): {} "
                "[{}]; the setting is dropped from the session and the client gets the error",
                peer_, s.target().shard_name, name.empty() ? "all" : name, statement, f.message,
                f.sqlstate);
            if (sqlstate.empty()) {
                sqlstate = f.sqlstate.empty() ? sqlstate::kInternalError : f.sqlstate;
                message = fmt::format(
                    "shardgate could not re-apply the session setting \"{}\" on shard \"{}\": {}; "
                    "the setting was "
                    "removed from this session and the statement did not run",
                    name, s.target().shard_name, f.message);
            }
            if (!name.empty()) settings_tracker_.drop(name);
        }
        if (sqlstate.empty()) co_return true;
    }
    // What the server carries is uncertain now: it is not given to anyone else.
    if (server_ == keep) {
        server_->detach();
        server_.reset();
        server_pool_ = nullptr;
    }
    keep->close("re-applying a session's settings failed");
    released_.notify_all();
    if (status_before != 'I') {
        // The client's open transaction was on that connection: it cannot continue.
        co_await fatal(sqlstate, message);
        terminate("settings sync failed inside a transaction");
        co_return false;
    }
    co_await report_attach_failure(report_with_ready, sqlstate, message);
    co_return false;
}

awaitable<void> Session::report_attach_failure(bool report_with_ready, std::string_view sqlstate,
                                               const std::string& message) {
    if (report_with_ready) {
        // A transaction the proxy held back (BEGIN not sent yet) fails, as in PostgreSQL.
        co_await error_and_ready(sqlstate, message);
        co_return;
    }
    // Inside an extended batch: the error now, the rest of the batch skipped until its Sync.
    begin_.fail();
    std::string err;
    wire::MessageWriter w(err);
    wire::ErrorBuilder(wire::Severity::Error, sqlstate, message).encode_error(w);
    ++proxy_.counters().errors;
    co_await send(err);
    client_.skip_to_sync();
}

namespace {
// The NUL-terminated string at `pos` of `body` (advancing `pos`); empty when there is none.
std::string_view cstr_at(std::string_view body, size_t& pos) {
    size_t end = body.find('\0', pos);
    if (end == std::string_view::npos) {
        pos = body.size();
        return {};
    }
    std::string_view out = body.substr(pos, end - pos);
    pos = end + 1;
    return out;
}
}  // namespace

void Session::track_batch_settings(ServerConn& s, std::string_view batch) {
    // The texts the batch executes, in order: a Parse in the batch defines a name for the
    // Binds after it; other names are the client's statements (`statements_`).
    std::vector<std::string_view>& texts = batch_texts_;
    texts.clear();
    std::string_view unnamed = unnamed_query_, current;
    std::vector<std::pair<std::string_view, std::string_view>> parsed;  // name, text (rare: small)
    wire::FrameCursor cursor(batch);
    while (auto f = cursor.next()) {
        const char type = f->type;
        const std::string_view body = f->body;
        size_t at = 0;
        if (type == 'P') {
            std::string_view name = cstr_at(body, at), text = cstr_at(body, at);
            if (name.empty())
                unnamed = text;
            else
                parsed.emplace_back(name, text);
        } else if (type == 'B') {
            cstr_at(body, at);  // the portal
            std::string_view name = cstr_at(body, at);
            current = unnamed;
            if (!name.empty()) {
                current = {};
                for (auto it = parsed.rbegin(); it != parsed.rend(); ++it)
                    if (it->first == name) {
                        current = it->second;
                        break;
                    }
                if (current.empty())
                    if (auto st = statements_.find(std::string(name)); st != statements_.end())
                        current = st->second.query;
            }
        } else if (type == 'E') {
            texts.push_back(current);
        }
    }
    settings_tracker_.sent_batch(texts, s.outstanding(), in_transaction());
}

}  // namespace sg::proxy
