#!/usr/bin/env bash
# proxy/wire is the sans-io protocol layer (its own CMake target, sg_wire): it may include only
# its own headers, the C++ standard library and the two standard-library-only vocabulary headers
# of common/ (expected.h, sqlstate.h) — no Asio, no OpenSSL, no other layer — so that it builds
# and is tested alone. Prints every include that breaks that and exits 1.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bad=$(grep -rn --include='*.h' --include='*.cpp' -E '^\s*#\s*include' "$root/proxy/wire" |
      grep -v -E '#\s*include\s*"proxy/wire/' |
      grep -v -E '#\s*include\s*"common/(expected|sqlstate)\.h"' |
      grep -v -E '#\s*include\s*<[a-z_]+>' || true)
if [ -n "$bad" ]; then
    echo "proxy/wire includes something besides proxy/wire, common/{expected,sqlstate}.h and the standard library:"
    echo "$bad"
    exit 1
fi
# The two common/ headers it may use must themselves stay standard-library only.
vocab=$(grep -n -E '^\s*#\s*include' "$root/common/expected.h" "$root/common/sqlstate.h" |
        grep -v -E '#\s*include\s*<[a-z_]+>' || true)
if [ -n "$vocab" ]; then
    echo "common/expected.h or common/sqlstate.h includes more than the standard library:"
    echo "$vocab"
    exit 1
fi
echo "proxy/wire: $(grep -rl --include='*.h' --include='*.cpp' . "$root/proxy/wire" | wc -l) files, only proxy/wire and standard headers"
