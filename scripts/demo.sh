#!/usr/bin/env bash
# make demo: 4 local PostgreSQL shards + shardgate in front of them, then the product at work.
# Everything lives in .demo/ and keeps running afterwards; `make demo-stop` stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DEMO=$ROOT/.demo
PY=/usr/bin/python3
PGCLUSTER="$PY $ROOT/tests/harness/pgcluster.py"

stop() {
  if [ -f "$DEMO/shardgate.pid" ]; then
    kill "$(cat "$DEMO/shardgate.pid")" 2>/dev/null || true
    rm -f "$DEMO/shardgate.pid"
  fi
  if [ -f "$DEMO/cluster/cluster.json" ]; then $PGCLUSTER stop --dir "$DEMO/cluster" >/dev/null 2>&1 || true; fi
}

if [ "${1:-}" = "--stop" ]; then
  stop
  echo "demo stopped"
  exit 0
fi

BIN=${1:-build/release/shardgate}
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

stop
rm -rf "$DEMO"
mkdir -p "$DEMO"

say "Starting 4 PostgreSQL 15 shards (SCRAM authentication, role 'app')"
$PGCLUSTER start --shards 4 --dir "$DEMO/cluster" --auth scram --password demo-super --role app:app-secret

say "Writing $DEMO/shardgate.toml from configs/shardgate.toml with the shards' ports"
$PY - "$DEMO" <<'PYEOF'
import json, re, sys
demo = sys.argv[1]
cluster = json.load(open(f"{demo}/cluster/cluster.json"))
text = open("configs/shardgate.toml").read()
for i, shard in enumerate(cluster["shards"]):
    text = text.replace(f"port = {54320 + i}", f"port = {shard['port']}")
text = text.replace('port = 6432 ', 'port = 6432 ')
open(f"{demo}/shardgate.toml", "w").write(text)
PYEOF
CFG=$DEMO/shardgate.toml

say "shardgate check: the config is valid and every shard answers"
"$BIN" check -c "$CFG"

say "Starting the proxy on 127.0.0.1:6432 (log: $DEMO/shardgate.log)"
"$BIN" serve -c "$CFG" >"$DEMO/shardgate.log" 2>&1 &
echo $! >"$DEMO/shardgate.pid"
for _ in $(seq 50); do
  (echo >/dev/tcp/127.0.0.1/6432) 2>/dev/null && break
  sleep 0.1
done

export PGPASSWORD=app-secret PGCONNECT_TIMEOUT=5
APP="host=127.0.0.1 port=6432 dbname=app user=app"
ADMIN="host=127.0.0.1 port=6432 dbname=shardgate user=admin"

say "An application session through shardgate (psql, SCRAM login, transaction pooling)"
psql "$APP" -v ON_ERROR_STOP=1 -e <<'SQL'
CREATE TABLE IF NOT EXISTS notes (id bigint PRIMARY KEY, body text);
BEGIN;
INSERT INTO notes VALUES (1, 'hello'), (2, 'through shardgate');
COMMIT;
SELECT id, body FROM notes ORDER BY id;
SET application_name = 'demo';
SHOW application_name;
SQL

say "pgbench through shardgate (-S, prepared statements, 8 clients, 5 s)"
pgbench -q -i -s 2 "$APP" >/dev/null 2>&1
pgbench -n -S -M prepared -c 8 -j 2 -T 5 "$APP" 2>/dev/null | grep -E "^(tps|latency average|number of failed)"

say "The admin console (psql to database 'shardgate' as an admin user)"
PGPASSWORD=admin-secret psql "$ADMIN" -c "SHOW POOLS" -c "SHOW SERVERS" -c "SHOW STATS"

say "Done. The cluster and the proxy keep running:"
echo "  psql \"$APP\"            (password app-secret)"
echo "  psql \"$ADMIN\"    (password admin-secret)"
echo "  make demo-stop      stops everything"
