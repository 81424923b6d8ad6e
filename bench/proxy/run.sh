#!/usr/bin/env bash
# Proxy benchmark (issue 3): one shard, pgbouncer and shardgate; pgbench -S with
# -M simple/extended/prepared at 8 and 64 clients against all three, interleaved.
#
#   SHARDGATE_BIN=build/release/shardgate bench/proxy/run.sh [-T SECONDS] [--help]
#
# Runs Debian's python (psycopg2 for the idle-connection measurement) with the test harness.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if [ -n "${SHARDGATE_BIN:-}" ]; then
  SHARDGATE_BIN="$(realpath "$SHARDGATE_BIN")"
  export SHARDGATE_BIN
fi
export PYTHONPATH="$root/tests/harness:$root/bench/proxy${PYTHONPATH:+:$PYTHONPATH}"
exec /usr/bin/python3 "$root/bench/proxy/bench.py" "$@"
