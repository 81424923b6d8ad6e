// LIMIT $n / OFFSET $n of a SELECT merged across shards: the combining query (proxy/
// merge_combine.h) takes its limits as numbers, so each execution's values are bound first.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "proxy/wire/messages/extended_query.h"
#include "router/analyzer.h"

namespace sg::proxy {

// LIMIT $n / OFFSET $n of a combined statement: the plan with this execution's values in place
// of the parameters, read as the types the client declared (`param_types`, from its Parse: a
// numeric 2.5 is LIMIT 3). False (with `error` set) when a value is not one PostgreSQL would take.
bool bind_limits(router::Analysis::MergePlan& plan, const wire::Bind& b,
                 const std::vector<uint32_t>& param_types,
                 std::pair<std::string, std::string>& error);

}  // namespace sg::proxy
