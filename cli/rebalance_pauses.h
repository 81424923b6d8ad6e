// A switch's pause through etcd (issue 22): the rebalancer's side of the protocol in
// proxy/cluster/pause_order.h. No admin console is involved: the proxies are the registered
// ones (`<prefix>/proxies/`), the pause is the key `<prefix>/pause` under the rebalance lock's
// lease (a rebalancer that dies loses it within its TTL: every proxy resumes, the old owner
// keeps serving), and every step waits, bounded, for the proxies' acknowledgements in their
// registrations:
//   pause   write the order; wait until every member acknowledges "held" (a "drain_failed"
//           ends the pause: 57014); pin the acknowledging registrations' mod_revisions, which
//           the decision (the map's compare-and-swap) requires unchanged — a proxy whose pause
//           lapses rewrites its registration before it routes again;
//   renew   rewrite the order when a quarter of its lease has passed (its proxies extend their
//           pause); a lapse is caught by the decision's compare on the pinned registrations;
//   reload  wait until every member registers map version >= V;
//   resume  delete the key.
// A member that does not acknowledge within the bound is "unanswered": the undecided switch
// aborts, and refresh() before the next one waits until its registration changes (it answers
// again) or is gone (its lease expired: it fences itself), at most its TTL + 3 s. After a
// decision, reload() waits the same way. Not thread-safe: the run's thread only.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cli/rebalance_etcd.h"
#include "proxy/cluster/pause_order.h"
#include "rebalance/switch_participants.h"

namespace sg::cli {

class EtcdPauses : public rebalance::SwitchParticipants {
public:
    EtcdPauses(const Config& cfg, EtcdRebalance& lock);
    ~EtcdPauses() override;  // deletes a pause still in force

    rebalance::Status refresh() override;
    bool any_unanswered() const override;
    rebalance::Status pause(const std::string& runs, uint64_t from_version, int drain_ms,
                            int lease_ms) override;
    rebalance::Status renew() override;
    rebalance::Status reload(uint64_t version) override;
    rebalance::Status resume(std::vector<std::string>* lapsed = nullptr) override;

private:
    struct Member {
        std::string key, address;
        int64_t lease = 0;
        int ttl_s = 0;
        int64_t mod_revision = 0;  // as last read (pinned for the decision after a pause)
        bool unanswered = false;
        bool gone = false;
        std::string label() const { return "proxy " + address; }
    };
    struct Reading {
        int64_t lease = 0, mod_revision = 0;
        cluster::Registration reg;
    };
    struct Snapshot {
        int64_t revision = 0;
        std::map<std::string, Reading> regs;  // by key
    };
    rebalance::Expected<Snapshot> read();
    rebalance::Status put_order();
    void renew_if_due();
    void pin();
    // Waits for an unanswered member to answer again or be gone (see the top).
    rebalance::Status settle(Member& m);

    const Config& cfg_;
    EtcdRebalance& lock_;
    std::string owner_;
    std::vector<Member> members_;
    std::optional<cluster::PauseOrder> order_;
    std::chrono::steady_clock::time_point renewed_at_{};
    uint64_t attempts_ = 0;
};

}  // namespace sg::cli
