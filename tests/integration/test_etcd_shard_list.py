"""The shard list in etcd (issue 22): a proxy learns a new shard's address from etcd.

A 3-node etcd, 3 PostgreSQL shards, rows on the first two. The first proxy of the brand-new
cluster publishes map v1 and the shard list `<prefix>/shards` (names and endpoints, never a
password: its config gives the shards a password, which must not appear in etcd). Then:
- proxy A runs with all three shards in its config (the rebalancer uses that config);
- proxy B's config lacks s2 and gives s1 a wrong port: B follows etcd's list (the README argues
  why it follows rather than refuses), logging the difference once, and SHOW SHARDS shows
  etcd's endpoint.
While clients write and read through both proxies, `rebalance run` (2 -> 3 shards) writes s2
into the list before the first map version naming it; B learns s2 from its watch, without a
config edit, RELOAD or restart, and loads the maps that give s2 buckets. Afterwards: zero
client errors, zero lost / duplicated rows, `rebalance verify` clean, both proxies on etcd's
final version, and through B: rows of the moved buckets are read from s2, an INSERT into a moved
bucket lands on s2, an UPDATE of a moved row reports UPDATE 1, SHOW SHARDS lists s2. A RELOAD of
B's unchanged config (still without s2) keeps s2.
"""

import json
import time
import unittest

import pgcluster
import test_rebalance as tr
from etcdcluster import cluster_section, start_with_pg
from sgfixture import Proxy, bucket_of, shard_conn, shard_rows, shard_of

BITS = 6                 # 64 buckets: a 2 -> 3 run is a handful of switches
tr.ROWS = 3000
tr.FANOUT_IDS = 1000     # fan-out reads of ids nobody deletes (new ids start above ROWS)
tr.shard_of = lambda value, key_type, n: shard_of(value, key_type, n, bits=BITS)
PREFIX = "/shardgate/shardlist"
SECRET = "pw-never-in-etcd-5521"
PAUSE_MS = "1000"


class ConfigEdits(Proxy):
    """A Proxy whose written config is edited: `edit(text) -> text`."""

    def __init__(self, *a, edit=None, **kw):
        super().__init__(*a, **kw)
        self.edit = edit

    def write_config(self, **changes):
        path = super().write_config(**changes)
        if self.edit:
            with open(path) as f:
                text = f.read()
            with open(path, "w") as f:
                f.write(self.edit(text))
        return path


def with_passwords(text):
    # Every [[shards]] entry logs in with a user and password (trust auth accepts any).
    return text.replace("[[shards]]\n", f'[[shards]]\nuser = "postgres"\npassword = "{SECRET}"\n')


class EtcdShardList(unittest.TestCase):
    def setUp(self):
        self.cluster, self.etcd = start_with_pg(self, 3, lambda c: tr.load_initial(c, 2))
        section = cluster_section(self.etcd, PREFIX)
        sharding = {"bucket_bits": BITS}
        s1_port = self.cluster.shards[1].port
        self.wrong_port = pgcluster.free_port()

        def b_edit(text):
            # s1 at a port nobody listens on: etcd's list must win.
            return with_passwords(text).replace(f"port = {s1_port}\n", f"port = {self.wrong_port}\n")

        self.a = ConfigEdits(self.cluster, "sl-a", tables=tr.TABLES, shards=[0, 1], proxy={"pool_size": 6},
                             sharding={**sharding, "map_file": "sl-a.map.json"}, cluster_section=section,
                             edit=with_passwords)
        self.b = ConfigEdits(self.cluster, "sl-b", tables=tr.TABLES, shards=[0, 1], proxy={"pool_size": 6},
                             sharding={**sharding, "map_file": "sl-b.map.json"}, cluster_section=section,
                             edit=b_edit)
        for p in (self.a, self.b):
            self.addCleanup(p.stop)
        # The brand-new cluster's first proxy publishes the shard list and map v1 (2 shards).
        self.a.start()
        self.a.stop()
        self.a.shards = None      # A's config now lists s2; etcd's list does not yet
        self.a.start()
        self.b.start()

    def shard_list(self):
        return json.loads(self.etcd.get(PREFIX + "/shards"))["shards"]

    def test_proxy_learns_new_shard_from_etcd(self):
        raw = self.etcd.get(PREFIX + "/shards")
        self.assertNotIn(SECRET, raw)
        self.assertNotIn("password", raw)
        self.assertEqual([s["name"] for s in self.shard_list()], ["s0", "s1"])
        self.assertEqual(self.shard_list()[1]["port"], self.cluster.shards[1].port)

        # B follows etcd for s1 (its config's port is wrong), logged once.
        shards_b = {r["name"]: r for r in self.b.admin("SHOW SHARDS")}
        self.assertEqual(sorted(shards_b), ["s0", "s1"])
        self.assertEqual(int(shards_b["s1"]["port"]), self.cluster.shards[1].port)
        with open(self.b.log_path) as f:
            notes = [l for l in f if "shard 's1': config says" in l]
        self.assertEqual(len(notes), 1, notes)
        self.assertIn(str(self.wrong_port), notes[0])

        work = tr.Workload(RoundRobin([self.a, self.b]))
        work.start()
        time.sleep(0.5)
        run = tr.run_rebalance(self.a.config_path, "run", "--json", "--max-pause-ms", PAUSE_MS, timeout=300)
        time.sleep(0.5)
        work.finish()
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr[-4000:])
        summary = json.loads(run.stdout)
        print(f"\nFIGURE etcd shard list 2->3 shards with 2 proxies (one learning s2 from etcd): "
              f"{summary['buckets']} buckets, {summary['switches']} switches, pause p50 "
              f"{summary['pause_ms_p50']:.1f} ms, {work.ops} client statements")
        self.assertGreater(summary["buckets"], 0)
        self.assertEqual([s["name"] for s in self.shard_list()], ["s0", "s1", "s2"])
        self.assertNotIn(SECRET, self.etcd.get(PREFIX + "/shards"))

        final = json.loads(self.etcd.get(PREFIX + "/map"))
        self.assertIn("s2", final["shards"])
        for p in (self.a, self.b):
            m = p.admin("SHOW MAP")[0]
            self.assertEqual(int(m["version"]), final["version"], p.name)
            self.assertEqual(m["refused"], "", p.name)
        shards_b = {r["name"]: r for r in self.b.admin("SHOW SHARDS")}
        self.assertIn("s2", shards_b, "B does not list the shard it learned from etcd")
        self.assertEqual(int(shards_b["s2"]["port"]), self.cluster.shards[2].port)

        self.check_rows(work)
        v = tr.run_rebalance(self.a.config_path, "verify", "--json")
        self.assertEqual(v.returncode, 0, v.stdout[-2000:] + v.stderr[-2000:])

        # Through B: moved rows are read from s2, writes to moved buckets land there.
        moved = self.moved_ids(final)
        self.assertTrue(moved, "no items row lives in a bucket moved to s2")
        c = self.b.connect(autocommit=True)
        cur = c.cursor()
        for i in moved[:20]:
            cur.execute("SELECT val FROM items WHERE id = %s", (i,))
            self.assertEqual(cur.fetchall(), [(work.items[i],)], i)
        cur.execute("UPDATE items SET val = 'via-b' WHERE id = %s", (moved[0],))
        self.assertEqual(cur.statusmessage, "UPDATE 1")
        new_id = next(i for i in range(10 ** 9, 10 ** 9 + 10000) if self.owner(final, i) == "s2")
        cur.execute("INSERT INTO items (id, val, n) VALUES (%s, 'new-via-b', 1)", (new_id,))
        s2 = shard_conn(self.cluster, 2)
        self.assertEqual(shard_rows(s2, "SELECT val FROM items WHERE id IN (%s, %s) ORDER BY val",
                                    (moved[0], new_id)), [("new-via-b",), ("via-b",)])
        s2.close()

        # A RELOAD of B's unchanged file (no s2 in it) keeps the shard learned from etcd.
        self.b.admin("RELOAD")
        self.assertIn("s2", {r["name"] for r in self.b.admin("SHOW SHARDS")})
        cur.execute("SELECT val FROM items WHERE id = %s", (new_id,))
        self.assertEqual(cur.fetchall(), [("new-via-b",)])
        c.close()
        with open(self.b.log_path) as f:
            log = f.read()
        self.assertEqual(log.count("shard 's1': config says"), 1, "a difference must be logged once")
        self.assertIn("shard 's2'", log)

    def owner(self, final, key):
        return final["shards"][final["map"][bucket_of(key, "bigint", BITS)]]

    def moved_ids(self, final):
        return [i for i in range(1, tr.ROWS + 1) if self.owner(final, i) == "s2"]

    def check_rows(self, work):
        problems = []
        if work.errors:
            problems.append(f"{len(work.errors)} client errors, e.g. {work.errors[:3]}")
        if work.fanout_bad:
            problems.append(f"fan-out reads saw rows twice or missed them: {work.fanout_bad[:3]}")
        items = {}
        for s in range(3):
            c = shard_conn(self.cluster, s)
            for k, v in shard_rows(c, "SELECT id, val FROM items"):
                if k in items:
                    problems.append(f"items {k} on two shards")
                items[k] = v
            c.close()
        lost = [k for k in work.items if k not in items]
        wrong = [k for k in work.items if k in items and items[k] != work.items[k]]
        extra = [k for k in items if k not in work.items]
        if lost or wrong or extra:
            problems.append(f"items: {len(lost)} lost {lost[:3]}, {len(wrong)} wrong {wrong[:3]}, "
                            f"{len(extra)} unexpected {extra[:3]}")
        self.assertEqual(problems, [], "\n".join(problems))


class RoundRobin:
    """Looks like one proxy to tr.Workload; each connection goes to the next proxy."""

    def __init__(self, proxies):
        self._i = 0
        self._proxies = proxies

    def connect(self, **kw):
        p = self._proxies[self._i % len(self._proxies)]
        self._i += 1
        return p.connect(**kw)


if __name__ == "__main__":
    unittest.main()
