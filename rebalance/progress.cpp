#include "rebalance/progress.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>

namespace sg::rebalance {

Progress::Progress(uint32_t total_buckets) : total_buckets_(total_buckets), tty_(isatty(2) == 1) {}

void Progress::copied(const std::string& source, uint64_t rows_scanned, uint64_t rows_moved,
                      uint64_t bytes_moved) {
    std::lock_guard lock(mu_);
    // A source copies again from zero after its slot was lost: its latest totals count.
    per_source_[source] = Copied{rows_scanned, rows_moved, bytes_moved};
    rows_scanned_ = rows_moved_ = bytes_moved_ = 0;
    for (const auto& [name, c] : per_source_) {
        rows_scanned_ += c.scanned;
        rows_moved_ += c.moved;
        bytes_moved_ += c.bytes;
    }
    show(false);
}

void Progress::switched(uint32_t buckets, uint64_t rows) {
    std::lock_guard lock(mu_);
    buckets_done_ += buckets;
    rows_switched_ += rows;
    show(false);
}

void Progress::show(bool force) {
    auto now = Clock::now();
    if (!force && now - last_ < (tty_ ? std::chrono::milliseconds(200) : std::chrono::seconds(5)))
        return;
    last_ = now;
    double elapsed = std::chrono::duration<double>(now - start_).count();
    double mbps = elapsed > 0 ? bytes_moved_ / 1e6 / elapsed : 0;
    double done = total_buckets_ ? double(buckets_done_) / total_buckets_ : 1;
    std::string eta = done > 0 && done < 1 ? fmt::format("{:.0f}s", elapsed / done - elapsed) : "-";
    std::string line = fmt::format(
        "buckets {}/{} switched | rows scanned {} copied {} switched {} | {:.1f} MB/s | ETA {}",
        buckets_done_, total_buckets_, rows_scanned_, rows_moved_, rows_switched_, mbps, eta);
    if (tty_) {
        std::fprintf(stderr, "\r%s\x1b[K", line.c_str());
        dirty_ = true;
    } else {
        spdlog::info("progress: {}", line);
    }
}

void Progress::finish() {
    std::lock_guard lock(mu_);
    show(true);
    if (tty_ && dirty_) std::fputc('\n', stderr);
    dirty_ = false;
}

}  // namespace sg::rebalance
