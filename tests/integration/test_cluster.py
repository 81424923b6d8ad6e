"""The shard cluster fixture itself, and `shardgate check` against a real 4-shard cluster."""

import os
import subprocess
import sys
import tempfile
import unittest

import pgcluster
from shardgate_proc import run_shardgate

PASSWORD = "cluster-secret"


def process_tree(pid):
    """pid and all its descendants (from /proc), so a stop can be checked for leftovers."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    tree, pending = [], [pid]
    while pending:
        p = pending.pop()
        tree.append(p)
        pending.extend(children.get(p, []))
    return tree


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class ClusterLifecycleTest(unittest.TestCase):

    def check_lifecycle(self, cluster, **login):
        with cluster:
            self.assertEqual(len(cluster.shards), 4)
            self.assertEqual([s.name for s in cluster.shards], ["s0", "s1", "s2", "s3"])
            self.assertEqual(len({s.port for s in cluster.shards}), 4)
            pids = []
            for i, s in enumerate(cluster.shards):
                rows = cluster.psql(i, "SELECT current_database(), "
                                       "current_setting('port'), "
                                       "current_setting('wal_level'), "
                                       "current_setting('max_prepared_transactions'), "
                                       "current_setting('max_replication_slots'), "
                                       "current_setting('server_version_num')::int / 10000",
                                    **login)
                self.assertEqual(rows, [("app", str(s.port), "logical", "64", "20", "15")])
                self.assertTrue(os.path.isdir(s.datadir))
                pids += process_tree(s.pid)
            # A postmaster has its auxiliary processes (checkpointer, walwriter, ...).
            self.assertGreater(len(pids), 4)
            datadirs = [s.datadir for s in cluster.shards]
        self.assertEqual([p for p in pids if alive(p)], [], "postgres processes left behind")
        for d in datadirs:
            self.assertFalse(os.path.exists(d), f"{d} not removed")
        self.assertFalse(os.path.exists(cluster.workdir))

    def test_trust_cluster_starts_answers_and_stops_cleanly(self):
        self.check_lifecycle(pgcluster.Cluster(4))

    def test_scram_cluster_starts_answers_and_stops_cleanly(self):
        self.check_lifecycle(pgcluster.Cluster(4, auth="scram", password=PASSWORD))

    def test_scram_rejects_a_wrong_password(self):
        with pgcluster.Cluster(1, auth="scram", password=PASSWORD,
                               roles={"alice": "alice-pw"}) as c:
            self.assertEqual(c.psql(0, "SELECT current_user", user="alice"), [("alice",)])
            with self.assertRaisesRegex(pgcluster.ClusterError,
                                        'password authentication failed for user "alice"'):
                c.psql(0, "SELECT 1", user="alice", password="wrong")
            hba = c.psql(0, "SELECT DISTINCT auth_method FROM pg_hba_file_rules")
            self.assertEqual(hba, [("scram-sha-256",)])

    def test_a_stopped_shard_comes_back_on_its_port_with_its_data(self):
        with pgcluster.Cluster(2) as c:
            c.psql(1, "CREATE TABLE kept(v int); INSERT INTO kept VALUES (7)")
            port = c.shards[1].port
            c.stop_shard(1)
            self.assertFalse(c.shards[1].running)
            with self.assertRaises(pgcluster.ClusterError):
                c.psql(1, "SELECT 1")
            self.assertEqual(c.psql(0, "SELECT 1"), [("1",)])
            c.start_shard(1)
            self.assertEqual(c.shards[1].port, port)
            self.assertEqual(c.psql(1, "SELECT v FROM kept"), [("7",)])

    def test_cli_starts_a_detached_cluster_and_stops_it(self):
        with tempfile.TemporaryDirectory(prefix="sg-cli-") as d:
            cli = [sys.executable, pgcluster.__file__]
            r = subprocess.run(cli + ["start", "--shards", "2", "--dir", d, "--auth", "scram",
                                      "--password", PASSWORD], capture_output=True, text=True,
                               timeout=120)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("2 shard(s) running", r.stdout)
            try:
                c = pgcluster.Cluster.load(d)
                self.assertEqual(c.psql(1, "SELECT current_user"), [("postgres",)])
                status = subprocess.run(cli + ["status", "--dir", d], capture_output=True,
                                        text=True, timeout=60)
                self.assertEqual(status.returncode, 0, status.stdout)
                self.assertEqual(status.stdout.count("accepting"), 2)
                pids = [p for s in c.shards for p in process_tree(s.pid)]
            finally:
                stop = subprocess.run(cli + ["stop", "--dir", d], capture_output=True,
                                      text=True, timeout=120)
            self.assertEqual(stop.returncode, 0, stop.stderr)
            self.assertEqual([p for p in pids if alive(p)], [])
            self.assertEqual(os.listdir(d), [])


def parse_check_table(text):
    """Rows of `shardgate check`'s table as dicts keyed by its header
    (shard | address | reachable | server_version | latency_ms | error)."""
    rows, header = [], None
    for line in text.splitlines():
        if "|" not in line:
            if rows:
                break                      # the shards table ended (the map report follows)
            continue
        cells = [c.strip() for c in line.split("|")]
        if line.lstrip().startswith("|"):
            cells = cells[1:]              # a boxed table; an empty last cell is kept
        if header is None:
            if "shard" in cells and "reachable" in cells:
                header = cells
            continue
        if set("".join(cells)) <= set("-+= "):
            continue                       # a rule under the header
        rows.append(dict(zip(header, cells + [""] * (len(header) - len(cells)))))
    return header, rows


YES = {"yes", "true", "t", "ok"}
NO = {"no", "false", "f"}


class ShardgateCheckTest(unittest.TestCase):
    """`shardgate check -c FILE` reaches every shard and reports the ones it cannot."""

    @classmethod
    def setUpClass(cls):
        cls.cluster = pgcluster.Cluster(4, auth="scram", password=PASSWORD)
        cls.addClassCleanup(cls.cluster.stop)
        cls.cluster.start()
        cls.config = pgcluster.write_shardgate_config(
            os.path.join(cls.cluster.workdir, "shardgate.toml"), cls.cluster,
            proxy={"port": pgcluster.free_port()},
            shard_user="postgres", shard_password=PASSWORD)

    def run_check(self):
        r = run_shardgate("check", "-c", self.config)
        header, rows = parse_check_table(r.stdout)
        self.assertEqual(header, ["shard", "address", "reachable", "server_version",
                                  "latency_ms", "error"],
                         f"unexpected output:\n{r.stdout}\n{r.stderr}")
        return r, {row["shard"]: row for row in rows}

    def assert_reachable(self, row, shard):
        self.assertEqual(row["address"], f"{shard.host}:{shard.port}")
        self.assertIn(row["reachable"].lower(), YES, row)
        self.assertTrue(row["server_version"].startswith("15"), row)
        self.assertGreaterEqual(float(row["latency_ms"]), 0.0)
        self.assertEqual(row["error"], "")

    def test_all_shards_reachable(self):
        r, rows = self.run_check()
        self.assertEqual(r.returncode, 0, f"{r.stdout}\n{r.stderr}")
        self.assertEqual(sorted(rows), ["s0", "s1", "s2", "s3"])
        for shard in self.cluster.shards:
            self.assert_reachable(rows[shard.name], shard)

    def test_a_stopped_shard_is_reported_unreachable_with_the_reason(self):
        self.cluster.stop_shard(2)
        try:
            r, rows = self.run_check()
        finally:
            self.cluster.start_shard(2)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertEqual(sorted(rows), ["s0", "s1", "s2", "s3"])
        down = rows["s2"]
        self.assertEqual(down["address"], f"127.0.0.1:{self.cluster.shards[2].port}")
        self.assertIn(down["reachable"].lower(), NO, down)
        self.assertIn("refused", down["error"].lower(), down)
        for i in (0, 1, 3):
            self.assert_reachable(rows[f"s{i}"], self.cluster.shards[i])


if __name__ == "__main__":
    unittest.main()
