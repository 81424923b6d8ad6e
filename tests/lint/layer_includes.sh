#!/usr/bin/env bash
# The sans-io layers build without Asio, OpenSSL, sockets or clocks, so that unit tests, tools
# and the fuzz targets use them alone (each is its own CMake target):
#   proxy/wire  (sg_wire): only proxy/wire
#   proxy/core  (sg_core): only proxy/core and proxy/wire
# Both may also use the standard library and the two standard-library-only vocabulary headers
# of common/ (expected.h, sqlstate.h). Prints every include that breaks that and exits 1.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
failed=0
# check DIR ALLOWED_REGEX: the quoted includes of DIR must match ALLOWED_REGEX.
check() {
    local dir=$1 allowed=$2 bad
    bad=$(grep -rn --include='*.h' --include='*.cpp' -E '^\s*#\s*include' "$root/$dir" |
          grep -v -E "#\s*include\s*\"($allowed)/" |
          grep -v -E '#\s*include\s*"common/(expected|sqlstate)\.h"' |
          grep -v -E '#\s*include\s*<[a-z_]+>' || true)
    if [ -n "$bad" ]; then
        echo "$dir includes something besides $allowed, common/{expected,sqlstate}.h and the standard library:"
        echo "$bad"
        failed=1
    else
        echo "$dir: $(find "$root/$dir" -name '*.h' -o -name '*.cpp' | wc -l) files, sans-io"
    fi
}
check proxy/wire 'proxy/wire'
check proxy/core 'proxy/(core|wire)'
# The two common/ headers they may use must themselves stay standard-library only.
vocab=$(grep -n -E '^\s*#\s*include' "$root/common/expected.h" "$root/common/sqlstate.h" |
        grep -v -E '#\s*include\s*<[a-z_]+>' || true)
if [ -n "$vocab" ]; then
    echo "common/expected.h or common/sqlstate.h includes more than the standard library:"
    echo "$vocab"
    failed=1
fi
exit "$failed"
