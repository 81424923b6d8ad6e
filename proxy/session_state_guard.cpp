// Statements that create or use session-scoped server state (see session_state.h): refused in
// transaction pooling, where that state would be lost for its client and visible to the
// clients that share the server connection next; and DEALLOCATE of a statement the client
// prepared with the protocol, which lives on the servers under a name of the proxy's, so the
// proxy answers it itself.
#include <spdlog/spdlog.h>

#include "common/config.h"
#include "common/sqlstate.h"
#include "proxy/notify/listen_statement.h"
#include "proxy/proxy.h"
#include "proxy/session.h"
#include "proxy/wire/messages/command_complete.h"
#include "proxy/wire/messages/session_status.h"
#include "proxy/wire/writer.h"

namespace sg::proxy {

awaitable<bool> Session::guard_session_state(const SessionStateUse& use) {
    const bool transaction_pooling = proxy_.config().proxy.pool_mode == PoolMode::Transaction;
    auto answer = [&](std::string_view tag) -> awaitable<void> {
        co_await wait_replies_out();
        std::string out;
        wire::MessageWriter w(out);
        wire::encode(wire::CommandComplete{tag}, w);
        wire::append_ready_for_query(out, transaction_status());
        co_await send(out);
    };
    switch (use.kind) {
        case SessionStateUse::None:
        case SessionStateUse::CursorOp:
            co_return false;
        case SessionStateUse::Listen:
        case SessionStateUse::Unlisten:
            // Session pooling: the server connection stays the client's, LISTEN goes to it.
            if (!transaction_pooling) co_return false;
            // Among other statements: carried by guard_multi_statement
            // (session_multi_statement.cpp).
            if (!notify::parse_listen_statement(query_text_) &&
                analysis_of(query_text_)->kind == router::StatementKind::Multi)
                co_return false;
            co_await handle_listen(query_text_);  // session_listen.cpp
            co_return true;
        case SessionStateUse::Deallocate: {
            if (use.name.empty()) {
                if (!transaction_pooling)
                    co_return false;  // the server drops its SQL-prepared ones too
                // Every statement the client prepared is gone, as in PostgreSQL; their server
                // copies (under the proxy's names) are never used again.
                statements_.clear();
                co_await answer("DEALLOCATE ALL");
                co_return true;
            }
            if (auto it = statements_.find(use.name); it != statements_.end()) {
                statements_.erase(it);
                co_await answer("DEALLOCATE");
                co_return true;
            }
            if (!transaction_pooling) co_return false;
            // SQL PREPARE is refused in transaction pooling: no such statement exists anywhere.
            co_await error_and_ready(sqlstate::kInvalidSqlStatementName,
                                     "prepared statement \"" + use.name + "\" does not exist");
            co_return true;
        }
        default:
            break;
    }
    if (!transaction_pooling) co_return false;
    co_await error_and_ready(sqlstate::kFeatureNotSupported, transaction_pooling_refusal(use));
    co_return true;
}

}  // namespace sg::proxy
