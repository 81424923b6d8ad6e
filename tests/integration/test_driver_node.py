"""Driver matrix: postgres.js, knex, Sequelize and TypeORM (npm, tests/clients/node) through
the proxy to 2 shards, in transaction and session pooling. tests/clients/node/drivers.js does
what an application does with each (schema through the library, CRUD by key, transactions
over two shards with a savepoint, a unique violation as the library's error type, a multi-row
insert over both shards with a failing row, 24 concurrent tasks on a pool of 20; postgres.js
also a cursor in a transaction and COPY both ways) and checks its own answers; the rows it
leaves are checked here straight on the shards. SG_TARGET=direct runs it against one
PostgreSQL."""

import json
import os
import unittest

import client_target
import driver_suite

M = None
NODE_DIR = os.path.join(driver_suite.CLIENTS, "node")
LIBRARIES = ("postgres", "knex", "sequelize", "typeorm", "reflect-metadata")


def setUpModule():
    global M
    driver_suite.require_tool("node", "nodejs npm")
    for lib in LIBRARIES:
        if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", lib)):
            raise RuntimeError(f"npm package {lib} is not installed: run `npm install` in "
                               f"{NODE_DIR} (scripts/deps.sh does)")
    M = client_target.start_matrix("driver_node")
    unittest.addModuleCleanup(M.close)


class Cases(driver_suite.AccountsChecks):

    def run_library(self, library):
        s0, s1 = self.T.keys_on_two_shards(3)
        out = driver_suite.run_client(
            ["node", "drivers.js", library], self.T, cwd=NODE_DIR, timeout=90,
            env={"SG_S0": ",".join(map(str, s0)), "SG_S1": ",".join(map(str, s1))})
        total = json.loads(out.strip().splitlines()[-1])["total"]
        # 4 accounts of 100, +1 +2 in the savepoint case, 2 more of 7; transfers move money
        # without making or losing any.
        self.assertEqual(total, 417)
        rows = self.shard_accounts()
        self.assertEqual(sum(r[2] for r in rows), 417)
        self.assertEqual(sorted(r[0] for r in rows), sorted(s0 + s1))
        self.assertEqual({r[0]: r[1] for r in rows}[s1[1]], "renamed")
        self.assertEqual(self.T.placement_errors("accounts"), [])
        self.assertEqual(self.T.prepared_xacts(), [])

    def test_postgres_js(self):
        self.run_library("postgresjs")

    def test_knex(self):
        self.run_library("knex")

    def test_sequelize(self):
        self.run_library("sequelize")

    def test_typeorm(self):
        self.run_library("typeorm")


TransactionPooling, SessionPooling = driver_suite.per_pool_mode(Cases, lambda: M)
del Cases

if __name__ == "__main__":
    unittest.main()
