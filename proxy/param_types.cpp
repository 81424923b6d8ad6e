// Declared parameter types for routing: PostgreSQL compares a parameter with the shard key as
// the type the client declared (a bpchar loses its padding, a numeric is compared across
// types), so the router must know that type (router/param_keys.h).
#include "proxy/session.h"

namespace sg::proxy {
namespace {

bool reads_key_param(const router::KeyRef& k) {
    return k.source != router::KeyRef::Source::Value;
}

// Whether any shard-key value of the statement is a parameter (most statements: none).
bool uses_key_params(const router::Analysis& a) {
    for (const auto& k : a.keys)
        if (reads_key_param(k)) return true;
    for (const auto& list : a.nested_keys)
        for (const auto& k : list)
            if (reads_key_param(k)) return true;
    for (const auto& r : a.rows)
        if (reads_key_param(r.key)) return true;
    if (a.key_assignment && reads_key_param(*a.key_assignment)) return true;
    for (const auto& part : a.statements)
        if (uses_key_params(part)) return true;
    return false;
}

}  // namespace

void Session::declare_param_types(router::Params& params, const std::vector<uint32_t>* batch_types,
                                  const router::Analysis& a, std::string_view name) const {
    if (!uses_key_params(a)) return;
    wire::Parse stored;
    if (!batch_types) {
        if (!statement_parse(name, stored)) return;  // unknown statement: the shard reports it
        batch_types = &stored.param_types;
    }
    const size_t n = std::min(params.size(), batch_types->size());
    for (size_t i = 0; i < n; ++i) params[i].type_oid = (*batch_types)[i];
}

}  // namespace sg::proxy
