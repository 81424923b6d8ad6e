#!/usr/bin/env bash
# GCC 12 (Debian 12's compiler) miscompiles `co_return co_await f(...)` in coroutines whose
# result is not trivial: a release build (-O2) crashed right after such a fetch resumed
# (COPY without a column list, commit d05a8d2), while the ASan debug build that runs the tests
# was fine. The awaited value goes through a named local instead:
#     auto awaited = co_await f(...);
#     co_return awaited;
# (The same holds for co_await inside && / || / ?:, which this check cannot see reliably.)
# Prints every offending line outside comments and exits 1.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
bad=$(grep -rn --include='*.h' --include='*.cpp' -E 'co_return[[:space:]]+co_await' \
          proxy router rebalance cli common | grep -v -E '^[^:]+:[0-9]+:[[:space:]]*//' |
      grep -v -E '//.*co_return[[:space:]]+co_await' || true)
if [ -n "$bad" ]; then
    echo "co_return co_await (GCC 12 miscompiles it; use a named local):"
    echo "$bad"
    exit 1
fi
echo "no co_return co_await in proxy/ router/ rebalance/ cli/ common/"
