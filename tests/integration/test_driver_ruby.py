"""Driver matrix: Ruby pg (Debian's ruby-pg) and ActiveRecord (ruby-activerecord) through the proxy to 2 shards, in transaction
and session pooling. tests/clients/ruby/pg_driver.rb does what an application does (CRUD by
key with a named prepared statement, transactions over two shards with savepoints,
PG::UniqueViolation then ROLLBACK, a multi-row INSERT with a failing row, a cursor in a
transaction, COPY both ways, 24 threads moving money) and checks its own answers; the rows it
leaves are checked here straight on the shards. SG_TARGET=direct runs it against one
PostgreSQL."""

import json
import os
import unittest

import client_target
import driver_suite

M = None
RUBY_DIR = os.path.join(driver_suite.CLIENTS, "ruby")


def setUpModule():
    global M
    driver_suite.require_tool("ruby", "ruby ruby-pg ruby-activerecord")
    M = client_target.start_matrix("driver_ruby")
    unittest.addModuleCleanup(M.close)


class Cases(driver_suite.AccountsChecks):

    def test_ruby_pg_application(self):
        s0, s1 = self.T.keys_on_two_shards(5)
        out = driver_suite.run_client(
            ["ruby", "pg_driver.rb"], self.T, cwd=RUBY_DIR, timeout=90,
            env={"SG_S0": ",".join(map(str, s0)), "SG_S1": ",".join(map(str, s1))})
        got = json.loads(out.strip().splitlines()[-1])
        rows = self.shard_accounts()
        # 6 accounts of 100, one deleted, +1 +2 in the savepoint case, 2 copied of 7; the
        # transfers move money without making or losing any.
        self.assertEqual(got["total"], 517)
        self.assertEqual(sum(r[2] for r in rows), 517)
        self.assertEqual(sorted(r[0] for r in rows),
                         sorted([s0[0], s0[1], s1[0], s1[1], s1[2], s0[3], s1[4]]))
        self.assertEqual({r[0]: r[1] for r in rows}[s1[2]], "renamed")
        self.assertEqual(self.T.placement_errors("accounts"), [])
        self.assertEqual(self.T.prepared_xacts(), [])

    def test_activerecord_application(self):
        s0, s1 = self.T.keys_on_two_shards(2)
        out = driver_suite.run_client(
            ["ruby", "activerecord_driver.rb"], self.T, cwd=RUBY_DIR, timeout=90,
            env={"SG_S0": ",".join(map(str, s0)), "SG_S1": ",".join(map(str, s1))})
        got = json.loads(out.strip().splitlines()[-1])
        # 4 accounts of 100, +1 +2 in the savepoint case; transfers move money.
        self.assertEqual(got["total"], 403)
        rows = self.shard_accounts()
        self.assertEqual(sum(r[2] for r in rows), 403)
        self.assertEqual(sorted(r[0] for r in rows), sorted(s0 + s1))
        self.assertEqual({r[0]: r[1] for r in rows}[s1[1]], "renamed")
        self.assertEqual(self.T.placement_errors("accounts"), [])
        self.assertEqual(self.T.prepared_xacts(), [])


TransactionPooling, SessionPooling = driver_suite.per_pool_mode(Cases, lambda: M)
del Cases

if __name__ == "__main__":
    unittest.main()
