"""A rebalance journal is resumed only against the map it was written for (issue 22).

The issue's reproduction: a rebalance of a 1-shard cluster's map (every bucket on s0) to 5
shards fails after planning (a configured table is missing) and leaves its journal; the map
is then created afresh for 4 shards with version 1 again (here: written by hand, the shards'
stamps wiped and `shardgate init` adopting it, as after rebuilding the cluster's state).
`rebalance run` must not replay the old plan: it refuses, naming the journal's map and the
current one, and moves nothing. `rebalance abort` then ends the interrupted run cleanly.
"""

import json
import os
import subprocess
import unittest

import pgcluster
from sgfixture import Proxy, shard_conn, shard_rows
from shardgate_proc import run_shardgate

TABLES = [{"name": "items", "kind": "sharded", "shard_key": "id", "key_type": "bigint"}]
GHOST = {"name": "ghost", "kind": "sharded", "shard_key": "id", "key_type": "bigint"}
ROWS = 300


class JournalBinding(unittest.TestCase):
    def setUp(self):
        self.cluster = pgcluster.Cluster(5).start()
        self.addCleanup(self.cluster.stop)
        for i in range(5):
            c = shard_conn(self.cluster, i)
            shard_rows(c, "CREATE TABLE items (id bigint PRIMARY KEY, val text NOT NULL)")
            c.close()

    def counts(self):
        out = []
        for i in range(5):
            c = shard_conn(self.cluster, i)
            out.append(shard_rows(c, "SELECT count(*) FROM items")[0][0])
            c.close()
        return out

    def test_a_journal_is_refused_against_a_map_created_afresh(self):
        p = Proxy(self.cluster, "journal", tables=TABLES, shards=[0]).start()
        self.addCleanup(p.stop)
        c = p.connect(autocommit=True)
        with c.cursor() as cur:
            for i in range(1, ROWS + 1):
                cur.execute("INSERT INTO items VALUES (%s, %s)", (i, f"v{i}"))
        c.close()
        p.stop()
        map_path = os.path.join(os.path.dirname(p.config_path), "shardmap.json")
        journal = os.path.join(os.path.dirname(p.config_path), "rebalance.journal.json")
        # All five shards, and a configured table that exists nowhere: the run fails after
        # planning and leaves its journal.
        p.shards = None
        p.tables = TABLES + [GHOST]
        p.write_config()
        r = run_shardgate("rebalance", "run", "-c", p.config_path, timeout=300)
        self.assertNotEqual(r.returncode, 0)
        self.assertTrue(os.path.exists(journal), r.stderr)
        j = json.load(open(journal))
        self.assertEqual(j["start_version"], 1)
        self.assertTrue(j["start_hash"])
        self.assertEqual(set(j["system_ids"]), {f"s{i}" for i in range(5)})

        # The map created afresh: version 1 again, b mod 4.
        m = json.load(open(map_path))
        fresh = {"version": 1, "bucket_bits": m["bucket_bits"], "shards": ["s0", "s1", "s2", "s3"],
                 "map": [b % 4 for b in range(len(m["map"]))]}
        with open(map_path, "w") as f:
            json.dump(fresh, f)
        for i in range(5):
            c = shard_conn(self.cluster, i)
            shard_rows(c, "DROP SCHEMA IF EXISTS shardgate CASCADE")
            c.close()
        p.tables = TABLES
        p.write_config()
        r = run_shardgate("init", "-c", p.config_path)
        self.assertEqual(r.returncode, 0, r.stderr)
        p.start()

        before = self.counts()
        r = run_shardgate("rebalance", "run", "-c", p.config_path, timeout=300)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertNotIn("resuming rebalance", r.stderr)
        self.assertIn("Not resumed", r.stderr)
        self.assertIn(j["start_hash"], r.stderr)
        self.assertIn("written for map version 1", r.stderr)
        self.assertEqual(self.counts(), before, "rows moved by a refused journal")
        self.assertEqual(json.load(open(map_path))["map"], fresh["map"])

        r = run_shardgate("rebalance", "abort", "-c", p.config_path, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("rebalance aborted", r.stdout)
        self.assertFalse(os.path.exists(journal))
        st = run_shardgate("rebalance", "status", "-c", p.config_path)
        self.assertEqual(st.returncode, 0, st.stdout + st.stderr)
        self.assertEqual(self.counts(), before)


if __name__ == "__main__":
    unittest.main()
