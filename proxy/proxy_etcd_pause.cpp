// The proxy's side of a switch pause through etcd (issue 22; the protocol is in
// proxy/cluster/pause_order.h). All on the event loop: orders arrive in revision order after
// the map versions published before them, so a pause that ends after a decision ends with the
// decided map loaded.
//
// Invariants:
//  - the acknowledgement "held" is written only once the buckets are paused here and no open
//    transaction that touched them is left (the drain), as PAUSE BUCKETS ... DRAIN answers;
//  - an order seen again (a renewal) never pauses anew: a pause that lapsed or failed to drain
//    stays ended, and the registration says so, so the rebalancer's decision fails;
//  - a lapse is acknowledged ("lapsed") before the proxy routes again (EtcdAgent::reconfirm).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "proxy/admin_pause.h"
#include "proxy/cluster/etcd_agent.h"
#include "proxy/cluster/pause_order.h"
#include "proxy/proxy.h"
#include "proxy/spawn.h"

namespace sg::proxy {

using std::chrono::milliseconds;

void Proxy::end_etcd_pause() {
    if (etcd_pause_id_.empty()) return;
    const std::string id = std::exchange(etcd_pause_id_, std::string());
    const uint64_t local = std::exchange(etcd_pause_local_, 0);
    if (local == 0) return;  // not holding (drain failed, lapsed): its acknowledgement stays
    const LeaseCheck c = pauses_->resume_buckets(local);
    etcd_agent_->set_pause_ack(cluster::PauseAck{
        id, c == LeaseCheck::Lapsed ? cluster::kPauseLapsed : cluster::kPauseResumed});
    spdlog::info("etcd pause {} ended ({}): buckets resumed on map version {}", id, to_string(c),
                 map_->version());
    report_to_etcd();
}

void Proxy::on_etcd_pause(const cluster::PauseOrder* order) {
    if (!etcd_agent_) return;
    if (!order) {
        end_etcd_pause();
        return;
    }
    if (order->id == etcd_pause_id_) {
        // A renewal: extends a pause still held; one that lapsed or failed stays ended.
        if (etcd_pause_local_ != 0) (void)pauses_->renew_buckets(etcd_pause_local_);
        return;
    }
    end_etcd_pause();  // a newer order replaces one whose deletion this proxy did not see
    etcd_pause_id_ = order->id;
    std::vector<std::pair<uint32_t, uint32_t>> ranges;
    std::string why;
    if (!parse_bucket_runs(order->buckets, map_->bucket_count(), ranges, why)) {
        spdlog::error("etcd pause {}: buckets \"{}\": {}; not paused", order->id, order->buckets,
                      why);
        etcd_agent_->set_pause_ack(cluster::PauseAck{order->id, "refused: " + why});
        report_to_etcd();
        return;
    }
    // Bounded like a console pause: no client is held longer than [proxy] max_pause_ms.
    const milliseconds lease(std::min(order->lease_ms, cfg_.proxy.max_pause_ms));
    etcd_pause_local_ = pauses_->pause_buckets(
        ranges, map_->bucket_count(), fmt::format("rebalance {} via etcd", order->owner), lease);
    // The paused buckets are registered with the acknowledgement, after the drain: one write.
    const milliseconds drain(std::min<int64_t>(order->drain_ms, lease.count()));
    net::asio::co_spawn(io_, drain_etcd_pause(order->id, etcd_pause_local_, drain),
                        LogUnhandled("etcd pause drain"));
}

net::awaitable<void> Proxy::drain_etcd_pause(std::string id, uint64_t local, milliseconds bound) {
    // New statements on the buckets wait already; wait for the open transactions that touched
    // them (like PAUSE BUCKETS ... DRAIN), 1 ms at a time.
    net::asio::steady_timer t(io_);
    const auto deadline = net::Clock::now() + bound;
    while (sessions_touching_paused() > 0 && net::Clock::now() < deadline && !shutting_down_) {
        t.expires_after(milliseconds(1));
        net::error_code ec;
        co_await t.async_wait(net::ec_token(ec));
    }
    if (etcd_pause_id_ != id || etcd_pause_local_ != local || shutting_down_)
        co_return;  // ended meanwhile
    if (const int busy = sessions_touching_paused(); busy > 0) {
        pauses_->resume_buckets(local);
        etcd_pause_local_ = 0;
        spdlog::warn(
            "etcd pause {}: {} transaction(s) still hold the buckets after {} ms; not paused", id,
            busy, bound.count());
        etcd_agent_->set_pause_ack(cluster::PauseAck{id, cluster::kPauseDrainFailed});
        report_to_etcd();
        co_return;
    }
    if (pauses_->bucket_lease().check(local) != LeaseCheck::Held)
        co_return;  // lapsed: acknowledged so
    etcd_agent_->set_pause_ack(cluster::PauseAck{id, cluster::kPauseHeld});
    report_to_etcd();
}

void Proxy::etcd_pause_lapsed() {
    const auto& gone = pauses_->bucket_lease().last_lapsed();
    if (etcd_pause_local_ == 0 || !gone || gone->id != etcd_pause_local_) return;
    etcd_pause_local_ = 0;
    spdlog::warn("etcd pause {} lapsed here: the rebalancer neither renewed nor ended it in time",
                 etcd_pause_id_);
    etcd_agent_->set_pause_ack(cluster::PauseAck{etcd_pause_id_, cluster::kPauseLapsed});
}

}  // namespace sg::proxy
