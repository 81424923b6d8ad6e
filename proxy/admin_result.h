// What the admin console answers with, as wire messages: a text-only result set, a command
// tag, an error, and the time formats its SHOW commands print. Protocol logic without I/O.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/clock.h"

namespace sg::proxy::admin {

// A text-only result set: RowDescription (every column text), DataRows, CommandComplete.
class ResultSet {
public:
    explicit ResultSet(std::vector<std::string> columns) : columns_(std::move(columns)) {}
    void row(std::vector<std::string> values) { rows_.push_back(std::move(values)); }

    // `tag` empty: "SHOW <rows>".
    void encode(std::string& out, const std::string& tag = {}) const;

private:
    std::vector<std::string> columns_;
    std::vector<std::vector<std::string>> rows_;
};

void command_complete(std::string& out, std::string_view tag);
void error(std::string& out, std::string_view sqlstate, const std::string& msg);

int64_t ms_since(net::Clock::time_point t);
std::string utc_time(std::chrono::system_clock::time_point t);  // "2026-12-07 23:24:02 UTC"
std::string seconds_since(net::Clock::time_point t);            // "1.5"

}  // namespace sg::proxy::admin
