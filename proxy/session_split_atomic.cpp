// Session::run_split_batch_atomic: an extended-protocol batch whose Binds go to several shards,
// outside a transaction, made all-or-nothing (issue 18). PostgreSQL runs such a batch as one
// implicit transaction ending at its Sync; across shards the proxy gives the same guarantee by
// running each shard's part in a transaction and committing them as one (fanout.h,
// run_pieces_atomic).
#include "proxy/fanout.h"
#include "proxy/proxy.h"
#include "proxy/session.h"
#include "proxy/wire/messages/extended_query.h"
#include "proxy/wire/writer.h"

namespace sg::proxy {

namespace {

size_t length_at(std::string_view frames, size_t pos) {
    const auto* p = reinterpret_cast<const unsigned char*>(frames.data() + pos + 1);
    return (size_t(p[0]) << 24) | (size_t(p[1]) << 16) | (size_t(p[2]) << 8) | size_t(p[3]);
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
                          a->kind == SK::Rollback || a->kind == SK::Savepoint))
                    co_return false;  // the batch manages its own transaction
                if (!a || a->is_write || a->kind != SK::Select) spec.writes = true;
            }
        }
        specs.push_back(spec);
    }
    co_await wait_replies_out();
    release_server();
    if (state_ == SessionState::Ready) transition(SessionState::Busy);
    std::string reply =
        co_await run_pieces_atomic(proxy_, *user_, specs, settings_, [&](size_t i, ServerConn& s) {
            std::string out;
            translate_frames(out, s, pieces[i].second);
            return out;
        });
    size_t shards = 0;
    {
        std::vector<uint16_t> seen;
        for (const auto& sp : specs)
            if (std::find(seen.begin(), seen.end(), sp.shard) == seen.end())
                seen.push_back(sp.shard);
        shards = seen.size();
    }
    stats_merged(batch_text_, batch_param_hash_, static_cast<uint32_t>(shards), reply);
    forget_touched_buckets();
    if (state_ == SessionState::Busy) transition(SessionState::Ready);
    co_await send(reply);
    co_return true;
}

}  // namespace sg::proxy
