"""A proxy's switch pause lapsing before the decision (issue 22).

The rule: a switch is decided (the map's compare-and-swap to V+1) only if every proxy that
acknowledged its pause still holds it (its registration unchanged since the acknowledgement),
and a proxy whose pause bound elapses resumes the buckets on the old owner.

3-node etcd, 3 proxies, 2 loaded shards -> 3. Proxy C's [proxy] max_pause_ms is 1500 ms, which
caps its pause of every switch; A and B hold the rebalancer's lease (10 s). The rebalancer is
slowed once, right before its first decision (SHARDGATE_REBALANCE_DELAY_AT=switch-deciding:
3000:1): C's pause lapses between its acknowledgement and the decision. Writers run through
all three proxies the whole time. Checked:
- while that pause key is there, C's registration says "lapsed" and the map never moves to
  V+1; a write through C into the paused buckets succeeds then (C serves the old owner);
- the rebalancer aborts that switch (the compare on the registrations fails), retries, and
  finishes: zero lost / duplicated rows, `rebalance verify` clean, the rows written through C
  during the lapse where the final map puts them, every proxy on etcd's final version.
"""

import json
import os
import subprocess
import threading
import time
import unittest

import psycopg2

import test_rebalance as tr
from etcdcluster import range_http, start_following_proxies, start_with_pg
from sgfixture import bucket_of, shard_conn, shard_rows

tr.ROWS = 2000
PREFIX = "/shardgate/pauselapse"
BITS = 6
C_MAX_PAUSE_MS = 1500
DELAY_MS = 3000


def runs_to_set(runs):
    out = set()
    for part in filter(None, runs.split(",")):
        a, _, b = part.partition("-")
        out.update(range(int(a), int(b or a) + 1))
    return out


class Writers:
    """One thread per proxy: inserts new rows and updates its own old ones. A statement refused
    with 55000 (a proxy re-reading the map after its pause lapsed) did not run: it is retried.
    Every acknowledged write is recorded."""

    def __init__(self, proxies):
        self.proxies = proxies
        self.items = {i: f"v{i}" for i in range(1, tr.ROWS + 1)}
        self.lock = threading.Lock()
        self.errors = []
        self.refused = 0
        self.ops = 0
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(w,), daemon=True) for w in range(len(proxies))]

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(60)

    def _run(self, w):
        conn = self.proxies[w].connect(autocommit=True)
        cur = conn.cursor()
        next_id = 10_000_000 * (w + 1)
        old = [i for i in range(1, tr.ROWS + 1) if i % len(self.proxies) == w]
        seq = 0
        while not self.stop.is_set():
            seq += 1
            if seq % 2:
                key, val = next_id, f"n{next_id}"
                sql, params = "INSERT INTO items (id, val, n) VALUES (%s, %s, 1)", (key, val)
                next_id += 1
            else:
                key, val = old[seq % len(old)], f"u{w}-{seq}"
                sql, params = "UPDATE items SET val = %s WHERE id = %s", (val, key)
            for _ in range(100):
                try:
                    cur.execute(sql, params)
                    with self.lock:
                        self.items[key] = val
                        self.ops += 1
                    break
                except psycopg2.Error as e:
                    if e.pgcode == "55000":
                        self.refused += 1
                        time.sleep(0.02)
                        continue
                    self.errors.append(f"writer {w}: {e.pgcode} {e}")
                    break
        conn.close()


class PauseLapse(unittest.TestCase):
    def setUp(self):
        # (b mod 2 is the same for every bucket_bits)
        self.cluster, self.etcd = start_with_pg(self, 3, lambda c: tr.load_initial(c, 2))
        self.proxies = start_following_proxies(
            self, self.cluster, self.etcd, ("pl-a", "pl-b", "pl-c"), PREFIX, tr.TABLES, loaded=2,
            proxy={"pool_size": 4}, proxy_of={"pl-c": {"max_pause_ms": C_MAX_PAUSE_MS}},
            sharding={"bucket_bits": BITS})
        self.c = self.proxies[2]
        self.c_address = f"127.0.0.1:{self.c.port}"

    def test_lapsed_pause_blocks_the_decision(self):
        endpoint = self.etcd.endpoints()[0]
        snaps = []            # (order, C's registration, map version)
        lapsed = {}           # order id -> order, once C's registration said "lapsed" for it
        lapse_seen = threading.Event()
        stop = threading.Event()

        def poll():
            while not stop.is_set():
                try:
                    _, kvs = range_http(endpoint, PREFIX + "/")
                except OSError:
                    time.sleep(0.02)
                    continue
                if PREFIX + "/pause" in kvs:
                    order = json.loads(kvs[PREFIX + "/pause"][0])
                    regs = [json.loads(v[0]) for k, v in kvs.items() if k.startswith(PREFIX + "/proxies/")]
                    c = next((r for r in regs if r["address"] == self.c_address), None)
                    version = json.loads(kvs[PREFIX + "/map"][0])["version"]
                    snaps.append((order, c, version))
                    if c and (c.get("pause") or {}).get("id") == order["id"] and c["pause"]["state"] == "lapsed":
                        lapsed.setdefault(order["id"], order)
                        lapse_seen.set()
                time.sleep(0.003)

        probes = []           # (id, order id) written through C while that order's key existed

        def probe():
            if not lapse_seen.wait(120):
                return
            order = next(iter(lapsed.values()))
            buckets = runs_to_set(order["buckets"])
            ids = [i for i in range(2_000_000_000, 2_000_100_000) if bucket_of(i, "bigint", BITS) in buckets][:5]
            conn = self.c.connect(autocommit=True)
            cur = conn.cursor()
            for i in ids:
                deadline = time.monotonic() + 2
                while time.monotonic() < deadline:
                    try:
                        cur.execute("INSERT INTO items (id, val, n) VALUES (%s, 'probe', 1)", (i,))
                        break
                    except psycopg2.Error as e:
                        if e.pgcode != "55000":
                            raise
                        time.sleep(0.01)
                else:
                    continue
                with work.lock:
                    work.items[i] = "probe"
                _, kvs = range_http(endpoint, PREFIX + "/")
                still = PREFIX + "/pause" in kvs and json.loads(kvs[PREFIX + "/pause"][0])["id"] == order["id"]
                if still:
                    probes.append((i, order["id"]))
            conn.close()

        work = Writers(self.proxies)
        poller = threading.Thread(target=poll, daemon=True)
        prober = threading.Thread(target=probe, daemon=True)
        poller.start()
        prober.start()
        work.start()
        time.sleep(0.5)
        env = dict(os.environ, SHARDGATE_REBALANCE_DELAY_AT=f"switch-deciding:{DELAY_MS}:1")
        run = subprocess.run([tr.rebalancer_bin(), "rebalance", "run", "--json", "--max-pause-ms", "1000",
                              "-c", self.proxies[0].config_path], env=env, capture_output=True, text=True,
                             timeout=300)
        time.sleep(0.5)
        work.finish()
        lapse_seen.set()
        prober.join(30)
        stop.set()
        poller.join(10)

        self.assertEqual(run.returncode, 0, run.stdout + run.stderr[-4000:])
        self.assertIn("delayed at switch-deciding", run.stderr)
        summary = json.loads(run.stdout)
        self.assertGreaterEqual(summary["aborted_switches"], 1, summary)
        self.assertIn("pause lapsed", run.stderr)   # the abort's reason: the failed compare
        self.assertTrue(lapsed, "C's pause never lapsed while a pause key was in force")
        for oid, order in lapsed.items():
            seen = [v for o, _, v in snaps if o["id"] == oid]
            self.assertEqual(set(seen), {order["version"]},
                             f"the map moved while proxy C's pause {oid} had lapsed: {sorted(set(seen))}")
        self.assertTrue(probes, "no write through C reached the old owner while its pause had lapsed")
        with open(self.c.log_path) as f:
            self.assertIn("lapsed here", f.read())
        print(f"\nFIGURE etcd pause lapse: {summary['switches']} switches, {summary['aborted_switches']} aborted; "
              f"{len(probes)} writes through C during its lapse; {work.ops} writes, {work.refused} refused "
              f"(55000) and retried")

        self.assertEqual(work.errors, [])
        items = {}
        dup = []
        for s in range(3):
            c = shard_conn(self.cluster, s)
            for k, v in shard_rows(c, "SELECT id, val FROM items"):
                if k in items:
                    dup.append(k)
                items[k] = v
            c.close()
        lost = [k for k in work.items if items.get(k) != work.items[k]]
        extra = [k for k in items if k not in work.items]
        self.assertEqual((dup, lost[:5], extra[:5]), ([], [], []))
        v = tr.run_rebalance(self.proxies[0].config_path, "verify", "--json")
        self.assertEqual(v.returncode, 0, v.stdout[-2000:] + v.stderr[-2000:])
        final = json.loads(self.etcd.get(PREFIX + "/map"))
        self.assertIn("s2", final["shards"])
        for i, _ in probes:
            owner = final["shards"][final["map"][bucket_of(i, "bigint", BITS)]]
            c = shard_conn(self.cluster, int(owner[1:]))
            self.assertEqual(shard_rows(c, "SELECT val FROM items WHERE id = %s", (i,)), [("probe",)], (i, owner))
            c.close()
        for p in self.proxies:
            m = p.admin("SHOW MAP")[0]
            self.assertEqual(int(m["version"]), final["version"], p.name)
            self.assertEqual(m["refused"], "", p.name)
        self.assertIsNone(self.etcd.get(PREFIX + "/pause"))


if __name__ == "__main__":
    unittest.main()
