// Refusing statements that call a user-defined function reading sharded tables (see
// proxy/function_guard.h): the list of such functions comes from the default shard's catalog,
// shared by every session through the Proxy and refreshed every RiskyFunctions::kRefresh.
#include <spdlog/spdlog.h>

#include "proxy/proxy.h"
#include "proxy/session.h"
#include "proxy/table_columns.h"

namespace sg::proxy {

namespace {

std::optional<router::Error> refusal_for(std::string_view sql, const std::vector<std::string>& names) {
    const std::string f = called_function(sql, names);
    if (f.empty()) return std::nullopt;
    return router::Error{"0A000", "function " + f + "() reads sharded tables in its body, which would see only the "
                                                    "rows of the shard the statement runs on; query the tables in "
                                                    "the statement itself"};
}

}  // namespace

net::awaitable<std::optional<router::Error>> Session::risky_function_refusal(std::string_view sql) {
    RiskyFunctions& known = proxy_.risky_functions();
    // One fetch at a time; meanwhile the others use the list they have. A statement arriving
    // before any list was read waits for a fetch of its own.
    if (known.fresh(std::chrono::steady_clock::now()) || (known.loading && known.loaded))
        co_return refusal_for(sql, known.names);
    const std::string text(sql);  // `sql` may point into a buffer that changes while fetching
    known.loading = true;
    const ServerTarget& target = proxy_.pool(proxy_.config().default_shard_index(), *user_).target();
    auto fetched = co_await fetch_catalog_values(proxy_.io().get_executor(), target, "user-defined functions",
                                                 risky_functions_query(proxy_.config().tables));
    known.loading = false;
    // A default shard that cannot be reached keeps the last list (none before the first read)
    // until the next refresh: statements to the other shards keep running meanwhile, and no
    // statement waits on that shard's connect timeout more than once per kRefresh.
    if (fetched) {
        known.names = std::move(*fetched);
    } else {
        spdlog::warn("cannot read which user-defined functions read sharded tables; keeping the last list ({} "
                     "names) for {} s: {}",
                     known.names.size(), RiskyFunctions::kRefresh.count(), fetched.error().message);
    }
    known.loaded = std::chrono::steady_clock::now();
    co_return refusal_for(text, known.names);
}

}  // namespace sg::proxy
