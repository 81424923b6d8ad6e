// The catch-up phase: the source's logical replication slot streamed with pgoutput; changes
// to rows of moving buckets are applied to the staging tables, changes to reference tables to
// the targets that take them from this source (rebalance/reference.h), everything else is
// ignored.
// A fence (a transactional logical message emitted on the source) tells when every change
// committed before it has been applied.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "rebalance/context.h"
#include "rebalance/pgoutput.h"
#include "rebalance/reference.h"
#include "rebalance/staging.h"

namespace sg::rebalance {

inline constexpr const char* kFencePrefix = "shardgate";

// Writes the fence `token` into the source's WAL and flushes it: the walsender only sends
// flushed WAL, and with synchronous_commit = off the commit alone may wait for the WAL writer.
Expected<Result> emit_fence(PGconn* source, const std::string& label, const std::string& token);

class ChangeStream {
public:
    using Clock = std::chrono::steady_clock;

    ChangeStream(SourceContext& ctx, Conn replication)
        : ctx_(ctx), writer_(ctx), references_(ctx), repl_(std::move(replication)) {}

    // START_REPLICATION from the slot's confirmed position (a restart replays from the last
    // transaction we confirmed; replaying upserts and deletes by key is idempotent).
    Status start(const std::string& slot, const std::string& publication);

    // Applies changes until `until`, or until the fence `fence` (when not empty) is seen.
    // Returns whether the fence was seen.
    Expected<bool> pump(Clock::time_point until, const std::string& fence = {});

    // Applies what is already available without waiting; returns when the socket is dry.
    Status drain() {
        auto r = pump(Clock::now());
        return r ? Status{Ok{}} : Status{r.error()};
    }

    uint64_t changes_applied() const { return applied_; }
    uint64_t confirmed_lsn() const { return flushed_; }

private:
    Expected<bool> pump_changes(Clock::time_point until, const std::string& fence);
    // Commits what was applied; only then may the slot forget it.
    Status flush();
    Status handle(const PgOutputMsg& m, const std::string& fence, bool& seen);
    Status apply(const ChangeMsg& c);
    Status apply_reference(size_t table, const std::vector<int>& columns, const ChangeMsg& c);
    Status send_status(bool force);
    // The change's tuple in TableInfo column order.
    Tuple reorder(const std::vector<int>& map, size_t ncols, const Tuple& in) const;

    struct Binding {
        int table = -1;           // index into ctx_.tables; -1: not a sharded table of ours
        int reference = -1;       // index into ctx_.reference; -1: not a reference table
        std::vector<int> column;  // relation column -> TableInfo column (-1: ignored)
    };

    SourceContext& ctx_;
    StagingWriter writer_;
    ReferenceWriter references_;
    Conn repl_;
    std::map<uint32_t, Binding> relations_;
    uint64_t flushed_ = 0;
    uint64_t committed_lsn_ = 0;  // end of the last source transaction applied (maybe uncommitted)
    uint32_t batched_ = 0;        // source transactions applied since the last flush
    uint64_t applied_ = 0;
    Clock::time_point last_status_{};
    Status last_error_ = Ok{};
};

}  // namespace sg::rebalance
