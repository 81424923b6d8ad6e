// Reading a console result set's row by column name: the console's column order may grow
// without breaking the report.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/stats/admin_tables.h"

namespace sg::stats::report {

class RowReader {
public:
    RowReader(const Table& t, const std::vector<std::string>& row) : t_(t), row_(row) {}
    std::string str(std::string_view col) const {
        for (size_t i = 0; i < t_.columns.size() && i < row_.size(); ++i)
            if (t_.columns[i] == col) return row_[i];
        return {};
    }
    double num(std::string_view col) const { return std::strtod(str(col).c_str(), nullptr); }
    uint64_t count(std::string_view col) const {
        return std::strtoull(str(col).c_str(), nullptr, 10);
    }

private:
    const Table& t_;
    const std::vector<std::string>& row_;
};

}  // namespace sg::stats::report
