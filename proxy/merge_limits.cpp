// Binding a merged SELECT's LIMIT/OFFSET parameters: see proxy/merge_limits.h.
#include "proxy/merge_limits.h"

#include <fmt/format.h>

#include <optional>

#include "common/sqlstate.h"
#include "router/param_keys.h"

namespace sg::proxy {

namespace {

// A LIMIT/OFFSET parameter's bound value, as PostgreSQL reads it for a bigint: nullopt for
// NULL; on a bad value, `error` is set to (SQLSTATE, message).
std::optional<int64_t> bound_integer(const wire::Bind& b, uint32_t number,
                                     const std::vector<uint32_t>& types,
                                     std::pair<std::string, std::string>& error) {
    if (number == 0 || number > b.params.size()) {
        error = {sqlstate::kProtocolViolation,
                 fmt::format("bind message supplies {} parameters, but the statement uses ${}",
                             b.params.size(), number)};
        return std::nullopt;
    }
    const wire::Value& v = b.params[number - 1];
    if (!v) return std::nullopt;
    const auto format = b.param_format(number - 1) == wire::FormatCode::Binary
                            ? router::ParamFormat::Binary
                            : router::ParamFormat::Text;
    const uint32_t type = number <= types.size() ? types[number - 1] : 0;
    auto value = router::bigint_param(format, wire::as_chars(*v), type);
    if (!value) {
        error = {value.error().sqlstate, value.error().message};
        return std::nullopt;
    }
    return *value;
}

}  // namespace

// LIMIT $n / OFFSET $n of a combined statement: the plan with this execution's values in place
// of the parameters. False (with `error` set) when a value is not one PostgreSQL would take.
bool bind_limits(router::Analysis::MergePlan& plan, const wire::Bind& b,
                 const std::vector<uint32_t>& param_types,
                 std::pair<std::string, std::string>& error) {
    if (plan.limit_param) {
        plan.limit = bound_integer(b, plan.limit_param, param_types, error);
        if (!error.first.empty()) return false;
        if (plan.limit && *plan.limit < 0) {
            error = {sqlstate::kInvalidRowCountInLimitClause, "LIMIT must not be negative"};
            return false;
        }
    }
    if (plan.offset_param) {
        plan.offset =
            bound_integer(b, plan.offset_param, param_types, error).value_or(0);  // OFFSET NULL: 0
        if (!error.first.empty()) return false;
        if (plan.offset < 0) {
            error = {sqlstate::kInvalidRowCountInResultOffsetClause, "OFFSET must not be negative"};
            return false;
        }
    }
    plan.limit_param = plan.offset_param = 0;
    return true;
}

}  // namespace sg::proxy
