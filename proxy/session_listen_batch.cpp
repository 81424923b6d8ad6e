// LISTEN / UNLISTEN sent with the extended protocol in transaction pooling: the batch is
// answered by the proxy message by message (the plan: proxy/notify/listen_batch.h), the
// channels registered with the notify service as the simple-protocol path does
// (session_listen.cpp).
//
// Outside a transaction block the messages up to Sync are one implicit transaction in
// PostgreSQL: its LISTENs take effect only if all of them succeeded. They are run staged, as
// inside a transaction block (subscribed at once, in effect at the end), and the implicit
// transaction ends at the batch's Sync: committed unless one of them failed.
#include "common/sqlstate.h"
#include "proxy/notify/inbox.h"
#include "proxy/notify/listen_batch.h"
#include "proxy/proxy.h"
#include "proxy/session.h"
#include "proxy/session_frames.h"
#include "proxy/wire/messages/error_response.h"
#include "proxy/wire/messages/extended_query.h"
#include "proxy/wire/messages/extended_replies.h"
#include "proxy/wire/messages/session_status.h"
#include "proxy/wire/writer.h"

namespace sg::proxy {

using namespace session_frames;

awaitable<bool> Session::answer_listen_batch(std::string_view batch) {
    // A failed transaction answers 25P02 (or its end) as usual: not here.
    if (begin_.failed() || held_failed() || (server_ && server_->tx_status() == 'E'))
        co_return false;
    // A server still owes the replies of messages sent before a Flush: the batch goes there,
    // after them (and is refused on the shard path when it LISTENs).
    if (server_ && !server_->synced()) co_return false;
    const bool in_block = in_transaction();
    auto plan = notify::plan_listen_batch(
        batch,
        [&](std::string_view name) -> std::optional<std::string_view> {
            if (name.empty() && unnamed_parse_.empty()) return std::nullopt;
            if (!name.empty() && !statements_.count(std::string(name))) return std::nullopt;
            return statement_text(name);
        },
        in_block, server_ != nullptr);
    if (!plan) co_return false;
    co_await wait_replies_out();
    std::string out;
    wire::MessageWriter w(out);
    bool failed = false;
    using Step = notify::ListenBatchStep;
    for (const Step& step : plan->steps) {
        if (failed && step.kind != Step::Sync && step.kind != Step::Flush) continue;
        switch (step.kind) {
            case Step::Parse: {
                wire::Parse p;
                (void)wire::decode(bytes_of(step.body), p);  // (the plan decoded it)
                register_parse(step.frame, p);
                // The scanner truncates the name at Parse: PostgreSQL's NOTICE comes here.
                if (!step.st.truncated.empty())
                    wire::ErrorBuilder(wire::Severity::Notice, sqlstate::kNameTooLong,
                                       notify::truncation_notice(step.st))
                        .encode_notice(w);
                wire::encode(wire::ParseComplete{}, w);
                break;
            }
            case Step::Bind:
                wire::encode(wire::BindComplete{}, w);
                break;
            case Step::DescribeStatement:
                acknowledge('D', "S", w);
                break;
            case Step::DescribePortal:
                acknowledge('D', "P", w);
                break;
            case Step::Close:
                answer_close(step.body, w);
                break;  // session_listen.cpp
            case Step::Execute: {
                bool ok = co_await run_listen(step.st, w, /*implicit_block=*/!in_block,
                                              /*notice=*/false);
                failed = !ok;
                break;
            }
            case Step::Sync:
                // The implicit transaction ends: its LISTENs take effect, or none does.
                if (!in_block && inbox_) inbox_->ended(!failed);
                wire::encode(
                    wire::ReadyForQuery{static_cast<wire::TransactionStatus>(transaction_status())},
                    w);
                break;
            case Step::Flush:
                if (failed) client_.skip_to_sync();  // the rest up to Sync is discarded
                break;
        }
    }
    if (plan->parses_listen) listen_prepared_ = true;
    proxy_.counters().queries += plan->executes;
    co_await send(out);
    co_return true;
}

}  // namespace sg::proxy
