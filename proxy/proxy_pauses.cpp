// The proxy's side of pauses and map checks that sessions report to (issue 22).
#include <spdlog/spdlog.h>

#include "proxy/proxy.h"
#include "proxy/server_login.h"
#include "proxy/session.h"
#include "proxy/stamp_watcher.h"

namespace sg::proxy {

int Proxy::held_clients(int shard, const std::string& server_user) const {
    int n = 0;
    for (const auto& [pid, s] : sessions_) {
        const auto& h = s->paused_hold();
        if (!h || h->shard != shard || !s->user_config()) continue;
        if (server_login(cfg_.shards[shard], s->user_config()).user == server_user) ++n;
    }
    return n;
}

void Proxy::note_shard_stamp(int shard, const router::MapStamp& stamp) {
    if (shard < 0 || size_t(shard) >= cfg_.shards.size()) return;
    const std::string& name = cfg_.shards[shard].name;
    bool found = false;
    for (auto& r : stamp_readings_)
        if (r.shard == name) {
            r.reachable = true;
            r.stamp = stamp;
            r.error.clear();
            found = true;
        }
    if (!found) stamp_readings_.push_back(router::ShardStampReading{name, true, stamp, {}});
    // Loads the map file when it carries the newer map (the rebalancer writes it before it
    // commits), else fences; the watcher confirms with a full reading.
    refresh_fence(true);
    if (stamp_watcher_) stamp_watcher_->poll_now();
}

}  // namespace sg::proxy
