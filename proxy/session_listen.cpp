// LISTEN / UNLISTEN in transaction pooling, and the delivery of notifications to the client
// (see proxy/notify/service.h for the listening side).
//
// The proxy answers LISTEN itself, once every shard's listening connection confirmed its
// LISTEN: a NOTIFY issued after the client saw "LISTEN" reaches it, wherever it runs.
// Notifications are written to the client only between transactions, as PostgreSQL sends
// them: when the session waits for its client's next message outside a transaction, with no
// reply owed (at once, or right after the ReadyForQuery 'I' that ends the current request).
//
// LISTEN / UNLISTEN inside a transaction block is answered at once and takes effect at COMMIT,
// as in PostgreSQL (proxy/notify/listen_txn.h; the transaction's end comes from the settings
// tracker, or from the proxy's own end of a held-back or multi-shard transaction).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/sqlstate.h"
#include "proxy/notify/inbox.h"
#include "proxy/notify/listen_statement.h"
#include "proxy/proxy.h"
#include "proxy/session.h"
#include "proxy/session_frames.h"
#include "proxy/spawn.h"
#include "proxy/wire/messages/command_complete.h"
#include "proxy/wire/messages/error_response.h"
#include "proxy/wire/messages/extended_replies.h"
#include "proxy/wire/messages/session_status.h"
#include "proxy/wire/writer.h"

namespace sg::proxy {

namespace asio = net::asio;
using namespace session_frames;

namespace {
constexpr std::string_view kMode = "in transaction pooling (pool_mode = \"transaction\")";
}

awaitable<void> Session::handle_listen(std::string_view sql) {
    auto st = notify::parse_listen_statement(sql);
    if (!st) {
        co_await error_and_ready(
            sqlstate::kFeatureNotSupported,
            fmt::format("LISTEN / UNLISTEN together with other statements in one query "
                        "is not supported {}; send it as a query of its own",
                        kMode));
        co_return;
    }
    co_await wait_replies_out();
    std::string out;
    wire::MessageWriter w(out);
    co_await run_listen(*st, w);
    wire::encode(wire::ReadyForQuery{static_cast<wire::TransactionStatus>(transaction_status())},
                 w);
    co_await send(out);
}

void Session::ensure_inbox() {
    if (inbox_) return;
    std::weak_ptr<Session> weak = weak_from_this();
    inbox_ =
        std::make_unique<notify::Inbox>(proxy_.notify(), user_->name, client_id_, peer_, [weak] {
            if (auto self = weak.lock()) self->wake_notifications();
        });
    settings_tracker_.set_observer(inbox_.get());  // its transaction's end applies what waits
}

void Session::drop_inbox() {
    settings_tracker_.set_observer(nullptr);
    inbox_.reset();  // unlistens everything, as a disconnect does
}

void Session::listen_transaction_ended(bool committed) {
    if (inbox_) inbox_->ended(committed);
}

awaitable<bool> Session::run_listen(const notify::ListenStatement& st, wire::MessageWriter& w,
                                    bool implicit_block, bool notice) {
    auto refuse = [&](std::string_view sqlstate, const std::string& message) -> awaitable<void> {
        // As error_and_ready does: a refusal fails an open transaction, as any error does.
        co_await abort_transaction_for_refusal(sqlstate, message);
        if (sqlstate == sqlstate::kFeatureNotSupported) stats_refused({}, message);
        ++proxy_.counters().errors;
        wire::ErrorBuilder(wire::Severity::Error, sqlstate, message).encode_error(w);
    };
    auto& service = proxy_.notify();
    const std::string key = user_->name;
    if (notice && !st.truncated.empty())
        wire::ErrorBuilder(wire::Severity::Notice, sqlstate::kNameTooLong,
                           notify::truncation_notice(st))
            .encode_notice(w);
    const bool listen = st.kind == notify::ListenStatement::Listen;
    // At most a login and one round trip per shard, each bounded by connect_timeout_ms.
    const auto timeout =
        std::chrono::milliseconds(2 * std::max(proxy_.config().proxy.connect_timeout_ms, 500));
    if (in_transaction() || implicit_block) {
        // Answered now, in effect at COMMIT (of an implicit block: its caller ends it). A new
        // channel is subscribed at once (its notifications are dropped unless the transaction
        // commits): the COMMIT itself then needs no I/O of the proxy's, and a NOTIFY of this same
        // transaction reaches it.
        if (listen) {
            ensure_inbox();
            auto& channels = inbox_->channels();
            if (channels.needs_subscription(st.channel)) {
                auto failure =
                    co_await service.listen(key, client_id_, inbox_.get(), st.channel, timeout);
                if (failure) {
                    co_await refuse(failure->sqlstate, failure->message);
                    co_return false;
                }
                channels.subscribed(st.channel);
            }
        }
        if (inbox_) inbox_->channels().add(st, settings_tracker_.savepoint_depth());
        wire::encode(wire::CommandComplete{listen ? "LISTEN" : "UNLISTEN"}, w);
        co_return true;
    }
    switch (st.kind) {
        case notify::ListenStatement::Listen: {
            ensure_inbox();
            inbox_->channels().listened(st.channel);
            auto failure =
                co_await service.listen(key, client_id_, inbox_.get(), st.channel, timeout);
            if (failure) {
                if (inbox_) inbox_->channels().unlistened(st.channel);  // the service undid it
                co_await refuse(failure->sqlstate, failure->message);
                co_return false;
            }
            wire::encode(wire::CommandComplete{"LISTEN"}, w);
            break;
        }
        case notify::ListenStatement::Unlisten:
            if (inbox_) {
                service.unlisten(key, client_id_, st.channel);
                inbox_->channels().unlistened(st.channel);
            }
            wire::encode(wire::CommandComplete{"UNLISTEN"}, w);
            break;
        case notify::ListenStatement::UnlistenAll:
            if (inbox_) {
                service.unlisten_all(key, client_id_);
                inbox_->channels().unlistened_all();
            }
            wire::encode(wire::CommandComplete{"UNLISTEN"}, w);
            break;
    }
    co_return true;
}

void Session::answer_close(std::string_view body, wire::MessageWriter& w) {
    // A statement the client prepared is gone, as DEALLOCATE answers it (its server copies,
    // under the proxy's names, are never used again); an unnamed or named portal outside a
    // transaction is gone already (the callers see only Close before the batch's BEGIN).
    if (body.size() >= 2 && body[0] == 'S')
        statements_.erase(std::string(body.substr(1, body.size() - 2)));
    wire::encode(wire::CloseComplete{}, w);
}

awaitable<bool> Session::refuse_prepare_after_listen(std::string_view sql) {
    if (!inbox_->channels().has_actions()) co_return false;
    if (!notify::is_prepare_transaction(sql)) co_return false;
    // PostgreSQL's own refusal (a prepared transaction cannot keep a LISTEN for later).
    co_await error_and_ready(sqlstate::kFeatureNotSupported,
                             "cannot PREPARE a transaction that has executed LISTEN, UNLISTEN, or "
                             "NOTIFY");
    co_return true;
}

void Session::listen_discard_all(std::string_view sql) {
    // DISCARD ALL cannot run inside a transaction block (PostgreSQL refuses it there).
    if (!inbox_ || in_transaction() || !notify::is_discard_all(sql)) return;
    proxy_.notify().unlisten_all(inbox_->key(), client_id_);
    inbox_->channels().unlistened_all();
}

std::string Session::listen_batch_refusal(std::string_view query) const {
    if (proxy_.config().proxy.pool_mode != PoolMode::Transaction) return {};
    const auto use = session_state_use(query).kind;
    if (use != SessionStateUse::Listen && use != SessionStateUse::Unlisten) return {};
    return fmt::format(
        "LISTEN / UNLISTEN pipelined with other statements before one Sync (an extended-protocol "
        "batch) is not supported {}; send it in a batch of its own (Parse, Bind, Describe, "
        "Execute, Close, then Sync or Flush) or with the simple query protocol",
        kMode);
}

bool Session::notifications_deliverable() const {
    return parked_ && !closing_ && transaction_status() == 'I' &&
           (!server_ || server_->outstanding() == 0) && client_.idle();
}

void Session::wake_notifications() {
    if (!inbox_ || inbox_->empty() || flushing_notifications_ || !notifications_deliverable())
        return;
    flushing_notifications_ = true;
    asio::co_spawn(
        proxy_.io(),
        [self = shared_from_this()]() -> awaitable<void> {
            co_await self->flush_notifications();
            self->flushing_notifications_ = false;
        },
        LogUnhandled("session: notifications"));
}

awaitable<void> Session::flush_notifications() {
    while (inbox_ && !inbox_->empty()) {
        // Never between the frames of a reply: wait for any write in progress, then judge
        // again (the client may have sent a request meanwhile).
        while (writing_) co_await write_done_.wait();
        if (!notifications_deliverable()) co_return;
        std::string out = inbox_->take_all();
        if (!co_await send(out)) co_return;
    }
}

}  // namespace sg::proxy
