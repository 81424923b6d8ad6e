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
  if [ -f "$DEMO/cluster5/cluster.json" ]; then $PGCLUSTER stop --dir "$DEMO/cluster5" >/dev/null 2>&1 || true; fi
  "$ROOT/scripts/demo_etcd.sh" --stop "$DEMO/etcd"
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
# The rebalancer logs in to the shards as the admin user's server login: the shards' superuser.
text = text.replace('admin = true ', 'server_user = "postgres"\nserver_password = "demo-super"\nadmin = true ')
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

shard_port() { $PY -c "import json,sys; print(json.load(open('$DEMO/cluster/cluster.json'))['shards'][$1]['port'])"; }
per_shard() {  # per_shard "SQL": the answer of every shard, asked directly (not through the proxy)
  for i in 0 1 2 3; do
    printf '  s%s: ' "$i"
    PGPASSWORD=demo-super psql -qtAX "host=127.0.0.1 port=$(shard_port $i) dbname=app user=postgres" -c "$1"
  done
}

say "Schema through shardgate: DDL on sharded and reference tables runs on every shard"
psql "$APP" -v ON_ERROR_STOP=1 -e <<'SQL'
CREATE TABLE users (id bigint PRIMARY KEY, name text, country text);
CREATE TABLE orders (id bigint, user_id bigint, amount numeric, PRIMARY KEY (user_id, id));
CREATE TABLE countries (code text PRIMARY KEY, name text);
SQL

say "Writes are split by shard key: a multi-row INSERT, a reference-table write, a COPY of 20000 orders"
psql "$APP" -v ON_ERROR_STOP=1 -e <<'SQL'
INSERT INTO users (id, name, country) VALUES (1, 'ada', 'uk'), (2, 'alan', 'uk'), (3, 'grace', 'us'),
  (4, 'edsger', 'nl'), (5, 'barbara', 'us'), (6, 'donald', 'us'), (7, 'frances', 'us'), (8, 'leslie', 'us');
INSERT INTO countries VALUES ('uk', 'United Kingdom'), ('us', 'United States'), ('nl', 'Netherlands');
SQL
# Order ids come from the application (a sequence would repeat its values on every shard).
seq 1 20000 | awk '{ printf "%d\t%d\t%d.%02d\n", $1, ($1 % 8) + 1, $1 % 500, $1 % 100 }' |
  psql "$APP" -v ON_ERROR_STOP=1 -c "COPY orders (id, user_id, amount) FROM STDIN"

say "Where the rows landed (asking each shard directly): users, orders, and the replicated countries"
per_shard "SELECT 'users ' || count(*) || ' (ids ' || coalesce(string_agg(id::text, ',' ORDER BY id), '') || ')' FROM users"
per_shard "SELECT 'orders ' || count(*) FROM orders"
per_shard "SELECT 'countries ' || count(*) FROM countries"

say "Reads: by key to one shard, a co-located join, a fan-out that concatenates, results combined across shards (aggregates, HAVING, ORDER BY/LIMIT, DISTINCT), a co-located EXISTS subquery on every shard, an OR of keys, and a refusal"
psql "$APP" -e <<'SQL'
SELECT * FROM users WHERE id = 3;
SELECT u.name, count(*) AS orders, sum(o.amount) AS total FROM users u JOIN orders o ON o.user_id = u.id WHERE u.id = 3 GROUP BY u.name;
SELECT id, name FROM users WHERE country = 'uk';
SELECT count(*), min(id), max(id) FROM users;
SELECT country, count(*) FROM users GROUP BY country;
SELECT user_id, count(*) AS orders, avg(amount) AS mean FROM orders GROUP BY user_id HAVING sum(amount) > 622000 ORDER BY mean DESC, user_id LIMIT 3;
SELECT id, name FROM users ORDER BY id DESC LIMIT 3 OFFSET 1;
SELECT DISTINCT country FROM users;
SELECT name FROM users ORDER BY name LIMIT 3;
SELECT name FROM users ORDER BY lower(name) DESC LIMIT 3;
SELECT country, string_agg(name, ', ') AS names FROM users GROUP BY country;
SELECT u.name FROM users u WHERE EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id AND o.amount > 499.98) ORDER BY 1;
SELECT name FROM users WHERE id = 4 OR id = 7 ORDER BY name;
SELECT name FROM users ORDER BY name || country LIMIT 3;
SQL

say "shardgate route explains a decision without running it"
"$BIN" route -c "$CFG" "UPDATE users SET name = 'grace h.' WHERE id = 3"
"$BIN" route -c "$CFG" "SELECT * FROM orders WHERE user_id = ANY(\$1)" --param '{1,2,5}'

say "A transaction stays on its shard; a statement for another shard is refused and the transaction fails"
psql "$APP" -e <<'SQL'
BEGIN;
UPDATE users SET name = 'grace hopper' WHERE id = 3;
UPDATE users SET name = 'ada lovelace' WHERE id = 1;
COMMIT;
SELECT id, name FROM users WHERE id IN (1, 3);
SQL

say "pgbench -S through shardgate over 4 shards (pgbench_accounts sharded on aid, 100000 rows)"
psql "$APP" -q -c "CREATE TABLE pgbench_accounts (aid integer PRIMARY KEY, bid integer, abalance integer, filler char(84))"
seq 1 100000 | awk '{ printf "%d\t1\t0\t\n", $1 }' | psql "$APP" -q -c "COPY pgbench_accounts (aid, bid, abalance, filler) FROM STDIN"
cat >"$DEMO/select.sql" <<'PGB'
\set aid random(1, 100000)
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
PGB
pgbench -n -f "$DEMO/select.sql" -M prepared -c 8 -j 2 -T 5 "$APP" 2>/dev/null | grep -E "^(tps|latency average|number of failed)"
say "The same as simple-protocol texts: each lookup runs as a statement the proxy prepared once per server connection (prepare_lookups)"
pgbench -n -f "$DEMO/select.sql" -M simple -c 8 -j 2 -T 5 "$APP" 2>/dev/null | grep -E "^(tps|latency average|number of failed)"
PGPASSWORD=admin-secret psql "$ADMIN" -x -c "SHOW TOTALS" | grep -E "^(queries|lookups_prepared) "

say "Adding a 5th shard: start it empty, list it in the config, RELOAD (it owns no buckets yet)"
$PGCLUSTER start --shards 1 --dir "$DEMO/cluster5" --auth scram --password demo-super --role app:app-secret
P5=$($PY -c "import json; print(json.load(open('$DEMO/cluster5/cluster.json'))['shards'][0]['port'])")
printf '\n[[shards]]\nname = "s4"\nhost = "127.0.0.1"\nport = %s\n' "$P5" >>"$CFG"
PGPASSWORD=admin-secret psql "$ADMIN" -c "RELOAD"
echo "  No schema and no rows on s4: until it owns buckets, reference-table writes skip it."
psql "$APP" -v ON_ERROR_STOP=1 -e -c "INSERT INTO countries VALUES ('fr', 'France')"

say "shardgate rebalance plan: only the buckets the new shard should own move (4096/5 at most)"
"$BIN" rebalance plan -c "$CFG"

say "shardgate rebalance run, online: it copies the schema and the reference tables to s4, then its buckets; pgbench keeps reading through the proxy meanwhile"
pgbench -n -f "$DEMO/select.sql" -M prepared -c 4 -j 2 -T 20 "$APP" >"$DEMO/pgbench-during-rebalance.log" 2>&1 &
PGB=$!
if ! "$BIN" rebalance run -c "$CFG" >"$DEMO/rebalance.log" 2>&1; then
  tail -n 30 "$DEMO/rebalance.log"
  exit 1
fi
grep -E "lacks|reference tables|owns buckets now" "$DEMO/rebalance.log" || true
tail -n 8 "$DEMO/rebalance.log"
wait $PGB || true
grep -E "^(tps|number of failed)" "$DEMO/pgbench-during-rebalance.log"

say "shardgate rebalance verify: every row on the shard that owns its bucket"
"$BIN" rebalance verify -c "$CFG"
say "Rows per shard now (asking each shard directly; s4 is the new one)"
per_shard "SELECT 'users ' || count(*) || ', orders ' || (SELECT count(*) FROM orders) || ', accounts ' || (SELECT count(*) FROM pgbench_accounts) FROM users"
printf '  s4: '
PGPASSWORD=demo-super psql -qtAX "host=127.0.0.1 port=$P5 dbname=app user=postgres" -c "SELECT 'users ' || count(*) || ', orders ' || (SELECT count(*) FROM orders) || ', accounts ' || (SELECT count(*) FROM pgbench_accounts) FROM users"
say "The reference table on every shard, s4 included (copied by the rebalancer, written by the proxy since)"
psql "$APP" -v ON_ERROR_STOP=1 -e -c "UPDATE countries SET name = 'République française' WHERE code = 'fr'"
per_shard "SELECT string_agg(code || '=' || name, ', ' ORDER BY code) FROM countries"
printf '  s4: '
PGPASSWORD=demo-super psql -qtAX "host=127.0.0.1 port=$P5 dbname=app user=postgres" -c "SELECT string_agg(code || '=' || name, ', ' ORDER BY code) FROM countries"

say "The query cost report (shardgate report): what the workload cost, statement by statement"
"$BIN" report --dsn "host=127.0.0.1 port=6432 dbname=shardgate user=admin password=admin-secret" --top 8
"$BIN" report --dsn "host=127.0.0.1 port=6432 dbname=shardgate user=admin password=admin-secret" --format html >"$DEMO/report.html"
echo "  (HTML version: $DEMO/report.html)"

say "The admin console (psql to database 'shardgate' as an admin user)"
PGPASSWORD=admin-secret psql "$ADMIN" -c "SHOW SHARDS" -c "SHOW POOLS" -c "SHOW MAP" -c "SHOW STATS"

say "Several proxies through etcd (scripts/demo_etcd.sh)"
"$ROOT/scripts/demo_etcd.sh" "$BIN" "$DEMO/etcd"

say "Done. The cluster and the proxy keep running:"
echo "  psql \"$APP\"            (password app-secret)"
echo "  psql \"$ADMIN\"    (password admin-secret)"
echo "  make demo-stop      stops everything"
