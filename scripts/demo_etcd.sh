#!/usr/bin/env bash
# make demo, part 2 (issue 22): two proxies agreeing through a one-node etcd while a shard is
# added. Three throwaway shards (the third empty), etcd on loopback, proxies p1 and p2 that
# follow the map key in etcd; `shardgate rebalance run` needs no --proxy: it switches the
# proxies registered in etcd. Both end on the new map version and find the moved rows.
#   scripts/demo_etcd.sh BIN [DIR]      run it (DIR default .demo/etcd); it keeps running
#   scripts/demo_etcd.sh --stop [DIR]   stop what it started (by the PIDs it recorded)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=/usr/bin/python3
PGCLUSTER="$PY $ROOT/tests/harness/pgcluster.py"

stop_etcd_demo() {
  local d=$1 f
  for f in "$d"/*.pid; do
    [ -f "$f" ] || continue
    kill "$(cat "$f")" 2>/dev/null || true
    rm -f "$f"
  done
  if [ -f "$d/cluster/cluster.json" ]; then $PGCLUSTER stop --dir "$d/cluster" >/dev/null 2>&1 || true; fi
}

if [ "${1:-}" = "--stop" ]; then
  stop_etcd_demo "${2:-$ROOT/.demo/etcd}"
  exit 0
fi
BIN=$(realpath "${1:-build/release/shardgate}")
D=${2:-$ROOT/.demo/etcd}
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
free_port() { $PY -c "import pgcluster; print(pgcluster.free_port())"; }
export PYTHONPATH=$ROOT/tests/harness

stop_etcd_demo "$D"
rm -rf "$D"
mkdir -p "$D"

say "etcd part: 3 PostgreSQL shards (s2 empty) and a one-node etcd on loopback"
$PGCLUSTER start --shards 3 --dir "$D/cluster" >/dev/null
SU=$($PY -c "import json; print(json.load(open('$D/cluster/cluster.json'))['superuser'])")
port_of() { $PY -c "import json; print(json.load(open('$D/cluster/cluster.json'))['shards'][$1]['port'])"; }
EP=$(free_port)
PP=$(free_port)
etcd --name demo --data-dir "$D/etcd-data" --listen-client-urls "http://127.0.0.1:$EP" \
  --advertise-client-urls "http://127.0.0.1:$EP" --listen-peer-urls "http://127.0.0.1:$PP" \
  --initial-advertise-peer-urls "http://127.0.0.1:$PP" --initial-cluster "demo=http://127.0.0.1:$PP" \
  >"$D/etcd.log" 2>&1 &
echo $! >"$D/etcd.pid"
for _ in $(seq 100); do
  ETCDCTL_API=3 etcdctl --endpoints "127.0.0.1:$EP" endpoint health >/dev/null 2>&1 && break
  sleep 0.1
done
echo "  etcd on 127.0.0.1:$EP"

# write_cfg NAME PORT NSHARDS: a proxy config following the etcd map.
write_cfg() {
  {
    printf '[proxy]\nlisten_addr = "127.0.0.1"\nport = %s\n\n' "$2"
    printf '[admin]\nhttp_listen = ""\n\n'
    # 256 buckets keep the demo's rebalance short (the default, 4096, moves 16x more groups).
    printf '[sharding]\ndatabase = "app"\nbucket_bits = 8\nmap_file = "%s/%s.map.json"\n\n' "$D" "$1"
    printf '[cluster]\netcd = ["127.0.0.1:%s"]\nprefix = "/shardgate/demo"\nlease_ttl_s = 3\netcd_timeout_ms = 500\n\n' "$EP"
    for i in $(seq 0 $(($3 - 1))); do
      printf '[[shards]]\nname = "s%s"\nhost = "127.0.0.1"\nport = %s\ndbname = "app"\n\n' "$i" "$(port_of "$i")"
    done
    printf '[[tables]]\nname = "kv"\nkind = "sharded"\nshard_key = "id"\nkey_type = "bigint"\n\n'
    printf '[[users]]\nname = "%s"\npassword = ""\nauth = "trust"\nadmin = true\n' "$SU"
  } >"$D/$1.toml"
}
P1=$(free_port)
P2=$(free_port)
start_proxy() {  # start_proxy NAME PORT
  "$BIN" serve -c "$D/$1.toml" >"$D/$1.log" 2>&1 &
  echo $! >"$D/$1.pid"
  for _ in $(seq 100); do
    (echo >"/dev/tcp/127.0.0.1/$2") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "proxy $1 did not start:"; tail -n 20 "$D/$1.log"; return 1
}
etcd_version() { "$BIN" map show -c "$D/p1.toml" >"$D/map.txt"; sed -n '1s/.*map version \([0-9]*\).*/\1/p' "$D/map.txt"; }
version() { psql -qtAX "host=127.0.0.1 port=$1 dbname=shardgate user=$SU" -c "SHOW MAP" | cut -d'|' -f1; }

say "Two proxies over s0 and s1, no map files: p1 (port $P1) publishes map v1 in etcd, p2 (port $P2) reads it"
write_cfg p1 "$P1" 2
write_cfg p2 "$P2" 2
start_proxy p1 "$P1"
start_proxy p2 "$P2"
ETCDCTL_API=3 etcdctl --endpoints "127.0.0.1:$EP" get --prefix /shardgate/demo/proxies/ --print-value-only
"$BIN" map show -c "$D/p1.toml" >"$D/map.txt"
head -n 1 "$D/map.txt"

say "1000 rows through p1, read back through p2"
psql -q "host=127.0.0.1 port=$P1 dbname=app user=$SU" -c "CREATE TABLE kv (id bigint PRIMARY KEY, v text)"
seq 1 1000 | awk '{ printf "%d\tvalue %d\n", $1, $1 }' |
  psql -q "host=127.0.0.1 port=$P1 dbname=app user=$SU" -c "COPY kv FROM STDIN"
psql -qtAX "host=127.0.0.1 port=$P2 dbname=app user=$SU" -c "SELECT '  through p2: id 1000 = ' || v FROM kv WHERE id = 1000"

say "Adding s2: both configs list it, RELOAD both; shardgate rebalance run switches the proxies registered in etcd (no --proxy)"
write_cfg p1 "$P1" 3
write_cfg p2 "$P2" 3
for p in $P1 $P2; do psql -qtAX "host=127.0.0.1 port=$p dbname=shardgate user=$SU" -c "RELOAD" >/dev/null; done
echo "  before: p1 routes by map v$(version "$P1"), p2 by v$(version "$P2")"
"$BIN" rebalance run -c "$D/p1.toml" --max-pause-ms 250 >"$D/rebalance.log" 2>&1 || { tail -n 30 "$D/rebalance.log"; exit 1; }
tail -n 1 "$D/rebalance.log"
echo "  after:  p1 routes by map v$(version "$P1"), p2 by v$(version "$P2"); etcd holds v$(etcd_version)"

say "Rows now on s2 (asked directly), found through both proxies by the new map"
ID=$(psql -qtAX "host=127.0.0.1 port=$(port_of 2) dbname=app user=$SU" -c "SELECT min(id) FROM kv")
psql -qtAX "host=127.0.0.1 port=$(port_of 2) dbname=app user=$SU" -c "SELECT '  s2 holds ' || count(*) || ' rows, e.g. id $ID'  FROM kv"
for p in $P1 $P2; do
  psql -qtAX "host=127.0.0.1 port=$p dbname=app user=$SU" -c "SELECT '  through port $p: id ' || id || ' = ' || v FROM kv WHERE id = $ID"
done
"$BIN" rebalance verify -c "$D/p1.toml" 2>>"$D/rebalance.log" | tail -n 1
echo "  (scripts/demo_etcd.sh --stop $D stops this part)"
