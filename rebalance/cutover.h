// The switch of a small group of buckets from a source to a target (rebalance.md, invariants
// 2-5):
//   1. PAUSE BUCKETS on every proxy (only statements touching the group wait);
//   2. a fence through the source's stream proves staging has every committed change;
//   3. one prepared transaction on the target moves the group's rows from staging into the
//      real table, one on the source deletes them; the decision is journaled, both commit;
//   4. the new map version is written, every proxy reloads it, then every proxy resumes.
// The pause has a lease (env.lease_ms): it is renewed just before the decision, and a proxy
// whose pause lapsed refuses the renewal, so the switch aborts instead of deciding against a
// proxy that served the old owner meanwhile. SIGINT/SIGTERM abort an undecided switch
// (rebalance/interrupt.h).
// Fan-out reads never see the rows twice or miss them: they are paused while both commits
// happen, and before that the copies only exist in staging, which no application query names.
// When the bound would be exceeded before the decision, everything is rolled back and the old
// owner keeps serving; the caller retries with a smaller group.
#pragma once

#include <string>
#include <vector>

#include "rebalance/context.h"
#include "rebalance/journal.h"
#include "rebalance/map_publisher.h"
#include "rebalance/stream.h"
#include "rebalance/switch_participants.h"
#include "router/shard_map.h"

namespace sg::rebalance {

struct SwitchResult {
    bool switched = false;
    double pause_ms = 0;
    uint64_t rows = 0;
    std::string reason;  // why it aborted
};

struct CutoverEnv {
    const Config& cfg;
    Journal& journal;
    std::string journal_path;
    SwitchParticipants& proxies;
    int max_pause_ms = 100;
    // The lease of each switch's pause on the proxies: a rebalancer that dies mid-switch
    // releases the buckets within it (the old owner serves). Renewed before the decision.
    int lease_ms = 2000;
    // The cluster's authoritative map store besides the file (etcd; rebalance/mover.h
    // RunOptions::publish_map): empty for the file-based default.
    MapPublisher publish_map;
};

// Switches `buckets` of move `move_index` (journal.moves). An error means the run must stop
// (a gap was detected or a server failed); an aborted switch is a result, not an error.
Expected<SwitchResult> switch_group(CutoverEnv& env, SourceContext& ctx, ChangeStream& stream,
                                    PGconn* source, size_t target, size_t move_index,
                                    const std::vector<uint32_t>& buckets);

// Settles what a crashed run left: prepared transactions of this run are committed when the
// journal recorded the decision and rolled back otherwise, the map is brought to the decided
// version, and every proxy reloads it and resumes.
Status resolve_pending(CutoverEnv& env);

// The map file's map with `buckets` assigned to shard `target`, version + 1 (unchanged when it
// assigns them already); nothing is written.
Expected<router::ShardMap> assigned_map(const Config& cfg, const std::vector<uint32_t>& buckets,
                                        const std::string& target);

// The map with `buckets` assigned to shard `target` (by name), version + 1, published through
// `publish` first when given (etcd: that publication is the decision) and saved atomically;
// a map that already assigns them is left alone. Returns the version in force.
Expected<uint64_t> publish_assignment(const Config& cfg, const std::vector<uint32_t>& buckets,
                                      const std::string& target, const MapPublisher& publish = {});

}  // namespace sg::rebalance
