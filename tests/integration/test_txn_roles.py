"""Two-phase commit as a login that is not the superuser (the setup of `make demo`): the proxy's
transaction recovery logs in as the admin user's login (the superuser) and creates the decision
table shardgate.commit_decisions at startup; the application's own login must still be able to
record decisions, so its multi-shard DDL and writes commit. They failed with "permission denied
for table commit_decisions" before the recovery granted the table to every configured login."""

import faulthandler
import unittest

import pgcluster
from sgfixture import Proxy, shard_conn, shard_rows

N = 2
TABLES = [{"name": "items", "shard_key": "id", "key_type": "bigint"}]


class DecisionTableGrants(unittest.TestCase):
    def test_a_non_superuser_login_commits_across_shards(self):
        faulthandler.dump_traceback_later(180, exit=True)
        self.addCleanup(faulthandler.cancel_dump_traceback_later)
        with pgcluster.Cluster(N, roles={"app": "app-pw"}, db_owner="app") as cluster:
            users = [{"name": "postgres", "password": "", "auth": "trust", "admin": True},
                     {"name": "app", "password": "app-pw", "auth": "trust"}]
            proxy = Proxy(cluster, "txn_roles", tables=TABLES, users=users).start()
            self.addCleanup(proxy.stop)
            owners = []
            for i in range(N):
                c = shard_conn(cluster, i)
                owners += shard_rows(c, "SELECT tableowner FROM pg_tables WHERE schemaname = 'shardgate' "
                                        "AND tablename = 'commit_decisions'")
                c.close()
            # Created at startup by the superuser: the case that failed.
            self.assertEqual(owners, [("postgres",)] * N)
            conn = proxy.connect(autocommit=True, user="app", password="app-pw")
            self.addCleanup(conn.close)
            with conn.cursor() as cur:
                cur.execute("CREATE TABLE items (id bigint PRIMARY KEY, v text)")  # on both shards, 2PC
                cur.execute("INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd'), (5, 'e')")
                self.assertEqual(cur.rowcount, 5)
                cur.execute("SELECT count(*) FROM items")
                self.assertEqual(cur.fetchone(), (5,))
            per_shard = []
            for i in range(N):
                c = shard_conn(cluster, i)
                per_shard.append(shard_rows(c, "SELECT count(*) FROM items")[0][0])
                self.assertEqual(shard_rows(c, "SELECT count(*) FROM pg_prepared_xacts"), [(0,)])
                c.close()
            self.assertEqual(sum(per_shard), 5)
            self.assertTrue(all(n > 0 for n in per_shard), per_shard)  # the write spanned both


if __name__ == "__main__":
    unittest.main()
