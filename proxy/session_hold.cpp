// Statements the session answers or holds back itself: BEGIN held until the transaction's
// first statement picks its shard, SET LOCAL, session-mode statements, and the failed
// transaction's 25P02 answers.
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
#include "proxy/merge_combine.h"
#include "proxy/notify/listen_statement.h"
#include "proxy/pool.h"
#include "proxy/proxy.h"
#include "proxy/returning_order.h"
#include "proxy/session.h"
#include "proxy/session_frames.h"
#include "proxy/session_settings.h"
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
#include "proxy/wire/messages/session_status.h"
#include "proxy/wire/writer.h"
#include "router/copy_split.h"
#include "router/literals.h"

namespace sg::proxy {

namespace asio = net::asio;
using namespace session_frames;

// An extended-protocol batch holding only BEGIN and SET LOCAL (and, in transaction pooling,
// LISTEN / UNLISTEN, which the proxy answers), all unnamed and without parameters (JDBC with
// autocommit off sends its BEGIN along with the first statement, so a first `SET LOCAL` comes
// as [BEGIN, SET LOCAL, Sync]): answered here and held back with the transaction, as in the simple
// protocol, instead of settling it on the default shard. holdable_session_batch() tells such a
// batch (no side effects, no coroutine: every extended batch with a Parse asks);
// hold_session_batch() answers it.
bool Session::holdable_session_batch(std::string_view batch) {
    if (server_ || begin_.failed() || !forced_shard_.empty()) return false;
    using SK = router::StatementKind;
    std::shared_ptr<const router::Analysis> current;
    bool in_tx = begin_.held();
    const bool listens = proxy_.config().proxy.pool_mode == PoolMode::Transaction;
    for (BatchFrames f{batch}; f.next();) {
        std::string_view body = f.body;
        switch (f.type) {
            case 'P': {
                wire::Parse p;
                if (!wire::decode(bytes_of(body), p).ok()) return false;
                current = analysis_of(p.query);
                // Named: only a BEGIN (pgjdbc names the statements it ran 5 times).
                if (!p.statement.empty() && current->kind != SK::Begin) return false;
                // Also LISTEN / UNLISTEN in transaction pooling (in effect at COMMIT).
                if (current->kind != SK::Begin &&
                    !(current->kind == SK::Set && current->set_local) &&
                    !(listens && notify::parse_listen_statement(p.query)))
                    return false;
                break;
            }
            case 'B': {
                wire::Bind& b = bind_scratch_;
                if (!wire::decode(bytes_of(body), b).ok() || !b.portal.empty() || !b.params.empty())
                    return false;
                if (!b.statement.empty()) {
                    // A BEGIN the client prepared under a name (pgjdbc, after 5 uses); a name
                    // parsed in this batch is found the same way once registered, so ask the
                    // batch's own Parse first.
                    auto named = statement_analysis(b.statement);
                    if (!named && !(current && current->kind == SK::Begin)) return false;
                    if (named) current = named;
                    if (current->kind != SK::Begin) return false;
                }
                if (!current) return false;
                break;
            }
            case 'D':
                if (body.size() != 2 || (body[0] != 'P' && body[0] != 'S') || body[1] != 0)
                    return false;
                break;
            case 'E':
                if (!current || body.empty() || body[0] != 0) return false;
                // BEGIN inside a transaction and SET LOCAL outside one only warn in PostgreSQL:
                // leave those to it.
                if ((current->kind == SK::Begin) == in_tx) return false;
                in_tx = true;
                break;
            case 'C':  // pgjdbc's Close of statements it freed, sent before its next query
                if (current || body.size() < 2 || (body[0] != 'S' && body[0] != 'P')) return false;
                break;
            case 'S':
                break;
            default:
                return false;
        }
    }
    return true;
}

awaitable<void> Session::hold_session_batch(std::string_view batch) {
    using SK = router::StatementKind;
    std::shared_ptr<const router::Analysis> current;
    // Second pass: answer every message, hold the statements.
    co_await wait_replies_out();
    std::string out;
    wire::MessageWriter w(out);
    std::string_view current_sql;
    std::string named_sql;  // the text of a named BEGIN
    for (BatchFrames f{batch}; f.next();) {
        const char type = f.type;
        std::string_view frame = f.frame, body = f.body;
        if (client_.skipping() && type != 'S') continue;
        switch (type) {
            case 'P': {
                wire::Parse p;
                (void)wire::decode(bytes_of(body), p);
                register_parse(frame, p);  // the client's unnamed statement is this one now
                if (p.statement.empty()) {
                    current = unnamed_analysis_;
                    current_sql = unnamed_query_;
                }
                acknowledge(type, body, w);
                break;
            }
            case 'B': {
                wire::Bind& b = bind_scratch_;
                if (wire::decode(bytes_of(body), b).ok() && !b.statement.empty()) {
                    wire::Parse known;  // a named BEGIN (holdable_session_batch checked)
                    if (statement_parse(b.statement, known)) {
                        named_sql.assign(known.query);
                        current = statement_analysis(b.statement);
                        current_sql = named_sql;
                    }
                }
                acknowledge(type, body, w);
                break;
            }
            case 'D':
                acknowledge(type, body, w);
                break;
            case 'C':
                answer_close(body, w);
                break;  // session_listen.cpp
            case 'E': {
                if (current->kind == SK::Begin) {
                    if (!in_transaction()) begin_transaction(current_sql);
                    begin_.begin(current_sql);
                    wire::encode(wire::CommandComplete{"BEGIN"}, w);
                    break;
                }
                if (auto st = notify::parse_listen_statement(current_sql)) {
                    bool ok = co_await run_listen(*st, w);  // session_listen.cpp
                    if (!ok) client_.skip_to_sync();
                    break;
                }
                std::string error =
                    co_await check_set_local(current_sql);  // (not in an if: GCC 12)
                if (!error.empty()) {
                    out += error;
                    begin_.fail();
                    client_.skip_to_sync();
                    break;
                }
                hold_with_begin(current_sql);
                wire::encode(wire::CommandComplete{"SET"}, w);
                break;
            }
            case 'S':
                client_.stop_skipping();
                wire::append_ready_for_query(out, transaction_status());
                break;
        }
    }
    co_await send(out);
}

// The held-back transaction failed before reaching a shard: as in PostgreSQL, only its end
// (COMMIT or ROLLBACK, which roll it back) is accepted; anything else gets 25P02 and the rest of
// the batch is skipped until Sync.
awaitable<void> Session::answer_failed_transaction(std::string_view batch, bool sync) {
    co_await wait_replies_out();
    using SK = router::StatementKind;
    std::string out;
    wire::MessageWriter w(out);
    std::shared_ptr<const router::Analysis> current = unnamed_analysis_;
    auto ends = [&](const std::shared_ptr<const router::Analysis>& a) {
        return a && (a->kind == SK::Commit || a->kind == SK::Rollback);
    };
    auto reject = [&] {
        wire::ErrorBuilder(
            wire::Severity::Error, sqlstate::kInFailedSqlTransaction,
            "current transaction is aborted, commands ignored until end of transaction block")
            .encode_error(w);
        ++proxy_.counters().errors;
        client_.skip_to_sync();
    };
    for (BatchFrames f{batch}; f.next();) {
        const char type = f.type;
        std::string_view frame = f.frame, body = f.body;
        if (client_.skipping() && type != 'S') continue;
        switch (type) {
            case 'P': {
                wire::Parse p;
                if (!wire::decode(bytes_of(body), p).ok() || !ends(analysis_of(p.query))) {
                    reject();
                    break;
                }
                register_parse(frame, p);
                current = p.statement.empty() ? unnamed_analysis_ : statement_analysis(p.statement);
                acknowledge(type, body, w);
                break;
            }
            case 'B': {
                wire::Bind& b = bind_scratch_;
                if (!wire::decode(bytes_of(body), b).ok()) {
                    reject();
                    break;
                }
                current = b.statement.empty() ? unnamed_analysis_ : statement_analysis(b.statement);
                if (!ends(current)) {
                    reject();
                    break;
                }
                acknowledge(type, body, w);
                break;
            }
            case 'D':
                acknowledge(type, body, w);
                break;
            case 'E':
                if (!ends(current)) {
                    reject();
                    break;
                }
                begin_.clear();
                listen_transaction_ended(false);
                wire::encode(wire::CommandComplete{"ROLLBACK"}, w);
                break;
            case 'S':
                client_.stop_skipping();
                wire::append_ready_for_query(out, transaction_status());
                break;
            default:  // Close, Flush: nothing to say
                break;
        }
    }
    if (!sync && out.empty()) co_return;
    co_await send(out);
}

// PostgreSQL's ErrorResponse for `sql` (a SET LOCAL) run on the default shard outside any
// transaction, where it only validates the setting; empty when it is valid.
awaitable<std::string> Session::check_set_local(std::string_view sql) {
    std::vector<ShardQuery> check{
        {static_cast<uint16_t>(proxy_.config().default_shard_index()), std::string(sql)}};
    std::string reply = co_await run_fanout(proxy_, *user_, check, settings_);
    for (size_t pos = 0; pos < reply.size();) {
        auto st = wire::parse_frame(wire::as_bytes(std::string_view(reply).substr(pos)));
        auto* f = std::get_if<wire::Frame>(&st);
        if (!f) break;
        if (f->type == 'E') {
            ++proxy_.counters().errors;
            co_return reply.substr(pos, f->size);
        }
        pos += f->size;
    }
    co_return std::string();
}

void Session::hold_with_begin(std::string_view sql) {
    begin_.append(sql);
}

// SET LOCAL while the BEGIN is held back (`BEGIN; SET LOCAL app.tenant = '7'; SELECT ... WHERE
// key = ...`): sending it would settle the transaction on the default shard. It is checked there
// instead, outside any transaction (PostgreSQL validates the setting, warns and changes
// nothing), and held with the BEGIN for the shard the transaction's first statement needs.
awaitable<void> Session::hold_set_local(std::string_view sql) {
    co_await wait_replies_out();
    std::string out = co_await check_set_local(sql);  // the client sees PostgreSQL's error
    if (!out.empty()) {
        begin_.fail();  // as PostgreSQL: the transaction is aborted
    } else {
        hold_with_begin(sql);
        wire::MessageWriter w(out);
        wire::encode(wire::CommandComplete{"SET"}, w);
    }
    wire::append_ready_for_query(out, transaction_status());
    co_await send(out);
}

awaitable<void> Session::handle_session_statement(const router::Analysis& a, std::string_view frame,
                                                  std::string_view sql) {
    using SK = router::StatementKind;
    const int default_shard = proxy_.config().default_shard_index();
    if (a.kind == SK::Begin && !in_transaction()) begin_transaction(sql);
    if (server_) {
        co_await send_to_shard(server_->target().shard, frame, sql);
        co_return;
    }
    auto local_reply = [&](std::string_view tag, char status) -> awaitable<void> {
        co_await wait_replies_out();
        std::string out;
        wire::MessageWriter w(out);
        wire::encode(wire::CommandComplete{tag}, w);
        wire::append_ready_for_query(out, status);
        co_await send(out);
    };
    switch (a.kind) {
        case SK::Begin:
            // Held back: the transaction's first statement decides which shard runs it.
            begin_.begin(sql);
            co_await local_reply("BEGIN", 'T');
            co_return;
        case SK::Set:
            if (a.set_local && begin_.held() && forced_shard_.empty()) {
                co_await hold_set_local(sql);
                co_return;
            }
            break;
        case SK::Commit:
        case SK::Rollback:
            if (begin_.held() && !a.is_write) {
                // Nothing ran: there is nothing to commit anywhere (LISTEN / UNLISTEN of the
                // transaction take effect now).
                begin_.clear();
                listen_transaction_ended(a.kind == SK::Commit);
                co_await local_reply(a.kind == SK::Commit ? "COMMIT" : "ROLLBACK", 'I');
                co_return;
            }
            break;
        default:
            break;
    }
    int shard = default_shard;
    if (!forced_shard_.empty()) shard = std::max(0, proxy_.config().shard_index(forced_shard_));
    co_await send_to_shard(shard, frame, sql);
}

}  // namespace sg::proxy
