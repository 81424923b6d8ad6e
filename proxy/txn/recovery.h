// Resolving prepared transactions the commit protocol (coordinator.h) left behind: a proxy
// killed between PREPARE and COMMIT PREPARED, a shard that was down when the decision was
// carried out. Runs at startup, periodically (RecoveryWorker), and by hand (`shardgate
// recover`). Blocking libpq connections: it runs on its own thread, never on the event loop.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/config.h"

namespace sg::proxy::txn {

struct RecoveryOptions {
    // This proxy's instance: its prepared transactions are resolved at any age unless
    // `in_flight` says it is still running them.
    std::string own_instance;
    std::function<bool(const std::string&)> in_flight;
    // Another instance's are resolved only once prepared this long (its owner is gone: every
    // step of a live commit is bounded well below it).
    int grace_s = 60;
    // `shardgate recover --all`: the operator says no proxy is running; resolve every one.
    bool everything = false;
    // Called with the shard index once its decision table exists.
    std::function<void(int)> table_ready;
};

struct RecoveryReport {
    int committed = 0;
    int rolled_back = 0;
    int left = 0;  // seen but not resolvable now (owner alive, coordinator unreachable, error)
    int decisions_deleted = 0;
    std::vector<std::string> problems;
};

// One pass over every shard: creates the decision table where missing, resolves what can be
// resolved, deletes decision rows no prepared transaction needs any more.
RecoveryReport recover(const Config& cfg, const RecoveryOptions& o);

// Runs recover() every interval (and at once when kicked) until destroyed.
class RecoveryWorker {
public:
    RecoveryWorker(Config cfg, RecoveryOptions o, std::function<void(const RecoveryReport&)> done);
    ~RecoveryWorker();
    void kick();
    // The shards of a reloaded config (RELOAD may append shards), from the next pass on.
    void reconfigure(const Config& cfg);

private:
    void loop();
    Config cfg_;
    RecoveryOptions opts_;
    std::function<void(const RecoveryReport&)> done_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false, kicked_ = false;
    std::thread thread_;
};

}  // namespace sg::proxy::txn
