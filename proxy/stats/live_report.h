// The report the HTTP listener serves at / and /report.json: the same report as `shardgate
// report` (report::build over the console's result sets), built in-process from this event
// loop's QueryStats instead of over a console connection.
//
// Off the hot path: nothing here runs per statement. A page is built when one is asked for and
// then reused for `max_age`, so a refresh storm or a scraper costs at most one build per
// max_age on the event loop. Bounded in size: at most `top` statements and `max_rows` rows per
// list section, and query texts cut at `max_query_chars`, whatever the workload.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <span>
#include <string>

#include "proxy/stats/query_stats.h"
#include "proxy/stats/report.h"

namespace sg::stats::live {

struct Options {
    int top = 20;
    size_t max_rows = 50;  // findings, slow statements, refusals, stragglers, "what got slower"
    size_t max_query_chars = 2000;  // per query text
    size_t compare_intervals = 5;   // "what got slower": the last 5 intervals against the 5 before
    int refresh_seconds = 10;       // the page's own refresh
    std::chrono::milliseconds max_age{2000};
};

// The report over everything since the last reset, with the last `compare_intervals`
// intervals compared against the ones before.
report::Report build(const QueryStats& stats, std::span<const std::string> shard_names,
                     const Options& options);

// Caps a built report's lists and texts to the options' bounds.
void bound(report::Report& r, const Options& options);

// A built report and its two renderings, rebuilt when older than max_age.
class Pages {
public:
    using Builder = std::function<report::Report()>;
    Pages(Builder builder, Options options) : builder_(std::move(builder)), options_(options) {}
    std::string html();
    std::string json();
    size_t builds() const { return builds_; }

private:
    void refresh();

    Builder builder_;
    Options options_;
    report::Report report_;
    std::string html_, json_;
    std::chrono::steady_clock::time_point built_at_{};
    size_t builds_ = 0;
};

}  // namespace sg::stats::live
