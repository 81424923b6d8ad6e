"""A switch's pause through etcd outlives no rebalancer (issue 22).

3-node etcd, 3 proxies following its map, 2 loaded shards and an empty third. `rebalance run`
is killed (SIGKILL, SHARDGATE_REBALANCE_CRASH_AT=switch-paused) right after every proxy
acknowledged its first switch's pause: the pause key `<prefix>/pause` is still there, under
the dead rebalancer's lease, with every registration acknowledging it ("held", its buckets).
Statements on those buckets sent through each proxy then wait; once the lease expires (within
lease_ttl_s plus etcd's expiry check) the key is gone, every proxy resumes ("resumed" in its
registration) and the statements run on the old owner: the map version did not move and each
row sits on the shard the unchanged map names.
"""

import json
import os
import subprocess
import threading
import time
import unittest

import psycopg2

import test_rebalance as tr
from etcdcluster import start_following_proxies, start_with_pg
from sgfixture import bucket_of, shard_conn, shard_rows

tr.ROWS = 3000
PREFIX = "/shardgate/pausekeys"
TTL_S = 3
BUCKET_BITS = 8


class PauseKeys(unittest.TestCase):
    def setUp(self):
        self.cluster, self.etcd = start_with_pg(self, 3, lambda c: tr.load_initial(c, 2))
        self.proxies = start_following_proxies(
            self, self.cluster, self.etcd, ("pk-a", "pk-b", "pk-c"), PREFIX, tr.TABLES, loaded=2,
            proxy={"pool_size": 4}, lease_ttl_s=TTL_S, sharding={"bucket_bits": BUCKET_BITS})
        self.config = self.proxies[0].config_path

    def registrations(self):
        return {k: json.loads(v) for k, v in self.etcd.get_prefix(PREFIX + "/proxies/").items()}

    def wait_for(self, what, cond, timeout, step=0.02):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = cond()
            if v:
                return v
            time.sleep(step)
        self.fail(f"timed out after {timeout} s waiting for {what}")

    def test_killed_rebalancer_pause_lapses(self):
        self.wait_for("3 registrations", lambda: len(self.registrations()) == 3, 5)
        before = json.loads(self.etcd.get(PREFIX + "/map"))
        env = dict(os.environ, SHARDGATE_REBALANCE_CRASH_AT="switch-paused")
        # The proxies' own pause lease is longer than the rebalancer's etcd lease, so it is the
        # key's expiry (the dead rebalancer's lease) that ends the pause here.
        run = subprocess.run([tr.rebalancer_bin(), "rebalance", "run", "--max-pause-ms", "250",
                              "--pause-lease-ms", str((TTL_S + 4) * 1000), "-c", self.config],
                             env=env, capture_output=True, text=True, timeout=120)
        killed_at = time.monotonic()
        self.assertEqual(run.returncode, -9, run.stdout + run.stderr[-3000:])
        order = json.loads(self.etcd.get(PREFIX + "/pause") or "null")
        self.assertIsNotNone(order, "the pause key is gone with the rebalancer at once")
        self.assertEqual(order["version"], before["version"])
        regs = self.registrations()
        self.assertEqual(len(regs), 3)
        for r in regs.values():
            self.assertEqual(r["pause"], {"id": order["id"], "state": "held"}, r)
        for p in self.proxies:
            pauses = p.admin("SHOW PAUSES")
            self.assertEqual(len(pauses), 1, p.name)
            self.assertIn("via etcd", pauses[0]["owner"])

        # Statements on the paused buckets, one per proxy: they wait for the pause to end.
        first = int(order["buckets"].split(",")[0].split("-")[0])
        keys, k = [], 70_000_000
        while len(keys) < len(self.proxies):
            if bucket_of(k, "bigint", BUCKET_BITS) == first:
                keys.append(k)
            k += 1
        done = {}

        def insert(p, key):
            conn = p.connect(autocommit=True)
            try:
                with conn.cursor() as cur:
                    cur.execute("INSERT INTO items (id, val, n) VALUES (%s, %s, 1)", (key, f"k{key}"))
                done[key] = ("ok", time.monotonic())
            except psycopg2.Error as e:
                done[key] = (e.pgcode or str(e), time.monotonic())
            finally:
                conn.close()

        threads = [threading.Thread(target=insert, args=(p, key), daemon=True) for p, key in zip(self.proxies, keys)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        self.assertEqual(done, {}, "a statement on a paused bucket ran while the pause key existed")
        for t in threads:
            t.join(TTL_S + 10)
        self.assertEqual(sorted(o for o, _ in done.values()), ["ok"] * 3, done)
        waited = max(t for _, t in done.values()) - killed_at
        print(f"\nFIGURE etcd pause of a killed rebalancer: held statements ran {waited:.2f} s after the kill "
              f"(lease_ttl_s {TTL_S})")
        self.assertLess(waited, TTL_S + 2.0, "the pause outlived the dead rebalancer's lease")
        self.assertIsNone(self.etcd.get(PREFIX + "/pause"))
        self.wait_for("every proxy acknowledging the end", lambda: all(
            r["pause"] == {"id": order["id"], "state": "resumed"} and r["paused_buckets"] == ""
            for r in self.registrations().values()), 5)
        # The old owner kept serving: the map did not move, each row is on the shard it names.
        after = json.loads(self.etcd.get(PREFIX + "/map"))
        self.assertEqual(after["version"], before["version"])
        owner = int(after["shards"][after["map"][first]][1:])
        for key in keys:
            found = []
            for s in range(3):
                c = shard_conn(self.cluster, s)
                found += [s for _ in shard_rows(c, "SELECT 1 FROM items WHERE id = %s", (key,))]
                c.close()
            self.assertEqual(found, [owner], key)
        for p in self.proxies:
            self.assertEqual(p.admin("SHOW PAUSES"), [], p.name)


if __name__ == "__main__":
    unittest.main()
