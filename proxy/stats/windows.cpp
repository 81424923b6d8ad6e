#include "proxy/stats/windows.h"

#include <algorithm>

namespace sg::stats {

namespace {
int64_t steady_now() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}
}  // namespace

Windows::Windows(std::chrono::seconds width, size_t count, size_t max_cells)
    : width_ns_(std::max<int64_t>(1, width.count()) * 1'000'000'000),
      max_cells_(max_cells),
      ring_(std::max<size_t>(count, 2)),
      steady_origin_ns_(steady_now()),
      system_origin_(std::chrono::system_clock::now()) {}

void Windows::configure(std::chrono::seconds width, size_t count, size_t max_cells) {
    max_cells_ = max_cells;
    const int64_t w = std::max<int64_t>(1, width.count()) * 1'000'000'000;
    count = std::max<size_t>(count, 2);
    if (w != width_ns_ || count != ring_.size()) {
        width_ns_ = w;
        ring_.assign(count, WindowInterval{});
    }
}

void Windows::record(const QueryEvent& e, const std::shared_ptr<const Shape>& shape,
                     int64_t end_ns) {
    const int64_t index = end_ns / width_ns_;
    WindowInterval& w = ring_[size_t(index % int64_t(ring_.size()))];
    if (w.index != index) {
        if (w.index > index) return;  // an event older than the ring (a clock step): dropped
        w.index = index;
        w.total = Figures{};
        w.cells.clear();
        w.cell_count = 0;
    }
    w.total.add(e);
    auto& same = w.cells[shape->fingerprint];
    for (auto& c : same) {
        if (c.user == e.user && c.database == e.database) {
            c.figures.add(e);
            return;
        }
    }
    if (w.cell_count >= max_cells_) return;  // counted in the interval's total only
    ++w.cell_count;
    same.push_back(WindowCell{shape, std::string(e.user), std::string(e.database), {}});
    same.back().figures.add(e);
}

void Windows::clear() {
    for (auto& w : ring_) {
        w.index = -1;
        w.total = Figures{};
        w.cells.clear();
        w.cell_count = 0;
    }
}

int64_t Windows::current_index() const {
    return steady_now() / width_ns_;
}

std::vector<const WindowInterval*> Windows::between(int64_t first, int64_t last) const {
    std::vector<const WindowInterval*> out;
    for (const auto& w : ring_)
        if (w.index >= 0 && w.index >= first && w.index <= last) out.push_back(&w);
    std::sort(out.begin(), out.end(),
              [](const auto* a, const auto* b) { return a->index < b->index; });
    return out;
}

std::chrono::system_clock::time_point Windows::start_of(int64_t index) const {
    const int64_t offset_ns = index * width_ns_ - steady_origin_ns_;
    return system_origin_ + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                std::chrono::nanoseconds(offset_ns));
}

}  // namespace sg::stats
