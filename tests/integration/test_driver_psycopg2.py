"""Driver matrix: psycopg2 (Debian's python3-psycopg2) through the proxy to 2 shards, in
transaction and session pooling: CRUD by key, transactions over both shards (commit,
rollback, a savepoint rolled back to), UniqueViolation then InFailedSqlTransaction, a
ThreadedConnectionPool of 20 with 24 threads moving money across the shards, and LISTEN /
NOTIFY with conn.notifies (also LISTEN inside a transaction: in effect at COMMIT, dropped by
ROLLBACK). SG_TARGET=direct runs the same cases against one PostgreSQL."""

import select
import threading
import time
import unittest

import psycopg2
import psycopg2.errors
import psycopg2.pool

import client_target
import driver_suite

M = None


def setUpModule():
    global M
    M = client_target.start_matrix("driver_psycopg2")
    unittest.addModuleCleanup(M.close)
    driver_suite.create_accounts(M)


class Cases(driver_suite.AccountsChecks):

    def connect(self, autocommit=False):
        c = psycopg2.connect(self.T.dsn(application_name="psycopg2-test"))
        c.autocommit = autocommit
        self.addCleanup(c.close)
        return c

    def setUp(self):
        self.empty_accounts()
        self.s0, self.s1 = self.two_shard_keys(2)

    def test_crud_and_transactions_over_two_shards(self):
        conn = self.connect()
        a, b = self.s0[0], self.s1[0]
        with conn.cursor() as cur:
            for k in self.s0 + self.s1:
                cur.execute("INSERT INTO accounts (id, owner, balance) VALUES (%s, %s, 100)",
                            (k, f"owner {k}"))
            conn.commit()
            cur.execute("UPDATE accounts SET owner = 'renamed' WHERE id = %s", (self.s1[1],))
            cur.execute("SELECT owner FROM accounts WHERE id = %s", (self.s1[1],))
            self.assertEqual(cur.fetchone(), ("renamed",))
            conn.commit()
            # Money between the shards: committed, rolled back, a savepoint rolled back to.
            cur.execute("UPDATE accounts SET balance = balance - 10 WHERE id = %s", (a,))
            cur.execute("UPDATE accounts SET balance = balance + 10 WHERE id = %s", (b,))
            conn.commit()
            cur.execute("UPDATE accounts SET balance = 0 WHERE id = %s", (a,))
            cur.execute("UPDATE accounts SET balance = 0 WHERE id = %s", (b,))
            conn.rollback()
            cur.execute("UPDATE accounts SET balance = balance + 1 WHERE id = %s", (a,))
            cur.execute("SAVEPOINT sp")
            cur.execute("UPDATE accounts SET balance = balance + 1000 WHERE id = %s", (b,))
            cur.execute("ROLLBACK TO SAVEPOINT sp")
            cur.execute("UPDATE accounts SET balance = balance - 1 WHERE id = %s", (b,))
            conn.commit()
            # A duplicate key: UniqueViolation, then the transaction is failed until ROLLBACK.
            cur.execute("UPDATE accounts SET balance = balance + 5 WHERE id = %s", (b,))
            with self.assertRaises(psycopg2.errors.UniqueViolation):
                cur.execute("INSERT INTO accounts (id, owner) VALUES (%s, 'dup')", (a,))
            with self.assertRaises(psycopg2.errors.InFailedSqlTransaction):
                cur.execute("SELECT 1")
            conn.rollback()
            cur.execute("SELECT sum(balance) FROM accounts")
            self.assertEqual(cur.fetchone(), (400,))
            conn.commit()
        self.assert_accounts([(a, f"owner {a}", 91), (self.s0[1], f"owner {self.s0[1]}", 100),
                              (b, f"owner {b}", 109), (self.s1[1], "renamed", 100)])

    def test_pool_of_20_with_24_threads(self):
        seed = self.connect(autocommit=True)
        with seed.cursor() as cur:
            for k in self.s0 + self.s1:
                cur.execute("INSERT INTO accounts (id, owner, balance) VALUES (%s, 'p', 100)", (k,))
        pool = psycopg2.pool.ThreadedConnectionPool(1, 20, self.T.dsn())
        self.addCleanup(pool.closeall)
        slots = threading.Semaphore(20)
        errors = []

        def work(n):
            try:
                for i in range(6):
                    with slots:
                        c = pool.getconn()
                        try:
                            with c.cursor() as cur:
                                amount = 1 if (n + i) % 2 else -1
                                # Rows always locked in one order (s0's, then s1's).
                                for k, d in ((self.s0[0], -amount), (self.s1[0], amount)):
                                    cur.execute("UPDATE accounts SET balance = balance + %s "
                                                "WHERE id = %s", (d, k))
                            c.commit()
                        finally:
                            pool.putconn(c)
            except Exception as e:  # reported below
                errors.append(e)
        threads = [threading.Thread(target=work, args=(n,)) for n in range(24)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])
        rows = self.shard_accounts()
        self.assertEqual(sum(r[2] for r in rows), 400)
        self.assertEqual(self.T.prepared_xacts(), [])

    def test_listen_notify(self):
        listener = self.connect(autocommit=True)
        notifier = self.connect(autocommit=True)
        with listener.cursor() as cur:
            cur.execute("LISTEN psycopg2_plain")
        listener.autocommit = False
        with listener.cursor() as cur:
            cur.execute("LISTEN psycopg2_committed")
        listener.commit()
        with listener.cursor() as cur:
            cur.execute("LISTEN psycopg2_rolled_back")
        listener.rollback()
        listener.autocommit = True
        with notifier.cursor() as cur:
            cur.execute("NOTIFY psycopg2_rolled_back, 'no'")
            cur.execute("NOTIFY psycopg2_plain, 'one'")
            notifier.autocommit = False
            cur.execute("NOTIFY psycopg2_committed, 'two'")
            notifier.commit()
            notifier.autocommit = True
            cur.execute("NOTIFY psycopg2_plain, 'sync'")
        got = []
        deadline = time.monotonic() + 10
        while ("psycopg2_plain", "sync") not in got and time.monotonic() < deadline:
            select.select([listener], [], [], 0.5)
            listener.poll()
            got += [(n.channel, n.payload) for n in listener.notifies]
            listener.notifies.clear()
        self.assertEqual(got, [("psycopg2_plain", "one"), ("psycopg2_committed", "two"),
                               ("psycopg2_plain", "sync")])


TransactionPooling, SessionPooling = driver_suite.per_pool_mode(Cases, lambda: M)
del Cases

if __name__ == "__main__":
    unittest.main()
