"""Driver matrix: PHP PDO (Debian's php-cli, php-pgsql) through the proxy to 2 shards, in
transaction and session pooling, with native and with emulated prepares.
tests/clients/php/pdo_driver.php does what an application does (prepared CRUD by key,
transactions over two shards with savepoints, PDOException SQLSTATEs with the transaction
failed until rollBack, a scrollable cursor in a transaction, COPY both ways) and checks its own
answers; the rows it leaves are checked here straight on the shards. SG_TARGET=direct runs it
against one PostgreSQL."""

import json
import os
import unittest

import client_target
import driver_suite

M = None
PHP_DIR = os.path.join(driver_suite.CLIENTS, "php")


def setUpModule():
    global M
    driver_suite.require_tool("php", "php-cli php-pgsql")
    M = client_target.start_matrix("driver_php")
    unittest.addModuleCleanup(M.close)


class Cases(driver_suite.AccountsChecks):

    def run_php(self, mode):
        s0, s1 = self.T.keys_on_two_shards(3)
        out = driver_suite.run_client(
            ["php", "-d", "display_errors=stderr", "pdo_driver.php", mode], self.T, cwd=PHP_DIR,
            env={"SG_S0": ",".join(map(str, s0)), "SG_S1": ",".join(map(str, s1))})
        got = json.loads(out.strip().splitlines()[-1])
        # 4 accounts of 100, +1 +2 in the savepoint case, 2 copied of 7.
        self.assertEqual(int(got["total"]), 417)
        self.assert_accounts([(s0[0], f"o{s0[0]}", 70), (s1[0], f"o{s1[0]}", 130),
                              (s0[1], f"o{s0[1]}", 101), (s1[1], "renamed", 102),
                              (s0[2], "copied", 7), (s1[2], "copied", 7)])

    def test_native_prepares(self):
        self.run_php("native")

    def test_emulated_prepares(self):
        self.run_php("emulated")


TransactionPooling, SessionPooling = driver_suite.per_pool_mode(Cases, lambda: M)
del Cases

if __name__ == "__main__":
    unittest.main()
