#include "proxy/fanout_pieces.h"

#include <fmt/format.h>

#include "common/sqlstate.h"
#include "proxy/server_conn.h"
#include "proxy/shard_request.h"
#include "proxy/wire/frame_cursor.h"
#include "proxy/wire/protocol.h"
#include "proxy/wire/writer.h"

namespace sg::proxy::fanout_detail {

net::awaitable<PiecesOutcome> pipeline_pieces(
    ShardSet& set, const std::vector<BatchPiece>& pieces,
    const std::function<std::string(size_t, ServerConn&)>& build,
    const std::function<void(ServerConn&, std::string&)>& prelude) {
    // One round trip per shard instead of one per piece (a 20,000-Bind batch over 4 shards had
    // ~15,000). Pieces of one shard still run in batch order there; pieces on different shards
    // touch different rows. PostgreSQL stops a batch at its first error: the client gets the
    // replies up to the first failed piece in batch order and nothing after it; whatever other
    // shards ran beyond it is undone by the caller (a rollback, or the failed transaction's).
    PiecesOutcome o;
    o.wrote.assign(set.size(), false);
    std::vector<size_t> count(set.size(), 0), ordinal(pieces.size(), 0);
    std::vector<std::string> out(set.size());
    for (size_t i = 0; i < pieces.size(); ++i) {
        const size_t k = set.index_of_shard(pieces[i].shard);
        ServerConn& s = set.server(k);
        if (count[k] == 0) {
            set.sink().reset_one(k);
            if (prelude) prelude(s, out[k]);
        }
        ordinal[i] = count[k]++;
        o.wrote[k] = o.wrote[k] || pieces[i].writes;
        out[k] += build(i, s);
        // Our Sync ends the piece (inside the shard's transaction: it commits nothing).
        ShardRequest(out[k], s).sync();
        s.set_synced(true);
    }
    for (size_t k = 0; k < set.size(); ++k)
        if (count[k] > 0 && set.server(k).usable()) co_await set.write(k, out[k]);
    auto answered = [&](size_t k) {
        const ShardReply& r = set.sink().replies()[k];
        return r.lost || !set.server(k).usable() || r.ready_at.size() >= count[k];
    };
    for (size_t k = 0; k < set.size(); ++k)
        while (!answered(k)) co_await set.sink().done().wait();
    for (size_t i = 0; i < pieces.size() && !o.failed; ++i) {
        const size_t k = set.index_of_shard(pieces[i].shard);
        const ShardReply& r = set.sink().replies()[k];
        const size_t j = ordinal[i];
        if (j >= r.ready_at.size()) {
            // The shard's connection broke before this piece's reply ended: what came of it
            // is relayed, then the loss.
            o.reply += r.raw.substr(j == 0 ? 0 : std::min(r.ready_at[j - 1], r.raw.size()));
            std::string e = error_reply(
                sqlstate::kConnectionFailure,
                fmt::format("shard \"{}\": {}", r.shard_name,
                            r.error_message.empty() ? "connection lost" : r.error_message));
            o.reply += e.substr(0, e.size() - 6);  // without its ReadyForQuery
            o.failed = true;
            break;
        }
        const size_t from = j == 0 ? 0 : r.ready_at[j - 1];
        const std::string_view piece(r.raw.data() + from, r.ready_at[j] - from);
        o.reply.append(piece);
        // As PostgreSQL skips the rest of a batch after an error, so do we.
        wire::FrameCursor cursor(piece);
        while (auto f = cursor.next())
            if (f->type == wire::be::kErrorResponse) o.failed = true;
    }
    co_return o;
}

}  // namespace sg::proxy::fanout_detail
