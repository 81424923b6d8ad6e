// A simple query of several statements (`SET a = 1; SELECT ...`): what the session must know
// about it before it runs.
//
// PostgreSQL runs the statements of one simple query that holds no transaction control as one
// implicit transaction: their SETs count only if the whole query succeeded (no ErrorResponse
// before its ReadyForQuery), SET LOCAL lasts only for it; inside an explicit transaction block
// the usual rules apply. That is how the settings tracker reads an extended batch ending with
// Sync, so the statements' texts are handed to it the same way (send_to_shard).
//
// Refused (0A000, naming the construct), where the proxy would otherwise lose or leak state:
//  - a SET / RESET / DISCARD together with transaction control (BEGIN, COMMIT, ROLLBACK,
//    SAVEPOINT, ...): where the error fell decides which part took, and the client's
//    ReadyForQuery does not say;
//  - a SET in a query that runs on several shards (the statement is sent to every shard, on
//    connections the client does not keep);
//  - in transaction pooling, LISTEN / UNLISTEN in a query that runs on several shards or holds
//    a SET the tracker does not read, and LISTEN together with transaction control (the
//    outcome of each part would have to be told apart).
//
// LISTEN / UNLISTEN among other statements in transaction pooling (`LISTEN a; SELECT 1`;
// asyncpg's pool reset sends `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET
// ALL;`) is carried as in a transaction block (proxy/notify/listen_txn.h): a new channel is
// subscribed at the notify service before the query is sent (so a NOTIFY in the same query
// reaches the client), and the changes take effect once the query succeeded (the settings
// tracker tells its observer, the inbox), or with the COMMIT of the block it is in. The
// query itself runs on its shard as the client wrote it, so the client gets PostgreSQL's own
// replies (CommandComplete "LISTEN", a truncation NOTICE); that server connection then
// listens too: its notifications are dropped (the client gets them from the proxy's
// listening connections: Session::relay) and it is closed instead of going back to its pool
// (ServerConn::listened()).
#include <fmt/format.h>

#include "common/sqlstate.h"
#include "proxy/notify/inbox.h"
#include "proxy/notify/listen_statement.h"
#include "proxy/proxy.h"
#include "proxy/session.h"
#include "proxy/session_settings.h"
#include "proxy/session_state.h"

namespace sg::proxy {

awaitable<bool> Session::guard_multi_statement(const router::Analysis& a, std::string_view sql,
                                               const router::Route& r) {
    using SK = router::StatementKind;
    multi_texts_.clear();
    const bool transaction_pooling = proxy_.config().proxy.pool_mode == PoolMode::Transaction;
    std::string_view setting, control;
    bool unknown_setting = false;
    std::vector<notify::ListenStatement> listens;  // LISTEN / UNLISTEN, in the query's order
    bool any_listen = false;
    for (const auto& part : a.statements) {
        if (part.stmt_end <= part.stmt_begin || part.stmt_end > sql.size()) continue;
        const std::string_view text = sql.substr(part.stmt_begin, part.stmt_end - part.stmt_begin);
        multi_texts_.push_back(text);
        if (auto ch = parse_setting_statement(text); ch && !ch->proxy_local && setting.empty())
            setting = text;
        else if (!ch && part.kind == SK::Set && !part.set_local)
            unknown_setting = true;  // a form the tracker does not read (SET SESSION ...)
        if ((part.kind == SK::Begin || part.kind == SK::Commit || part.kind == SK::Rollback ||
             part.kind == SK::Savepoint) &&
            control.empty())
            control = text;
        if (transaction_pooling) {
            const auto use = session_state_use(text).kind;
            if (use == SessionStateUse::Listen || use == SessionStateUse::Unlisten) {
                auto st = notify::parse_listen_statement(text);
                if (!st) {
                    multi_texts_.clear();
                    co_await error_and_ready(
                        sqlstate::kFeatureNotSupported,
                        "this form of LISTEN / UNLISTEN among other statements is not "
                        "supported in transaction pooling (pool_mode = \"transaction\"); "
                        "send it as a query of its own");
                    co_return true;
                }
                any_listen = any_listen || st->kind == notify::ListenStatement::Listen;
                listens.push_back(std::move(*st));
            }
        }
    }
    auto shorten = [](std::string_view s) {
        return std::string(s.substr(0, 60)) + (s.size() > 60 ? "..." : "");
    };
    std::string refusal;
    if (!setting.empty() && !control.empty()) {
        refusal = fmt::format(
            "a SET / RESET ({}) together with transaction control ({}) in one query is not "
            "supported: the proxy could not tell which of them took effect; send the "
            "transaction control statements as queries of their own",
            shorten(setting), shorten(control));
    } else if (!setting.empty() &&
               (r.kind == router::Route::Kind::Multi || r.kind == router::Route::Kind::All) &&
               r.shards.size() > 1) {
        refusal = fmt::format(
            "a SET / RESET ({}) in a query of several statements that runs on {} shards is not "
            "supported; send the SET as a query of its own",
            shorten(setting), r.shards.size());
    }
    if (!refusal.empty()) {
        multi_texts_.clear();
        co_await error_and_ready(sqlstate::kFeatureNotSupported, refusal);
        co_return true;
    }
    // Nothing to track, or not sent through send_to_shard (which hands them to the tracker).
    // The UNLISTENs wait for the query's (or its transaction block's) success, told by the
    // settings tracker (its observer is the inbox): the texts go to it whatever they hold.
    const bool fans_out =
        (r.kind == router::Route::Kind::Multi || r.kind == router::Route::Kind::All) &&
        r.shards.size() > 1;
    if ((inbox_ || any_listen) && !listens.empty() && (fans_out || unknown_setting)) {
        multi_texts_.clear();
        co_await error_and_ready(
            sqlstate::kFeatureNotSupported,
            "LISTEN / UNLISTEN in a query of several statements that runs on several "
            "shards or holds a SET the proxy does not track is not supported in "
            "transaction pooling; send it as a query of its own");
        co_return true;
    }
    if (any_listen && !control.empty()) {
        multi_texts_.clear();
        co_await error_and_ready(
            sqlstate::kFeatureNotSupported,
            fmt::format("LISTEN together with transaction control ({}) in one query is "
                        "not supported in transaction pooling: the proxy could not tell "
                        "whether the LISTEN took effect; send the transaction control "
                        "statements as queries of their own",
                        shorten(control)));
        co_return true;
    }
    if (any_listen) {
        // Each new channel subscribed before the query is sent (staged, as in a block).
        ensure_inbox();
        auto& channels = inbox_->channels();
        // At most a login and one round trip per shard, each bounded by connect_timeout_ms.
        const auto timeout =
            std::chrono::milliseconds(2 * std::max(proxy_.config().proxy.connect_timeout_ms, 500));
        for (const auto& st : listens) {
            if (st.kind != notify::ListenStatement::Listen ||
                !channels.needs_subscription(st.channel))
                continue;
            auto failure = co_await proxy_.notify().listen(user_->name, client_id_, inbox_.get(),
                                                           st.channel, timeout);
            if (failure) {
                // Nothing ran: what this query staged is let go (inside a block, the error
                // fails the block, whose end lets go of what it staged).
                if (!in_transaction()) inbox_->ended(false);
                multi_texts_.clear();
                co_await error_and_ready(failure->sqlstate, failure->message);
                co_return true;
            }
            channels.subscribed(st.channel);
        }
    }
    multi_observed_ = inbox_ && !listens.empty();
    if (multi_observed_) {
        for (const auto& st : listens)
            inbox_->channels().add(st, settings_tracker_.savepoint_depth());
        co_return false;
    }
    // A setting the tracker cannot read: the text goes to it whole, which marks the server for
    // a reset before its next use (nothing leaks; the client loses that setting, as before).
    if ((setting.empty() && control.empty()) || fans_out || unknown_setting) multi_texts_.clear();
    co_return false;
}

}  // namespace sg::proxy
