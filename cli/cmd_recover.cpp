// `shardgate recover -c FILE [--all]`: resolves the prepared transactions shardgate's two-phase
// commits left on the shards (proxy/txn/recovery.h), printing what it did.
//
// It runs beside live proxies, so it takes no transaction for its own: one younger than
// [transactions] recovery_grace_s may still be committing in some proxy and is left alone.
// --all resolves every one at once; only for when no proxy is running.
#include <fmt/format.h>

#include <iostream>

#include "cli/commands.h"
#include "proxy/txn/recovery.h"
#include "proxy/txn/startup.h"

namespace sg::cli {

int run_recover(const Config& cfg, bool all) {
    proxy::txn::RecoveryOptions o;
    o.grace_s = cfg.transactions.recovery_grace_s;
    o.everything = all;
    proxy::txn::RecoveryReport rep = proxy::txn::recover(cfg, o);
    std::cout << fmt::format("committed {}, rolled back {}, left {}, decision rows deleted {}\n",
                             rep.committed, rep.rolled_back, rep.left, rep.decisions_deleted);
    for (const auto& p : rep.problems) std::cout << "  " << p << "\n";
    return rep.left == 0 && rep.problems.empty() ? 0 : 1;
}

}  // namespace sg::cli
