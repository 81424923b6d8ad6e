// Result sets of the console's time-window commands (units as in admin_tables.h):
//
//   SHOW WINDOW [n] [OFFSET m]   each statement over the last n intervals (default: all kept),
//                                ending m intervals ago: SHOW QUERIES' columns plus the bounds
//   SHOW WINDOWS                 one row per kept interval: its totals (for per-window charts)
//   SHOW STATS_PERIOD            when counting started and was last reset, the interval width
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "proxy/stats/admin_tables.h"
#include "proxy/stats/query_stats.h"
#include "router/result.h"

namespace sg::stats {

struct WindowRequest {
    size_t intervals = 0;  // 0: every kept interval
    size_t offset = 0;
};
router::Expected<WindowRequest, std::string> parse_show_window(std::string_view tail);

Table show_window(const QueryStats& stats, const WindowRequest& request);
Table show_windows(const QueryStats& stats);
Table show_stats_period(const QueryStats& stats);

std::string iso_time(std::chrono::system_clock::time_point t);

}  // namespace sg::stats
