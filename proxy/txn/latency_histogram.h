// A Prometheus histogram of commit latencies, safe to observe from the event loop and read from
// the metrics endpoint at once (relaxed atomics: a scrape may see one observation's count before
// its bucket, which Prometheus tolerates between scrapes).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

#include <fmt/format.h>

namespace sg::proxy::txn {

class LatencyHistogram {
public:
    // Upper bounds in microseconds: 0.25 ms .. 5 s, the range of a commit on a LAN.
    static constexpr std::array<uint64_t, 12> kBoundsUs = {
        250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000, 5000000};

    void observe(uint64_t us) {
        for (size_t i = 0; i < kBoundsUs.size(); ++i)
            if (us <= kBoundsUs[i]) {
                buckets_[i].fetch_add(1, std::memory_order_relaxed);
                break;
            }
        count_.fetch_add(1, std::memory_order_relaxed);
        sum_us_.fetch_add(us, std::memory_order_relaxed);
    }
    uint64_t sum_us() const { return sum_us_.load(std::memory_order_relaxed); }

    // The series of one histogram `name` with the label `label` (e.g. kind="two_phase"); the
    // HELP/TYPE lines are the caller's (one per metric name).
    std::string render(const std::string& name, const std::string& label) const {
        std::string out;
        uint64_t cumulative = 0;
        for (size_t i = 0; i < kBoundsUs.size(); ++i) {
            cumulative += buckets_[i].load(std::memory_order_relaxed);
            out += fmt::format("{}_bucket{{{},le=\"{}\"}} {}\n", name, label, kBoundsUs[i] / 1e6,
                               cumulative);
        }
        out += fmt::format("{}_bucket{{{},le=\"+Inf\"}} {}\n", name, label,
                           count_.load(std::memory_order_relaxed));
        out += fmt::format("{}_sum{{{}}} {}\n", name, label, sum_us() / 1e6);
        out +=
            fmt::format("{}_count{{{}}} {}\n", name, label, count_.load(std::memory_order_relaxed));
        return out;
    }

private:
    std::array<std::atomic<uint64_t>, kBoundsUs.size()> buckets_{};
    std::atomic<uint64_t> count_{0};
    std::atomic<uint64_t> sum_us_{0};
};

}  // namespace sg::proxy::txn
