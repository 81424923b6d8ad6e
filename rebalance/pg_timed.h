// One statement with a deadline: a server that accepts the connection but never answers (a
// frozen process: its kernel still acknowledges TCP, so keepalives do not help) costs at most
// `bound`, after which the connection is unusable (the caller drops it) and the error says so.
#pragma once

#include <chrono>
#include <string>

#include "common/sqlstate.h"
#include "rebalance/pg.h"

namespace sg::rebalance {

// SQLSTATE of "no answer within the bound" (connection_failure: the link is dropped).
inline constexpr const char* kNoAnswer = sqlstate::kConnectionFailure;

Expected<Result> exec_timed(PGconn* c, const std::string& label, const std::string& sql,
                            std::chrono::milliseconds bound);

}  // namespace sg::rebalance
