// The copy phase: one scan of each sharded table on the source under the slot's exported
// snapshot; rows of moving buckets stream into their target's staging table. Under the same
// snapshot, the reference tables are copied to the targets this source brings them to
// (rebalance/reference.h). Together with
// the slot's stream (which starts exactly at that snapshot) staging sees every committed
// change once: no gap, no duplicate (rebalance.md, invariant 2).
#pragma once

#include <cstdint>
#include <functional>

#include "rebalance/context.h"

namespace sg::rebalance {

struct CopyStats {
    uint64_t rows_scanned = 0, bytes_scanned = 0;
    uint64_t rows_moved = 0, bytes_moved = 0;
    double seconds = 0;
};

// `source` must be idle; the scan runs in its own REPEATABLE READ transaction bound to
// `snapshot` (empty: the transaction's own snapshot, for benchmarks). `progress` is called
// now and then with the running totals.
Expected<CopyStats> copy_moving_rows(SourceContext& ctx, PGconn* source,
                                     const std::string& snapshot,
                                     const std::function<void(const CopyStats&)>& progress);

// Extracts field `index` of a text-format COPY row (no line terminator) and decodes its
// escapes; nullopt for \N. Exposed for tests.
std::optional<std::string> copy_text_field(std::string_view row, int index);

}  // namespace sg::rebalance
