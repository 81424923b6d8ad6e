"""Shard-map version fencing, the file-based default (issue 22), on real shards.

Every shard carries a stamp (shardgate.map_stamp: the version and content hash of the last map
that changed its ownership). A proxy or tool never routes by a map the shards have moved past,
and never invents a map for a cluster that has one:
- the first start of a brand-new cluster creates version 1 and stamps every shard;
- a second proxy without a map file refuses sharded statements (55000, naming the version and
  what to do); so do `shardgate route` and `shardgate rebalance`; `shardgate init` refuses too;
  `shardgate check` reports the disagreement; after the file is copied, RELOAD MAP routes;
- a proxy the rebalancer was not told about fails loudly once a rebalance moved buckets,
  instead of missing moved rows (the issue's `UPDATE 0`);
- a map file created afresh over a stamped cluster (same version, other content) is refused.
The content hash is recomputed here from the map file with python3-xxhash, independently of
the proxy's code.
"""

import json
import os
import shutil
import tempfile
import time
import unittest

import psycopg2
import xxhash

import pgcluster
from sgfixture import Proxy, bucket_of, shard_conn, shard_rows, shard_of
from shardgate_proc import run_shardgate

TABLES = [{"name": "items", "kind": "sharded", "shard_key": "id", "key_type": "bigint"},
          {"name": "countries", "kind": "reference"}]
DDL = ("CREATE TABLE items (id bigint PRIMARY KEY, val text NOT NULL); "
       "CREATE TABLE countries (code text PRIMARY KEY, label text)")
ROWS = 600


def content_hash(path):
    """xxh3-64 of "bits=B;first-last:owner;..." over runs of buckets, as 16 hex digits."""
    m = json.load(open(path))
    text, runs = f"bits={m['bucket_bits']}", []
    for b, s in enumerate(m["map"]):
        if runs and runs[-1][2] == s:
            runs[-1][1] = b
        else:
            runs.append([b, b, s])
    for first, last, s in runs:
        text += f";{first}-{last}:{m['shards'][s]}"
    return f"{xxhash.xxh3_64_intdigest(text.encode()):016x}"


def stamp(cluster, i):
    c = shard_conn(cluster, i)
    try:
        if not shard_rows(c, "SELECT to_regclass('shardgate.map_stamp') IS NOT NULL")[0][0]:
            return None
        rows = shard_rows(c, "SELECT version, content_hash FROM shardgate.map_stamp")
        return tuple(rows[0]) if rows else None
    finally:
        c.close()


class MapFence(unittest.TestCase):
    def setUp(self):
        self.cluster = pgcluster.Cluster(3).start()
        self.addCleanup(self.cluster.stop)
        for i in range(3):
            c = shard_conn(self.cluster, i)
            shard_rows(c, DDL)
            c.close()
        self.other_dir = tempfile.mkdtemp(prefix="sg-fence-")
        self.addCleanup(shutil.rmtree, self.other_dir, True)

    def proxy(self, name, map_file=None, shards=None):
        sharding = {"map_file": map_file} if map_file else None
        p = Proxy(self.cluster, name, tables=TABLES, shards=shards, sharding=sharding)
        self.addCleanup(p.stop)
        return p

    def refused(self, proxy, sql, params=None):
        """The SQLSTATE and message of `sql` through `proxy` (it must fail)."""
        c = proxy.connect(autocommit=True)
        try:
            with c.cursor() as cur:
                with self.assertRaises(psycopg2.Error, msg=sql) as e:
                    cur.execute(sql, params)
            return e.exception.pgcode, e.exception.pgerror
        finally:
            c.close()

    def load(self, proxy, ids):
        c = proxy.connect(autocommit=True)
        with c.cursor() as cur:
            for i in ids:
                cur.execute("INSERT INTO items VALUES (%s, %s)", (i, f"v{i}"))
        c.close()

    def read_all(self, proxy, ids):
        """Values read back by point reads; missing ids map to None."""
        c = proxy.connect(autocommit=True)
        out = {}
        with c.cursor() as cur:
            for i in ids:
                cur.execute("SELECT val FROM items WHERE id = %s", (i,))
                r = cur.fetchall()
                out[i] = r[0][0] if r else None
        c.close()
        return out

    def test_no_map_file_refuses_and_only_the_first_start_creates(self):
        a = self.proxy("fence-a", shards=[0, 1]).start()
        map_a = os.path.join(os.path.dirname(a.config_path), "shardmap.json")
        self.assertTrue(os.path.exists(map_a))
        h = content_hash(map_a)
        self.assertEqual(stamp(self.cluster, 0), (1, h))
        self.assertEqual(stamp(self.cluster, 1), (1, h))
        self.load(a, range(1, ROWS + 1))

        # A copy of the config without the map file: a fresh default map would differ.
        map_b = os.path.join(self.other_dir, "b-map.json")
        b = self.proxy("fence-b", map_file=map_b, shards=[0, 1]).start()
        self.assertFalse(os.path.exists(map_b), "the second proxy invented a map file")
        code, msg = self.refused(b, "SELECT val FROM items WHERE id = 1")
        self.assertEqual(code, "55000")
        self.assertIn("no shard map", msg)
        self.assertIn("version 1", msg)
        self.assertIn(map_b, msg)
        code, _ = self.refused(b, "INSERT INTO items VALUES (%s, 'x')", (ROWS + 1,))
        self.assertEqual(code, "55000")
        self.assertEqual(self.refused(b, "SELECT count(*) FROM countries")[0], "55000")
        c = b.connect(autocommit=True)
        with c.cursor() as cur:  # what does not depend on the map still works
            cur.execute("SELECT 41 + 1")
            self.assertEqual(cur.fetchall(), [(42,)])
        c.close()

        r = run_shardgate("route", "-c", b.config_path, "SELECT * FROM items WHERE id = 7")
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn("no shard map", r.stderr + r.stdout)
        r = run_shardgate("check", "-c", b.config_path)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("does NOT agree", r.stdout)
        r = run_shardgate("init", "-c", b.config_path)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("carries map version 1", r.stderr)
        self.assertFalse(os.path.exists(map_b))
        r = run_shardgate("rebalance", "plan", "-c", b.config_path)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("no shard map", r.stderr)

        # The operator copies the cluster's map: the proxy routes by it after RELOAD MAP.
        shutil.copy(map_a, map_b)
        self.assertEqual(int(b.admin("RELOAD MAP")[0]["version"]), 1)
        got = self.read_all(b, range(1, ROWS + 1))
        self.assertEqual([i for i, v in got.items() if v != f"v{i}"], [])
        r = run_shardgate("check", "-c", b.config_path)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("the map agrees with the shards", r.stdout)

    def test_a_map_created_afresh_over_a_stamped_cluster_is_refused(self):
        a = self.proxy("fresh-a", shards=[0, 1]).start()
        map_a = os.path.join(os.path.dirname(a.config_path), "shardmap.json")
        a.stop()
        # Version 1 again, but every bucket on s0: another map under the cluster's version.
        m = json.load(open(map_a))
        m["map"] = [0] * len(m["map"])
        with open(map_a, "w") as f:
            json.dump(m, f)
        a.start()
        code, msg = self.refused(a, "SELECT val FROM items WHERE id = 1")
        self.assertEqual(code, "55000")
        self.assertIn("mismatch", msg)
        self.assertIn(content_hash(map_a), msg)
        r = run_shardgate("route", "-c", a.config_path, "SELECT * FROM items WHERE id = 7")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("mismatch", r.stderr)

    def test_route_on_a_new_cluster_explains_without_creating(self):
        map_b = os.path.join(self.other_dir, "new-map.json")
        p = Proxy(self.cluster, "route-new", tables=TABLES, sharding={"map_file": map_b})
        p.write_config()
        r = run_shardgate("route", "-c", p.config_path, "SELECT * FROM items WHERE id = 7")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"s{shard_of(7, 'bigint', 3)}", r.stdout)
        self.assertFalse(os.path.exists(map_b))
        self.assertIsNone(stamp(self.cluster, 0))
        r = run_shardgate("init", "-c", p.config_path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.exists(map_b))
        for i in range(3):
            self.assertEqual(stamp(self.cluster, i), (1, content_hash(map_b)))
        r = run_shardgate("init", "-c", p.config_path)  # idempotent: adopts the file
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_a_proxy_the_rebalancer_did_not_pause_fails_loudly(self):
        # A routes for the rebalancer (its [proxy] address); B has its own copy of the map
        # file and is not told about the rebalance, as in the issue.
        a = self.proxy("stale-a", shards=[0, 1]).start()
        self.load(a, range(1, ROWS + 1))
        a.stop()
        a.shards = None
        a.start()
        map_a = os.path.join(os.path.dirname(a.config_path), "shardmap.json")
        map_b = os.path.join(self.other_dir, "b-map.json")
        shutil.copy(map_a, map_b)
        b = self.proxy("stale-b", map_file=map_b).start()
        self.assertEqual(self.read_all(b, [1, 2, 3]), {1: "v1", 2: "v2", 3: "v3"})

        r = run_shardgate("rebalance", "run", "-c", a.config_path, "--max-pause-ms", "2000",
                          timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        final = json.load(open(map_a))
        self.assertGreater(final["version"], 1)
        self.assertEqual(stamp(self.cluster, 2), (final["version"], content_hash(map_a)))

        # B never saw the new map. Within a few stamp readings it refuses instead of missing
        # moved rows or reporting UPDATE 0.
        moved = [i for i in range(1, ROWS + 1)
                 if final["shards"][final["map"][
                     bucket_of(i, "bigint")]] == "s2"]
        self.assertTrue(moved)
        time.sleep(1.0)  # a few stamp readings (every 200 ms)
        c = b.connect(autocommit=True)
        err = None
        try:
            with c.cursor() as cur:
                cur.execute("UPDATE items SET val = 'stale' WHERE id = %s", (moved[0],))
        except psycopg2.Error as e:
            err = e
        finally:
            c.close()
        self.assertIsNotNone(err, "the stale proxy kept routing by map version 1")
        self.assertEqual(err.pgcode, "55000")
        self.assertIn("stale shard map", err.pgerror)
        self.assertIn(f"version {final['version']}", err.pgerror)
        # Every row is still where A finds it.
        got = self.read_all(a, range(1, ROWS + 1))
        self.assertEqual([i for i, v in got.items() if v != f"v{i}"], [])
        # Given the current map, B routes correctly again.
        shutil.copy(map_a, map_b)
        b.admin("RELOAD MAP")
        got = self.read_all(b, range(1, ROWS + 1))
        self.assertEqual([i for i, v in got.items() if v != f"v{i}"], [])


if __name__ == "__main__":
    unittest.main()
