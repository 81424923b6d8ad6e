#include "rebalance/context.h"

#include "router/hash.h"

namespace sg::rebalance {

int64_t SourceContext::bucket_of(const TableInfo& t,
                                 const std::optional<std::string_view>& key) const {
    if (!key) return 0;  // NULL keys live in bucket 0, as in the router
    auto k = router::canonical_from_text(t.key_type, *key);
    if (!k) return -1;
    return router::bucket_of_key(*k, bucket_bits);
}

int SourceContext::moving_target(const TableInfo& t,
                                 const std::optional<std::string_view>& key) const {
    int64_t b = bucket_of(t, key);
    return b < 0 ? -1 : target_of_bucket[static_cast<size_t>(b)];
}

std::string SourceContext::staging_ident(PGconn* c, size_t table) const {
    return quote_ident(c, tables[table].schema) + "." + quote_ident(c, staging[table]);
}

}  // namespace sg::rebalance
