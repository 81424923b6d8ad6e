// Refusing statements that call a user-defined function reading sharded tables (see
// proxy/function_guard.h): the list of such functions comes from the default shard's catalog,
// shared by every session through the Proxy and refreshed every RiskyFunctions::kRefresh.
#include <spdlog/spdlog.h>

#include <cctype>

#include "common/sqlstate.h"
#include "proxy/proxy.h"
#include "proxy/session.h"
#include "proxy/spawn.h"
#include "proxy/table_columns.h"

namespace sg::proxy {

namespace {

std::optional<router::Error> refusal_for(std::string_view sql,
                                         const std::vector<std::string>& names) {
    const std::string f = called_function(sql, names);
    if (f.empty()) return std::nullopt;
    return router::Error{sqlstate::kFeatureNotSupported,
                         "function " + f +
                             "() reads sharded tables in its body, which would see only the "
                             "rows of the shard the statement runs on; query the tables in "
                             "the statement itself"};
}

// Reads the list from the default shard into the proxy (one fetch at a time). A shard that
// cannot be reached keeps the last list (none before the first read) until the next refresh:
// statements to the other shards keep running meanwhile.
net::awaitable<void> refresh(Proxy& proxy, ServerTarget target) {
    RiskyFunctions& known = proxy.risky_functions();
    known.loading = true;
    auto fetched =
        co_await fetch_catalog_values(proxy.io().get_executor(), target, "user-defined functions",
                                      risky_functions_query(proxy.config().tables));
    known.loading = false;
    if (fetched) {
        known.names = std::move(*fetched);
    } else {
        spdlog::warn(
            "cannot read which user-defined functions read sharded tables; keeping the last list "
            "({} "
            "names) for {} s: {}",
            known.names.size(), RiskyFunctions::kRefresh.count(), fetched.error().message);
    }
    known.loaded = std::chrono::steady_clock::now();
}

}  // namespace

net::awaitable<std::optional<router::Error>> Session::risky_function_refusal(
    std::string_view sql, std::optional<bool> calls_known) {
    RiskyFunctions& known = proxy_.risky_functions();
    const bool calls = calls_known ? *calls_known : may_call_function(sql);
    if (known.fresh(std::chrono::steady_clock::now()))
        co_return calls ? refusal_for(sql, known.names) : std::nullopt;
    const ServerTarget& target =
        proxy_.pool(proxy_.config().default_shard_index(), *user_).target();
    if (known.loaded || !calls) {
        // A list read before (stale by time) serves while a new one is read in the background;
        // a statement that calls nothing only starts the first read.
        if (!known.loading)
            net::asio::co_spawn(proxy_.io(), refresh(proxy_, target),
                                LogUnhandled("function list refresh"));
        co_return calls ? refusal_for(sql, known.names) : std::nullopt;
    }
    // No list yet (first use, or dropped by DDL through the proxy): wait for one, bounded by the
    // catalog read's own timeout.
    const std::string text(sql);  // `sql` may point into a buffer that changes meanwhile
    if (!known.loading) {
        co_await refresh(proxy_, target);
    } else {
        net::asio::steady_timer pause(proxy_.io());
        const auto deadline = std::chrono::steady_clock::now() +
                              std::chrono::milliseconds(target.connect_timeout_ms) +
                              std::chrono::seconds(1);
        while (known.loading && std::chrono::steady_clock::now() < deadline) {
            pause.expires_after(std::chrono::milliseconds(5));
            co_await pause.async_wait(net::asio::use_awaitable);
        }
    }
    co_return refusal_for(text, known.names);
}

}  // namespace sg::proxy
