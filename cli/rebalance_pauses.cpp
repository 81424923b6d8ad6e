#include "cli/rebalance_pauses.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "common/sqlstate.h"
#include "rebalance/proxies.h"
#include "rebalance/proxy_registry.h"

namespace sg::cli {

namespace {

using Clock = std::chrono::steady_clock;
using rebalance::Error;
using rebalance::Ok;
using rebalance::Status;
using std::chrono::milliseconds;

// How often the acknowledgements are read while waiting: loopback etcd answers in ~1 ms.
constexpr milliseconds kPoll{2};

std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
}

}  // namespace

EtcdPauses::EtcdPauses(const Config& cfg, EtcdRebalance& lock) : cfg_(cfg), lock_(lock) {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0) host[0] = 0;
    owner_ = fmt::format("{}:{}", host, ::getpid());
}

EtcdPauses::~EtcdPauses() {
    if (order_) (void)resume();
}

rebalance::Expected<EtcdPauses::Snapshot> EtcdPauses::read() {
    auto r = lock_.client().get(cfg_.cluster.proxies_prefix(), true);
    if (!r) return Error{sqlstate::kConnectionFailure, r.error().message};
    Snapshot s;
    s.revision = r->revision;
    for (const auto& kv : r->kvs) {
        auto reg = cluster::parse_registration(kv.value);
        if (!reg)
            return Error{sqlstate::kInternalError,
                         "proxy registration " + kv.key + ": " + reg.error().message};
        s.regs[kv.key] = Reading{kv.lease, kv.mod_revision, std::move(*reg)};
    }
    return s;
}

bool EtcdPauses::any_unanswered() const {
    return std::any_of(members_.begin(), members_.end(),
                       [](const Member& m) { return m.unanswered && !m.gone; });
}

Status EtcdPauses::put_order() {
    auto p = lock_.client().put(cfg_.cluster.pause_key(), cluster::encode_pause_order(*order_),
                                lock_.lease());
    renewed_at_ = Clock::now();
    if (!p)
        return Error{
            sqlstate::kConnectionFailure,
            "etcd: cannot write the pause " + cfg_.cluster.pause_key() + ": " + p.error().message};
    return Ok{};
}

void EtcdPauses::renew_if_due() {
    if (!order_ || Clock::now() - renewed_at_ < milliseconds(std::max(50, order_->lease_ms / 4)))
        return;
    ++order_->renewal;
    if (auto st = put_order(); !st)
        spdlog::error("the pause could not be renewed: {}", st.error().message);
}

void EtcdPauses::pin() {
    cluster::KeyRevisions pinned;
    for (const auto& m : members_)
        if (!m.gone) pinned.emplace_back(m.key, m.mod_revision);
    lock_.pin_registrations(std::move(pinned));
}

Status EtcdPauses::settle(Member& m) {
    const auto bound = rebalance::lease_expiry_bound({m.key, m.address, m.lease, m.ttl_s});
    spdlog::warn(
        "{} does not answer: waiting up to {} ms for it to answer or for its lease {:x} to expire",
        m.label(), bound.count(), m.lease);
    const auto deadline = Clock::now() + bound;
    std::string why = "its registration did not change";
    while (Clock::now() < deadline) {
        auto s = read();
        if (!s) {
            why = s.error().message;
        } else {
            auto it = s->regs.find(m.key);
            if (it == s->regs.end() || it->second.lease != m.lease) {
                spdlog::warn(
                    "{}: its lease {:x} expired; it fences itself, the switches go on without it",
                    m.label(), m.lease);
                m.gone = true;
                return Ok{};
            }
            if (it->second.mod_revision != m.mod_revision) {  // it handled the pause's end: alive
                m.mod_revision = it->second.mod_revision;
                m.unanswered = false;
                return Ok{};
            }
        }
        renew_if_due();
        std::this_thread::sleep_for(milliseconds(50));
    }
    return Error{
        sqlstate::kConnectionFailure,
        fmt::format(
            "{} neither answers nor let its lease {:x} expire within {} ms ({}); the switch "
            "cannot be finished without it: check that proxy, then rerun `shardgate rebalance run`",
            m.label(), m.lease, bound.count(), why)};
}

Status EtcdPauses::refresh() {
    // A proxy settled meanwhile may have registered again: read until nothing had to wait.
    for (int round = 0; round < 4; ++round) {
        auto s = read();
        if (!s) return s.error();
        lock_.set_registrations_revision(s->revision);
        std::vector<Member> next;
        bool waited = false;
        for (const auto& [key, r] : s->regs) {
            auto it = std::find_if(members_.begin(), members_.end(), [&](const Member& m) {
                return m.key == key && m.lease == r.lease && !m.gone;
            });
            Member m;
            if (it != members_.end()) {
                m = *it;
            } else {
                m = Member{key, r.reg.address, r.lease,
                           r.reg.lease_ttl_s > 0 ? r.reg.lease_ttl_s : cfg_.cluster.lease_ttl_s,
                           r.mod_revision};
                spdlog::info("{} (registered under lease {:x}) joins the switches", m.label(),
                             r.lease);
            }
            if (m.unanswered) {
                if (auto st = settle(m); !st) return st;
                waited = true;
                if (m.gone) continue;
            }
            m.mod_revision = r.mod_revision;
            next.push_back(std::move(m));
        }
        for (const auto& old : members_)
            if (!old.gone && std::none_of(next.begin(), next.end(), [&](const Member& m) {
                    return m.key == old.key && m.lease == old.lease;
                }))
                spdlog::info("{}: no longer registered (lease {:x}); left out", old.label(),
                             old.lease);
        members_ = std::move(next);
        if (!waited) return Ok{};
    }
    return Ok{};
}

Status EtcdPauses::pause(const std::string& runs, uint64_t from_version, int drain_ms,
                         int lease_ms) {
    if (order_) (void)resume();
    lock_.pin_registrations({});
    order_ = cluster::PauseOrder{fmt::format("{:x}-{}", lock_.lease(), ++attempts_),
                                 runs,
                                 from_version,
                                 lease_ms,
                                 drain_ms,
                                 owner_,
                                 0};
    if (auto st = put_order(); !st) {
        (void)resume();
        return st;
    }
    const auto deadline = Clock::now() + milliseconds(drain_ms) + rebalance::kProxyAnswerBound;
    std::string last_error;
    for (;;) {
        auto s = read();
        std::vector<std::string> waiting, drain_failed, other;
        if (!s) last_error = s.error().message;
        for (auto& m : members_) {
            if (m.gone) continue;
            if (!s) {
                waiting.push_back(m.label());
                continue;
            }
            auto it = s->regs.find(m.key);
            if (it == s->regs.end() || it->second.lease != m.lease) {
                // Expired or registered again under a new lease: refresh() sorts it out.
                other.push_back(m.label() + " is no longer registered under lease " +
                                fmt::format("{:x}", m.lease));
                m.unanswered = true;
                continue;
            }
            const auto& ack = it->second.reg.pause;
            if (!ack || ack->id != order_->id) {
                waiting.push_back(m.label());
                continue;
            }
            if (ack->state == cluster::kPauseHeld) {
                m.mod_revision = it->second.mod_revision;
            } else if (ack->state == cluster::kPauseDrainFailed) {
                drain_failed.push_back(m.label());
            } else {
                other.push_back(m.label() + ": " + ack->state);
            }
        }
        if (!drain_failed.empty()) {
            (void)resume();
            return Error{
                sqlstate::kQueryCanceled,
                fmt::format("{}: transactions on buckets {} did not finish within {} ms; nothing "
                            "is paused",
                            join(drain_failed), runs, drain_ms)};
        }
        if (!other.empty()) {
            (void)resume();
            return Error{sqlstate::kObjectNotInPrerequisiteState,
                         "the pause through etcd failed: " + join(other)};
        }
        if (waiting.empty()) {
            pin();
            return Ok{};
        }
        if (Clock::now() >= deadline) {
            for (auto& m : members_)
                if (std::find(waiting.begin(), waiting.end(), m.label()) != waiting.end())
                    m.unanswered = true;
            (void)resume();
            return Error{sqlstate::kConnectionFailure,
                         fmt::format("{} did not acknowledge the pause {} within {} ms{}",
                                     join(waiting), order_ ? order_->id : std::string(),
                                     drain_ms + rebalance::kProxyAnswerBound.count(),
                                     last_error.empty() ? "" : " (" + last_error + ")")};
        }
        std::this_thread::sleep_for(kPoll);
    }
}

Status EtcdPauses::renew() {
    // No round trip here: whether every proxy still holds the pause is checked by the decision
    // itself, whose compare-and-swap requires every acknowledging registration unchanged
    // (pin()), and a proxy whose pause lapsed rewrote its own first (the switch then aborts:
    // "map: ... not published"). Only the lease is kept long for the rest of the switch.
    renew_if_due();
    return Ok{};
}

Status EtcdPauses::reload(uint64_t version) {
    // A proxy applies a version a few ms after its publication; one that froze or died is
    // waited for until its lease expired (it fences itself then).
    int64_t bound_ms = rebalance::ProxySet::kReloadWaitMs;
    for (const auto& m : members_)
        if (!m.gone)
            bound_ms = std::max<int64_t>(
                bound_ms,
                rebalance::lease_expiry_bound({m.key, m.address, m.lease, m.ttl_s}).count());
    const auto deadline = Clock::now() + milliseconds(bound_ms);
    std::string last_error;
    for (;;) {
        std::vector<std::string> behind;
        auto s = read();
        if (!s) last_error = s.error().message;
        for (auto& m : members_) {
            if (m.gone) continue;
            if (!s) {
                behind.push_back(m.label());
                continue;
            }
            auto it = s->regs.find(m.key);
            if (it == s->regs.end()) {
                spdlog::warn(
                    "{}: its lease {:x} expired; it fences itself, the switches go on without it",
                    m.label(), m.lease);
                m.gone = true;
                continue;
            }
            // A new incarnation (restarted) read the map at its start: its version counts too.
            if (it->second.reg.map_version < version)
                behind.push_back(
                    fmt::format("{} (on version {})", m.label(), it->second.reg.map_version));
        }
        if (behind.empty()) return Ok{};
        if (Clock::now() >= deadline)
            return Error{
                sqlstate::kObjectNotInPrerequisiteState,
                fmt::format("{} did not register map version {} within {} ms{}; is its config "
                            "missing a shard of that map?",
                            join(behind), version, bound_ms,
                            last_error.empty() ? "" : " (" + last_error + ")")};
        renew_if_due();
        std::this_thread::sleep_for(kPoll);
    }
}

Status EtcdPauses::resume(std::vector<std::string>* lapsed) {
    lock_.pin_registrations({});
    if (!order_) return Ok{};
    const std::string id = order_->id;
    if (lapsed) {
        if (auto s = read(); s)
            for (const auto& m : members_) {
                auto it = s->regs.find(m.key);
                if (!m.gone && it != s->regs.end() && it->second.reg.pause &&
                    it->second.reg.pause->id == id &&
                    it->second.reg.pause->state == cluster::kPauseLapsed)
                    lapsed->push_back(m.label());
            }
    }
    order_.reset();
    // Only the key under this run's lease (a dead run's went with its lease). etcd answering
    // late for a moment (an election, a loaded host) must not stop the run: retried until the
    // lock's lease would have expired, when the key goes with it anyway. A delete that was
    // applied but whose answer was lost fails its compare on the retry: done as well.
    const auto deadline = Clock::now() + std::chrono::seconds(cfg_.cluster.lease_ttl_s);
    for (;;) {
        auto d = lock_.client().delete_if_lease(cfg_.cluster.pause_key(), lock_.lease());
        if (d) return Ok{};
        if (Clock::now() >= deadline)
            return Error{sqlstate::kConnectionFailure,
                         fmt::format("etcd: the pause {} could not be deleted within {} s ({}); "
                                     "it ends when the rebalance lock's lease expires",
                                     id, cfg_.cluster.lease_ttl_s, d.error().message)};
        spdlog::warn("etcd: the pause {} could not be deleted yet ({}); retrying", id,
                     d.error().message);
        std::this_thread::sleep_for(milliseconds(100));
    }
}

}  // namespace sg::cli
