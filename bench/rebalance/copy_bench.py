#!/usr/bin/python3
"""Copy-phase throughput of `shardgate rebalance run` against a plain
`COPY ... TO STDOUT | COPY ... FROM STDIN` between the same two shards, in one run.

Two shards; ROWS rows (default 1,000,000) all on s0 under a one-shard map; the config then
lists s1 too, so the rebalance moves half the buckets (and half the rows) to s1. The plain copy
moves the whole table s0 -> s1 into a same-shaped table. Reported: rows/s and MB/s of both, the
ratio (issue 6 target: >= 0.7), and the switch pause distribution under load: while the
rebalance runs, LOAD_CLIENTS (default 4) clients read and update random rows through the proxy
(autocommit), and the slowest statement any of them saw is reported next to the pauses.

    SHARDGATE_BIN=build/shardgate [SHARDGATE_REBALANCE_BIN=...] \
        PYTHONPATH=tests/harness /usr/bin/python3 bench/rebalance/copy_bench.py [ROWS]
"""

import json
import os
import re
import subprocess
import random
import sys
import threading
import time

import pgcluster
from sgfixture import Proxy

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 and __name__ == "__main__" else 1_000_000
DDL = "CREATE TABLE items (id bigint PRIMARY KEY, val text NOT NULL, n int NOT NULL);"


class Load:
    """Clients reading and updating random rows through the proxy until stopped."""

    def __init__(self, proxy, clients, rows):
        self.proxy, self.rows, self.stop = proxy, rows, threading.Event()
        self.latencies, self.errors, self.lock = [], [], threading.Lock()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(clients)]

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(60)

    def run(self):
        conn = self.proxy.connect(autocommit=True)
        cur = conn.cursor()
        rng = random.Random()
        mine = []
        while not self.stop.is_set():
            key = rng.randint(1, self.rows)
            t0 = time.monotonic()
            try:
                if rng.random() < 0.5:
                    cur.execute("SELECT val FROM items WHERE id = %s", (key,))
                    cur.fetchall()
                else:
                    cur.execute("UPDATE items SET n = n + 1 WHERE id = %s", (key,))
            except Exception as e:   # reported, not hidden: the rebalance must cause none
                with self.lock:
                    self.errors.append(str(e).strip())
                continue
            took = time.monotonic() - t0
            mine.append(took)
            if took > 0.2 and os.environ.get("VERBOSE"):
                print(f"slow statement: {took * 1e3:.0f} ms ending at "
                      f"{time.strftime('%H:%M:%S')}.{int(time.time() * 1000) % 1000:03d}", flush=True)
        conn.close()
        with self.lock:
            self.latencies.extend(mine)


def main():
    rebalancer = os.environ.get("SHARDGATE_REBALANCE_BIN") or os.environ["SHARDGATE_BIN"]
    with pgcluster.Cluster(2) as c:
        for s in range(2):
            c.psql(s, DDL + "CREATE TABLE items_plain (LIKE items INCLUDING ALL);")
        c.psql(0, f"INSERT INTO items SELECT g, md5(g::text) || repeat('x', 40), g % 97 "
                  f"FROM generate_series(1, {ROWS}) g; ANALYZE items;")
        env0, env1 = c.env(0), c.env(1)

        tables = [{"name": "items", "kind": "sharded", "shard_key": "id", "key_type": "bigint"}]
        p = Proxy(c, "copybench", tables=tables, shards=[0]).start()   # the map: s0 only
        p.stop()
        p.shards = None                                                 # the config: s0 and s1
        p.start()
        try:
            # The same load runs through the plain copy and the rebalance, so both compete
            # with it alike.
            with Load(p, int(os.environ.get("LOAD_CLIENTS", "4")), ROWS) as load:
                time.sleep(0.5)
                # Plain COPY between the same two shards, through pipes (what an operator
                # would do).
                t0 = time.monotonic()
                out = subprocess.Popen(["psql", "-X", "-q", "-c", "COPY items TO STDOUT"],
                                       stdout=subprocess.PIPE, env=env0)
                sink = subprocess.run(["psql", "-X", "-q", "-c", "COPY items_plain FROM STDIN"],
                                      stdin=out.stdout, env=env1, capture_output=True)
                out.wait()
                plain_s = time.monotonic() - t0
                assert sink.returncode == 0, sink.stderr
                r = subprocess.run([rebalancer, "rebalance", "run", "--json", "-c", p.config_path],
                                   capture_output=True, text=True, timeout=3600)
        finally:
            p.stop()
        plain_bytes = int(c.psql(1, "SELECT sum(octet_length(t::text)) FROM "
                                    "(SELECT id, val, n FROM items_plain) t")[0][0])
        assert r.returncode == 0, r.stderr[-3000:]
        summary = json.loads(r.stdout)
        if os.environ.get("VERBOSE"):   # the rebalancer's per-switch breakdown
            print("\n".join(line for line in r.stderr.splitlines() if "progress" not in line))
        m = re.search(r"copied (\d+) of (\d+) rows", r.stderr)
        scanned = int(m.group(2)) if m else 0

    plain_rows_s = ROWS / plain_s
    plain_mb_s = plain_bytes / 1e6 / plain_s
    moved_rows_s = summary["copy_rows_per_s"]
    scan_rows_s = scanned / summary["copy_seconds"] if summary["copy_seconds"] else 0
    print(f"rows on s0: {ROWS}")
    print(f"plain COPY s0 -> s1:      {plain_rows_s:12,.0f} rows/s {plain_mb_s:8.1f} MB/s "
          f"({plain_s:.2f} s)")
    print(f"rebalance copy (moved):   {moved_rows_s:12,.0f} rows/s "
          f"{summary['copy_mb_per_s']:8.1f} MB/s ({summary['rows_copied']} rows in "
          f"{summary['copy_seconds']:.2f} s)")
    print(f"rebalance copy (scanned): {scan_rows_s:12,.0f} rows/s")
    print(f"ratio moved rows/s vs plain: {moved_rows_s / plain_rows_s:.2f}; "
          f"scanned rows/s vs plain: {scan_rows_s / plain_rows_s:.2f}")
    # 1 -> 2 equal shards: the theoretical minimum is half the rows (and half the bytes).
    print(f"moved {summary['rows_copied']} of {ROWS} rows = {summary['rows_copied'] / ROWS:.4f} "
          f"of the table; theoretical minimum 0.5000 (ratio "
          f"{summary['rows_copied'] / (ROWS / 2):.4f})")
    print(f"switches: {summary['switches']}, pause p50 {summary['pause_ms_p50']:.1f} ms, "
          f"p99 {summary['pause_ms_p99']:.1f} ms, max {summary['pause_ms_max']:.1f} ms")
    lat = sorted(load.latencies)
    if lat:
        print(f"load during the rebalance: {len(lat)} statements by {len(load.threads)} clients, "
              f"{len(load.errors)} errors; latency p50 {lat[len(lat) // 2] * 1e3:.1f} ms, "
              f"p99 {lat[int(len(lat) * 0.99)] * 1e3:.1f} ms, max {lat[-1] * 1e3:.1f} ms")
    for e in load.errors[:5]:
        print(f"  error: {e}")
    return 1 if load.errors else 0


if __name__ == "__main__":
    sys.exit(main())
