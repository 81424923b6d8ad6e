// Session::run_split_batch_atomic: an extended-protocol batch whose Binds go to several shards
// before one Sync, made all-or-nothing (issue 18). Outside a transaction PostgreSQL runs such a
// batch as one implicit transaction ending at its Sync; across shards the proxy gives the same
// guarantee by running each shard's part in a transaction and committing them as one (fanout.h,
// run_pieces_atomic). Inside a transaction (JDBC executeBatch with autocommit off, a pipeline
// after BEGIN) the pieces run on the transaction's participants (fanout_held.h,
// run_pieces_held) and commit or roll back with it; a failed piece fails the transaction, as
// the failed statement does in PostgreSQL.
#include <fmt/format.h>

#include <algorithm>

#include "common/sqlstate.h"
#include "proxy/fanout.h"
#include "proxy/fanout_held.h"
#include "proxy/proxy.h"
#include "proxy/session.h"
#include "proxy/wire/frame_cursor.h"
#include "proxy/wire/messages/extended_query.h"
#include "proxy/wire/writer.h"

namespace sg::proxy {

namespace {

size_t length_at(std::string_view frames, size_t pos) {
    return wire::load_be32(frames.data() + pos + 1);
}

}  // namespace

awaitable<bool> Session::run_split_batch_atomic(
    const std::vector<std::pair<int, std::string>>& pieces) {
    // Which pieces only read: a shard that only read commits without PREPARE. A statement the
    // proxy cannot see (no Parse it knows) counts as a write.
    std::vector<BatchPiece> specs;
    std::map<std::string, std::shared_ptr<const router::Analysis>, std::less<>> parsed_here;
    for (const auto& [shard, frames] : pieces) {
        BatchPiece spec;
        spec.shard = static_cast<uint16_t>(shard);
        spec.writes = false;
        for (size_t pos = 0; pos + 5 <= frames.size();) {
            size_t len = length_at(frames, pos);
            std::string_view frame(frames.data() + pos, len + 1);
            pos += len + 1;
            auto body = wire::as_bytes(frame.substr(5));
            if (frame[0] == 'P') {
                wire::Parse p;
                if (wire::decode(body, p).ok())
                    parsed_here[std::string(p.statement)] = analysis_of(p.query);
            } else if (frame[0] == 'B') {
                wire::Bind b;
                std::shared_ptr<const router::Analysis> a;
                if (wire::decode(body, b).ok()) {
                    auto it = parsed_here.find(b.statement);
                    a = it != parsed_here.end() ? it->second : statement_analysis(b.statement);
                }
                using SK = router::StatementKind;
                if (a && (a->kind == SK::Begin || a->kind == SK::Commit ||
                          a->kind == SK::Rollback || a->kind == SK::Savepoint)) {
                    if (!in_transaction())
                        co_return false;  // the batch manages its own transaction
                    co_await error_and_ready(sqlstate::kFeatureNotSupported,
                                             "transaction control (BEGIN, COMMIT, ROLLBACK, "
                                             "SAVEPOINT) in a batch whose statements "
                                             "go to several shards inside a transaction is not "
                                             "supported; send it after a Sync");
                    co_return true;
                }
                if (!a || a->is_write || a->kind != SK::Select) spec.writes = true;
            }
        }
        specs.push_back(spec);
    }
    auto build = [&](size_t i, ServerConn& s) {
        std::string out;
        translate_frames(out, s, pieces[i].second);
        return out;
    };
    std::vector<uint16_t> shards;
    for (const auto& sp : specs) shards.push_back(sp.shard);
    std::sort(shards.begin(), shards.end());
    shards.erase(std::unique(shards.begin(), shards.end()), shards.end());
    if (in_transaction()) {
        const bool writes =
            std::any_of(specs.begin(), specs.end(), [](const BatchPiece& p) { return p.writes; });
        ClientWatch client_watch(*this);  // a client that leaves cancels every leg
        auto res = co_await run_on_participants(
            shards, writes, batch_text_,
            [&](const std::vector<HeldLeg>& legs) -> awaitable<HeldFanoutResult> {
                auto awaited =
                    co_await run_pieces_held(proxy_, *user_, legs, settings_, specs, build);
                co_return awaited;
            });
        if (!res) co_return true;  // refused, answered
        stats_merged(batch_text_, batch_param_hash_, static_cast<uint32_t>(shards.size()),
                     res->reply);
        co_await send(res->reply);
        co_return true;
    }
    co_await wait_replies_out();
    release_server();
    if (state_ == SessionState::Ready) transition(SessionState::Busy);
    std::string reply = co_await run_pieces_atomic(proxy_, *user_, specs, settings_, build);
    stats_merged(batch_text_, batch_param_hash_, static_cast<uint32_t>(shards.size()), reply);
    forget_touched_buckets();
    if (state_ == SessionState::Busy) transition(SessionState::Ready);
    co_await send(reply);
    co_return true;
}

}  // namespace sg::proxy
