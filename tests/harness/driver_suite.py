"""What every driver test of the matrix shares (tests/integration/test_driver_*.py).

One module per driver starts a 2-shard cluster with a proxy per pool mode
(client_target.start_matrix) and runs its cases once per pool mode:

    M = None
    def setUpModule():
        global M
        M = client_target.start_matrix("psycopg3")
        unittest.addModuleCleanup(M.close)

    class Cases:                          # the driver's cases, using self.T (a Target)
        ...
    TransactionPooling, SessionPooling = driver_suite.per_pool_mode(Cases, lambda: M)

The rows a driver wrote are checked straight on the shards (not through the proxy), with
their placement by the spec's hash, and no prepared transaction may be left behind.
"""

import os
import shutil
import subprocess
import unittest

import client_target

SOURCE = os.environ.get("SHARDGATE_SOURCE",
                        os.path.join(os.path.dirname(__file__), "..", ".."))
CLIENTS = os.path.join(SOURCE, "tests", "clients")


def per_pool_mode(cases, matrix):
    """Two TestCase classes running `cases` against the transaction- and the session-pooling
    proxy of `matrix()` (called at setUp, after setUpModule made it)."""
    made = []
    for pm in client_target.POOL_MODES:
        def setUp(self, pm=pm):
            self.T = matrix().targets[pm]
            self.pool_mode = pm
            base_setup = getattr(cases, "setUp", None)
            if base_setup:
                base_setup(self)
        name = "".join(w.capitalize() for w in pm.split("_")) + "Pooling"
        # __module__: unittest runs a module's setUpModule for the classes it says are its own.
        made.append(type(name, (cases, unittest.TestCase),
                         {"setUp": setUp, "__module__": cases.__module__,
                          "__qualname__": name}))
    return made


def require_tool(path_or_cmd, install):
    """Fails (never skips) with what to install when a driver's toolchain is missing."""
    ok = os.path.exists(path_or_cmd) if os.sep in path_or_cmd else shutil.which(path_or_cmd)
    if not ok:
        raise RuntimeError(f"{path_or_cmd} is missing: install {install} "
                           f"(scripts/deps.sh does)")


def run_client(cmd, T, cwd=None, timeout=60, env=None):
    """Runs a driver program against target T (PG* variables and SG_* test parameters in its
    environment); returns its stdout. A non-zero exit fails the test with its output."""
    e = T.env(SG_MODE=T.mode, SG_POOL_MODE=T.pool_mode, **(env or {}))
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=e, timeout=timeout)
    if r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} via {T.describe()} ({T.pool_mode} pooling) "
                             f"exited {r.returncode}:\n{r.stdout[-3000:]}\n{r.stderr[-6000:]}")
    return r.stdout


def create_accounts(matrix):
    """Creates `accounts` through the transaction-pooling proxy (a DDL every shard gets), for
    a module whose driver is not the one creating it."""
    import psycopg2
    T = matrix.targets["transaction"]
    conn = psycopg2.connect(T.dsn())
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS accounts")
            cur.execute(client_target.ACCOUNTS_DDL)
    finally:
        conn.close()


def sqlstate_of(exc):
    """The SQLSTATE a driver's exception carries (psycopg, psycopg2, asyncpg, SQLAlchemy)."""
    for attr in ("sqlstate", "pgcode"):
        v = getattr(exc, attr, None)
        if isinstance(v, str):
            return v
    orig = getattr(exc, "orig", None)          # SQLAlchemy wraps the driver's exception
    return sqlstate_of(orig) if orig is not None else None


class AccountsChecks:
    """Assertions on the `accounts` table straight on the shards (mixed into a TestCase that
    has self.T)."""

    def empty_accounts(self):
        """Empties accounts straight on the shards (each test starts from no rows)."""
        for i in range(self.T.n_shards):
            self.T.shard_rows(i, "DELETE FROM accounts")

    def expect_refusal(self, run, construct, error_type=Exception):
        """An expected refusal, written down: through the proxy `run()` must fail with 0A000
        naming `construct` (the test then breaks when the proxy starts answering it, to be
        moved to the supported cases); straight on PostgreSQL it must succeed (its answer is
        returned)."""
        if self.T.mode == "direct":
            return run()
        with self.assertRaises(error_type) as e:
            run()
        text = str(e.exception)
        self.assertIn("0A000", sqlstate_of(e.exception) or text, text)
        self.assertIn(construct, text)
        return None

    def shard_accounts(self):
        """[(id, owner, balance)] over every shard, sorted by id."""
        return self.T.all_rows("SELECT id, owner, balance FROM accounts")

    def assert_accounts(self, expected):
        """The shards hold exactly `expected` ([(id, owner, balance)]), each row on the shard
        its id hashes to, and no prepared transaction is left."""
        self.assertEqual(self.shard_accounts(), sorted(expected))
        self.assertEqual(self.T.placement_errors("accounts"), [])
        self.assertEqual(self.T.prepared_xacts(), [])

    def two_shard_keys(self, count=2, start=1):
        return self.T.keys_on_two_shards(count, start)
