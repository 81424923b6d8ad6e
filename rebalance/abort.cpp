#include "rebalance/abort.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>

#include "common/sqlstate.h"
#include "rebalance/cutover.h"
#include "rebalance/journal.h"
#include "rebalance/proxies.h"

namespace sg::rebalance {

Expected<std::vector<RebalanceObject>> abort_rebalance(const Config& cfg,
                                                       const std::vector<std::string>& proxies,
                                                       const std::string& journal_path,
                                                       SwitchParticipants* participants,
                                                       MapPublisher publish) {
    auto loaded = load_journal(journal_path);
    if (!loaded) return loaded.error();
    if (loaded->has_value() && !(*loaded)->finished) {
        Journal j = std::move(**loaded);
        std::optional<ProxySet> consoles;
        SwitchParticipants* set = participants;
        if (!set) {
            auto c = ProxySet::connect_all(cfg, proxies);
            if (!c) return c.error();
            consoles.emplace(std::move(*c));
            set = &*consoles;
        }
        if (auto st = set->refresh(); !st) return st.error();
        CutoverEnv env{cfg, j, journal_path, *set, 100, 2000, std::move(publish)};
        // Before anything is dropped: a decided switch must commit, not vanish with the rest.
        if (auto st = resolve_pending(env); !st) return st.error();
        spdlog::info("aborting rebalance {}: {} buckets already switched stay where they are",
                     j.run_id, [&] {
                         size_t n = 0;
                         for (const auto& m : j.moves) n += m.switched.size();
                         return n;
                     }());
    }
    auto dropped = drop_rebalance_objects(cfg);
    if (!dropped) return dropped.error();
    if (std::remove(journal_path.c_str()) != 0 && errno != ENOENT)
        return Error{sqlstate::kIoError, journal_path + ": cannot remove: " + std::strerror(errno)};
    return dropped;
}

}  // namespace sg::rebalance
