// The proxy's side of [cluster] etcd (issue 22; proxy/cluster/etcd_agent.h has the protocol):
// the map file is this proxy's local copy of the etcd key, written only from etcd, and every
// new version is loaded through RELOAD MAP's path, so the stamp checks and the "never an older
// version" rule apply to it exactly as to a file the rebalancer wrote.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include "proxy/cluster/etcd_agent.h"
#include "proxy/cluster/etcd_bootstrap.h"
#include "proxy/pause_control.h"
#include "proxy/proxy.h"
#include "proxy/stamp_watcher.h"
#include "proxy/txn/coordinator.h"

namespace sg::proxy {

std::string Proxy::sync_map_from_etcd() {
    if (!cfg_.cluster.uses_etcd()) return {};
    // The shard list first: etcd's map may name a shard only etcd's list gives.
    if (auto err = follow_etcd_shards_at_start(); !err.empty()) return err;
    auto v = cluster::sync_map_file_from_etcd(cfg_);
    if (!v) return v.error().message;
    return {};
}

void Proxy::start_etcd_agent() {
    if (!cfg_.cluster.uses_etcd()) return;
    cluster::EtcdAgent::Identity id{txn_->instance(),
                                    fmt::format("{}:{}", cfg_.proxy.listen_addr, cfg_.proxy.port),
                                    cfg_.admin.http_listen};
    etcd_agent_ = std::make_unique<cluster::EtcdAgent>(
        io_, cfg_, std::move(id), map_->version(),
        [this] {
            if (shutting_down_) return;
            std::string err = reload_map();
            if (!err.empty()) spdlog::error("etcd: the new map was not loaded: {}", err);
            report_to_etcd();
        },
        [this] { return map_->version(); }, [this] { check_etcd_session(); },
        [this](std::optional<cluster::PauseOrder> order) {
            if (!shutting_down_) on_etcd_pause(order ? &*order : nullptr);
        },
        [this](std::vector<ShardConfig> list) {
            if (!shutting_down_) on_etcd_shards(std::move(list));
        });
    pauses_->set_on_buckets_lapsed([this] {
        etcd_pause_lapsed();  // the acknowledgement first: reconfirm() writes it before routing
        etcd_agent_->reconfirm();
        check_etcd_session();
        return on_bucket_pause_lapsed();  // held until settled (Proxy::settle_lapsed_pause)
    });
    report_to_etcd();
}

void Proxy::report_to_etcd() {
    if (!etcd_agent_ || !map_) return;
    // Paused buckets as ranges ("3-5,9"): what the rebalancer reads to see a pause in force.
    std::string paused;
    if (any_bucket_paused()) {
        const uint32_t n = map_->bucket_count();
        for (uint32_t b = 0; b < n;) {
            if (!bucket_paused(b)) {
                ++b;
                continue;
            }
            uint32_t e = b;
            while (e + 1 < n && bucket_paused(e + 1)) ++e;
            if (!paused.empty()) paused += ",";
            paused += b == e ? std::to_string(b) : fmt::format("{}-{}", b, e);
            b = e + 1;
        }
    }
    etcd_agent_->set_local_state(map_->fence().empty() ? map_->version() : 0, std::move(paused));
}

std::string Proxy::etcd_fence() const {
    if (!etcd_agent_) return {};
    // A rebalancer treats a proxy that does not answer as gone once its lease has expired and
    // switches without it; the lease cannot expire before the routing window ends (a frozen
    // process, e.g. SIGSTOP, wakes past it with statements waiting in its sockets).
    const auto now = net::Clock::now();
    const auto until = etcd_agent_->routable_until();
    if (now < until) return {};
    const auto st = etcd_agent_->state();
    if (until.time_since_epoch().count() == 0)
        return fmt::format(
            "a switch's pause lapsed on this proxy: it re-reads the shard map from etcd before it "
            "routes sharded statements again (map version {} may be stale); retry in a moment",
            map_->version());
    const auto ago = std::chrono::duration_cast<std::chrono::milliseconds>(
        now - (until - etcd_agent_->routing_window()));
    return fmt::format(
        "this proxy's etcd lease (lease_ttl_s = {} s) was last confirmed {} ms ago ({}): the "
        "cluster may have moved its shard map past version {} without it, so sharded "
        "statements are refused until the proxy has registered again and re-read the map from "
        "etcd",
        cfg_.cluster.lease_ttl_s, ago.count(), st.last_error.empty() ? "no answer" : st.last_error,
        map_->version());
}

const router::ShardMap& Proxy::shard_map() {
    if (etcd_agent_ && !etcd_fenced_ && net::coarse_now() >= etcd_agent_->routable_until())
        check_etcd_session();
    return *map_;
}

void Proxy::check_etcd_session() {
    if (!etcd_agent_) return;
    const bool fenced = !etcd_fence().empty();
    if (fenced == etcd_fenced_) return;
    etcd_fenced_ = fenced;
    if (!fenced) spdlog::info("etcd session back: sharded statements are routed again");
    refresh_fence(false);
    if (!fenced) settle_lapsed_pause(std::nullopt);  // the map is etcd's again
}

std::optional<cluster::EtcdState> Proxy::etcd_state() const {
    if (!etcd_agent_) return std::nullopt;
    return etcd_agent_->state();
}

std::string Proxy::etcd_metrics() const {
    if (!etcd_agent_) return {};
    const auto st = etcd_agent_->state();
    return fmt::format(
        "# HELP shardgate_etcd_connected Whether the last request to etcd succeeded.\n"
        "# TYPE shardgate_etcd_connected gauge\nshardgate_etcd_connected {}\n"
        "# HELP shardgate_etcd_lease_held Whether this proxy holds its registration lease.\n"
        "# TYPE shardgate_etcd_lease_held gauge\nshardgate_etcd_lease_held {}\n"
        "# HELP shardgate_etcd_watching Whether the watch of the map key is established.\n"
        "# TYPE shardgate_etcd_watching gauge\nshardgate_etcd_watching {}\n"
        "# HELP shardgate_etcd_map_version The newest shard map version seen in etcd.\n"
        "# TYPE shardgate_etcd_map_version gauge\nshardgate_etcd_map_version {}\n",
        st.connected ? 1 : 0, st.lease_id != 0 ? 1 : 0, st.watching ? 1 : 0, st.etcd_map_version);
}

}  // namespace sg::proxy
