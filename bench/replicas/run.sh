#!/usr/bin/env bash
# Replica benchmark (issue 19): pgbench -S through shardgate over one primary alone vs one
# primary + one streaming standby (read_from = any), and shardgate with its health checks off,
# interleaved in one run.
#
#   SHARDGATE_BIN=build/release/shardgate bench/replicas/run.sh [-T SECONDS] [--rounds N] [--help]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if [ -n "${SHARDGATE_BIN:-}" ]; then
  SHARDGATE_BIN="$(realpath "$SHARDGATE_BIN")"
  export SHARDGATE_BIN
fi
export PYTHONPATH="$root/tests/harness:$root/bench/proxy${PYTHONPATH:+:$PYTHONPATH}"
exec /usr/bin/python3 "$root/bench/replicas/replica_bench.py" "$@"
