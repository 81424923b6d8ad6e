// The rebalance journal: everything `rebalance run` needs to resume after a crash and
// `rebalance status` needs to explain it (rebalance.md, invariant 6).
//
// One JSON file, replaced atomically (temporary file, fsync, rename, fsync of the directory),
// so a reader sees the previous state or the next one, never a torn write. The journal is
// written *before* each irreversible step it enables: a resumed run may repeat a step whose
// result it did not record, so every step is idempotent (create-if-missing, drop-if-exists,
// upsert by primary key, COMMIT/ROLLBACK PREPARED by global id).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "router/result.h"

namespace sg::rebalance {

// The life of one (source -> target) move. Phases only go forward.
enum class Phase { Planned, Copied, CaughtUp, Switched, Cleaned };
const char* to_string(Phase p);
std::optional<Phase> parse_phase(std::string_view s);

// Whether a move also brings the reference tables to its target, and how far. Only the first
// move (in run order) to a target that owned no buckets when the run was planned does:
//   Planned: copy them (TRUNCATE, then COPY under the source's exported snapshot);
//   Copied:  copied; the source's stream applies their changes to the target's real tables;
//   Done:    the target owns buckets, so proxies write its reference tables themselves and
//            the stream's reference changes are ignored.
// A run resumed before Copied copies again (TRUNCATE makes that safe: nothing else writes the
// reference tables of a shard that owns no buckets).
enum class ReferenceCopy { None, Planned, Copied, Done };
const char* to_string(ReferenceCopy r);
std::optional<ReferenceCopy> parse_reference_copy(std::string_view s);

struct MoveState {
    std::string source, target;
    std::vector<uint32_t> buckets;   // every bucket of the move, ascending
    std::vector<uint32_t> switched;  // buckets the target owns already, ascending
    Phase phase = Phase::Planned;
    ReferenceCopy reference = ReferenceCopy::None;
    bool operator==(const MoveState&) const = default;
};

// Per source shard: the replication objects that feed its moves.
struct SourceState {
    std::string slot;         // logical replication slot (pgoutput), not temporary: survives us
    std::string publication;  // FOR TABLE <every sharded table>
    bool operator==(const SourceState&) const = default;
};

// A switch in progress, journaled before its pause. Its outcome is decided by the map file: a
// resumed run commits the prepared transactions `gid` when the map assigns `buckets` to
// `target`, and rolls them back otherwise (the map write is the commit point).
struct PendingSwitch {
    std::string source, target;
    std::vector<uint32_t> buckets;
    std::string gid;  // prepared transaction id, the same on both shards
    bool operator==(const PendingSwitch&) const = default;
};

struct Journal {
    std::string run_id;          // short token naming this run's slots and publications
    uint64_t start_version = 0;  // the map version the plan was made from
    // What the journal is bound to (journal_binding.h): the content hash of the map the plan
    // was made from (versions repeat when a map is created afresh; content does not), and each
    // shard's PostgreSQL system identifier (a shard rebuilt under the same name differs).
    std::string start_hash;
    std::map<std::string, std::string> system_ids;
    int bucket_bits = 0;
    std::vector<MoveState> moves;
    std::map<std::string, SourceState> sources;
    std::optional<PendingSwitch> pending;
    std::vector<double> pause_ms;  // one per completed switch
    bool finished = false;
    bool operator==(const Journal&) const = default;

    // Objects named by this run, for cleanup and leak reports.
    std::string staging_table(const std::string& table, const std::string& source) const;
    // Source shards in the order the run handles them (the order of their first move).
    std::vector<std::string> source_order() const;
};

std::string journal_path(const std::string& state_dir);

// nullopt when no journal exists; an error when it exists but cannot be read (the operator
// must look at it rather than have a run start over and leak its slots).
router::Expected<std::optional<Journal>> load_journal(const std::string& path);
router::Status save_journal(const Journal& j, const std::string& path);

std::string journal_to_json(const Journal& j);
router::Expected<Journal> journal_from_json(std::string_view text, const std::string& source);

// A fresh random run id: 8 lowercase hex digits (valid in slot names).
std::string new_run_id();

}  // namespace sg::rebalance
