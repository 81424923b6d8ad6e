// The table-driven routing tests' row and fixture (router_test.cpp holds the TEST_Ps; the
// tables are instantiated there and in router_refusals_test.cpp and router_session_test.cpp).
// Each row: SQL (+ parameters) -> route kind, shards, or the error it must be refused with.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "router/router.h"

namespace sg::router::testing {

using K = Route::Kind;

struct Case {
    const char* name;
    std::string sql;
    Params params;
    K kind;
    std::vector<uint16_t> shards;
    std::string error = "";  // substring of the message when kind == Error
    std::string sqlstate = "";
};

inline void PrintTo(const Case& c, std::ostream* os) {
    *os << c.sql;
}

class Routing : public ::testing::TestWithParam<Case> {};

inline auto case_name = [](const ::testing::TestParamInfo<Case>& info) {
    return std::string(info.param.name);
};

}  // namespace sg::router::testing
