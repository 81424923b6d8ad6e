"""Issue 18: JDBC (Debian's libpostgresql-jdbc-java) transactions spanning shards, with a
savepoint, through the proxy to 4 real shards: tests/clients/java/CrossShardTxn.java commits
one transaction over 3 shards (a savepoint rolled back on the way), rolls one back, and has one
fail with a duplicate key; the shards then hold exactly the committed one's rows and no
prepared transaction. JDBC sends everything, COMMIT and SAVEPOINT included, in the extended
protocol, and its BEGIN inside the first statement's batch."""

import os
import shutil
import subprocess
import tempfile
import unittest

import pgcluster
import shardgate_proc
from sgfixture import Proxy, shard_conn, shard_rows, shard_of

N = 4
JDBC_JAR = "/usr/share/java/postgresql.jar"
SOURCE = os.path.join(os.environ.get("SHARDGATE_SOURCE", os.path.join(os.path.dirname(__file__), "..", "..")),
                      "tests", "clients", "java", "CrossShardTxn.java")
TABLES = [{"name": "items", "kind": "sharded", "shard_key": "id", "key_type": "bigint"}]


class JdbcCrossShard(unittest.TestCase):
    def setUp(self):
        self.classes = tempfile.mkdtemp(prefix="sg-jdbc-txn-")
        self.addCleanup(shutil.rmtree, self.classes, ignore_errors=True)
        r = subprocess.run(["javac", "-Xlint:all", "-Werror", "-cp", JDBC_JAR, "-d", self.classes, SOURCE],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.cluster = pgcluster.Cluster(N).start()
        self.addCleanup(self.cluster.stop)
        self.shards = [shard_conn(self.cluster, i) for i in range(N)]
        for c in self.shards:
            self.addCleanup(c.close)
            shard_rows(c, "CREATE TABLE items (id bigint PRIMARY KEY, val int NOT NULL)")
        self.proxy = Proxy(self.cluster, "txn_jdbc", tables=TABLES).start()
        self.addCleanup(self.proxy.stop)

    def test_transactions_spanning_shards(self):
        keys = []
        k = 1
        while len(keys) < N:
            if shard_of(k, "bigint", N) == len(keys):
                keys.append(k)
            k += 1
        url = (f"jdbc:postgresql://127.0.0.1:{self.proxy.port}/{self.cluster.dbname}"
               f"?user=postgres&sslmode=disable")
        r = subprocess.run(["java", "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp",
                            f"{self.classes}:{JDBC_JAR}", "CrossShardTxn", url, *map(str, keys)],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stdout.split(), ["23505", "25P02"])
        rows = sorted(row for c in self.shards for row in shard_rows(c, "SELECT id, val FROM items"))
        self.assertEqual(rows, sorted([(keys[0], 1), (keys[1], 1), (keys[3], 1)]))
        left = [g for c in self.shards for (g,) in shard_rows(c, "SELECT gid FROM pg_prepared_xacts")]
        self.assertEqual(left, [])


if __name__ == "__main__":
    unittest.main()
