// `rebalance run`: plans (or resumes from the journal) and moves every source's buckets:
// publication + slot with an exported snapshot, one snapshot copy into staging, catch-up from
// the slot, switches of small groups within the pause bound, cleanup of every replication
// object. Sources are handled in groups of `parallel`: the group's copies run at once (one
// thread each), then its sources catch up and switch one after the other; so at most
// `parallel` slots retain WAL at a time.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/config.h"
#include "rebalance/journal.h"
#include "rebalance/map_publisher.h"
#include "rebalance/planner.h"
#include "rebalance/switch_participants.h"

namespace sg::rebalance {

struct RunOptions {
    PlanInput plan_input;
    std::vector<std::string> proxies;  // extra host:port besides [proxy]
    int max_pause_ms = 100;
    std::string journal_path;
    // Lease of each switch's pause on the proxies (0: max(2000, 10 x max_pause_ms)).
    int lease_ms = 0;
    // Sources copied at once (each holds a replication slot meanwhile); catch-up and switches
    // stay one source at a time, since every switch publishes the one shard map.
    int parallel = 1;
    // [cluster] etcd: `proxies` is the whole set (the registered proxies, [proxy] not added)
    // and every new map version goes to etcd by compare-and-swap before the file.
    bool proxies_exact = false;
    MapPublisher publish_map;
    // [cluster] etcd: the registered proxies, paused through etcd and read again before every
    // switch (replaces `proxies`; cli/rebalance_pauses.h); must outlive the run.
    SwitchParticipants* participants = nullptr;
};

struct RunSummary {
    uint32_t buckets = 0;
    uint64_t rows = 0;
    uint64_t rows_copied = 0, bytes_copied = 0;
    double copy_seconds = 0;
    std::vector<double> pause_ms;
    uint32_t aborted_switches = 0;
    bool resumed = false;
};

Expected<RunSummary> run_rebalance_moves(const Config& cfg, const RunOptions& opts);

// Names of this run's replication objects on a source.
std::string slot_name(const std::string& run_id, const std::string& source);
std::string publication_name(const std::string& run_id);

}  // namespace sg::rebalance
