"""Driver matrix: psycopg 3 (Debian's python3-psycopg, python3-psycopg-pool) through the proxy
to 2 shards, in transaction and session pooling, doing what applications do: server-side
prepares (prepare_threshold=0), binary results, transactions over two shards with savepoints,
errors as psycopg.errors classes, pipeline mode and executemany batches, a ConnectionPool
with 24 threads, named (server-side) cursors in a transaction, COPY both ways.
SG_TARGET=direct runs the same cases against one PostgreSQL."""

import random
import threading
import time
import unittest

import client_target
import driver_suite

try:
    import psycopg
    import psycopg.errors
    import psycopg_pool
except ImportError as e:                    # fail with what to install, never skip
    raise RuntimeError("psycopg 3 is missing: apt-get install python3-psycopg "
                       "python3-psycopg-pool (scripts/deps.sh does)") from e

M = None


def setUpModule():
    global M
    M = client_target.start_matrix("driver_psycopg3")
    unittest.addModuleCleanup(M.close)
    # The sharded table, made by the driver through the proxy (DDL reaches every shard).
    with psycopg.connect(M.targets["transaction"].dsn(), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS accounts")
        conn.execute(client_target.ACCOUNTS_DDL)


class Cases(driver_suite.AccountsChecks):

    def connect(self, **kw):
        kw.setdefault("autocommit", True)
        return psycopg.connect(self.T.dsn(application_name="psycopg3-test"), **kw)

    def setUp(self):
        self.conn = self.connect()
        self.addCleanup(self.conn.close)
        self.empty_accounts()
        self.s0, self.s1 = self.two_shard_keys(3)

    def seed(self, rows):
        with self.conn.cursor() as cur:
            cur.executemany("INSERT INTO accounts (id, owner, balance) VALUES (%s, %s, %s)",
                            rows)

    def test_listen_notify_with_notifies(self):
        # Notifications through psycopg's notify handlers; LISTEN inside a transaction takes
        # effect at COMMIT, is dropped by a ROLLBACK.
        listener = self.connect()
        self.addCleanup(listener.close)
        listener.execute("LISTEN psycopg3_plain")
        with listener.transaction():
            listener.execute("LISTEN psycopg3_committed")
        with self.assertRaises(ZeroDivisionError):
            with listener.transaction():
                listener.execute("LISTEN psycopg3_rolled_back")
                raise ZeroDivisionError()
        self.conn.execute("NOTIFY psycopg3_rolled_back, 'no'")
        self.conn.execute("NOTIFY psycopg3_plain, 'one'")
        with self.conn.transaction():
            self.conn.execute("NOTIFY psycopg3_committed, 'two'")
        self.conn.execute("NOTIFY psycopg3_plain, 'sync'")
        # (psycopg 3.1's notifies() generator has no timeout: a handler, polled with a deadline.)
        got = []
        listener.add_notify_handler(lambda n: got.append((n.channel, n.payload)))
        deadline = time.monotonic() + 10
        while ("psycopg3_plain", "sync") not in got and time.monotonic() < deadline:
            listener.execute("SELECT 1")
            time.sleep(0.02)
        self.assertEqual(got, [("psycopg3_plain", "one"), ("psycopg3_committed", "two"),
                               ("psycopg3_plain", "sync")])

    def test_crud_by_key_with_server_prepares_and_binary_results(self):
        conn = self.connect(prepare_threshold=0)
        self.addCleanup(conn.close)
        keys = self.s0 + self.s1
        for k in keys:
            conn.execute("INSERT INTO accounts (id, owner, balance) VALUES (%s, %s, %s)",
                         (k, f"owner {k}", k * 10))
        for binary in (False, True):
            with conn.cursor(binary=binary) as cur:
                for k in keys:
                    cur.execute("SELECT id, owner, balance FROM accounts WHERE id = %s", (k,))
                    self.assertEqual(cur.fetchall(), [(k, f"owner {k}", k * 10)])
                    self.assertEqual([d.name for d in cur.description],
                                     ["id", "owner", "balance"])
                    self.assertEqual(cur.pgresult.fformat(0), 1 if binary else 0)
        # The statements were prepared on the server (prepare_threshold=0) and reused.
        cur = conn.execute("UPDATE accounts SET balance = balance + %s WHERE id = %s",
                           (5, keys[0]))
        self.assertEqual(cur.rowcount, 1)
        self.assertEqual(conn.execute("DELETE FROM accounts WHERE id = %s",
                                      (keys[-1],)).rowcount, 1)
        self.assertEqual(
            conn.execute("SELECT id FROM accounts WHERE id = ANY(%s) ORDER BY id",
                         (keys,), binary=True).fetchall(),
            [(k,) for k in sorted(keys[:-1])])
        expected = [(k, f"owner {k}", k * 10 + (5 if k == keys[0] else 0)) for k in keys[:-1]]
        self.assert_accounts(expected)

    def test_transaction_over_two_shards_commits_and_rolls_back(self):
        a, b = self.s0[0], self.s1[0]
        self.seed([(a, "a", 100), (b, "b", 100)])
        conn = self.connect(autocommit=False)
        self.addCleanup(conn.close)
        with conn.transaction():
            conn.execute("UPDATE accounts SET balance = balance - 30 WHERE id = %s", (a,))
            conn.execute("UPDATE accounts SET balance = balance + 30 WHERE id = %s", (b,))
        conn.commit()
        self.assert_accounts([(a, "a", 70), (b, "b", 130)])

        class Abort(Exception):
            pass
        with self.assertRaises(Abort):
            with conn.transaction():
                conn.execute("UPDATE accounts SET balance = 0 WHERE id = %s", (a,))
                conn.execute("INSERT INTO accounts VALUES (%s, 'new', 1)", (self.s1[1],))
                raise Abort()
        conn.commit()
        self.assert_accounts([(a, "a", 70), (b, "b", 130)])
        # The same connection goes on after the rollback.
        self.assertEqual(conn.execute("SELECT balance FROM accounts WHERE id = %s",
                                      (b,)).fetchone(), (130,))
        conn.rollback()

    def test_nested_transactions_are_savepoints_on_both_shards(self):
        conn = self.connect()
        self.addCleanup(conn.close)
        a0, a1 = self.s0[:2]
        b0, b1 = self.s1[:2]

        class Undo(Exception):
            pass
        with conn.transaction():
            conn.execute("INSERT INTO accounts VALUES (%s, 'kept', 1)", (a0,))
            with self.assertRaises(Undo), conn.transaction():       # SAVEPOINT
                conn.execute("INSERT INTO accounts VALUES (%s, 'undone', 2)", (b0,))
                conn.execute("UPDATE accounts SET balance = 99 WHERE id = %s", (a0,))
                raise Undo()                                        # ROLLBACK TO
            with conn.transaction():                                # RELEASE
                conn.execute("INSERT INTO accounts VALUES (%s, 'kept', 3)", (b1,))
            conn.execute("INSERT INTO accounts VALUES (%s, 'kept', 4)", (a1,))
        self.assert_accounts([(a0, "kept", 1), (b1, "kept", 3), (a1, "kept", 4)])

    def test_unique_violation_then_the_connection_goes_on(self):
        a, b = self.s0[0], self.s1[0]
        self.seed([(a, "a", 1), (b, "b", 1)])
        conn = self.connect(autocommit=False)
        self.addCleanup(conn.close)
        conn.execute("UPDATE accounts SET balance = 2 WHERE id = %s", (a,))
        with self.assertRaises(psycopg.errors.UniqueViolation) as e:
            conn.execute("INSERT INTO accounts VALUES (%s, 'dup', 0)", (b,))
        self.assertEqual(e.exception.sqlstate, "23505")
        self.assertEqual(e.exception.diag.constraint_name, "accounts_pkey")
        with self.assertRaises(psycopg.errors.InFailedSqlTransaction):
            conn.execute("SELECT 1")
        conn.rollback()
        self.assert_accounts([(a, "a", 1), (b, "b", 1)])
        # autocommit: the failed statement alone is lost.
        conn.autocommit = True
        with self.assertRaises(psycopg.errors.UniqueViolation):
            conn.execute("INSERT INTO accounts VALUES (%s, 'dup', 0)", (a,))
        conn.execute("UPDATE accounts SET balance = 5 WHERE id = %s", (b,))
        self.assert_accounts([(a, "a", 1), (b, "b", 5)])

    def test_pipeline_batch_over_two_shards_with_a_failing_row_applies_nothing(self):
        a, b = self.s0[0], self.s1[0]
        self.seed([(b, "b", 1)])
        rows = [(a, "new a", 10), (self.s1[1], "new s1", 11), (self.s0[1], "new s0", 12),
                (b, "duplicate", 13), (self.s0[2], "after", 14)]
        with self.assertRaises(psycopg.errors.UniqueViolation):
            with self.conn.pipeline(), self.conn.cursor() as cur:
                cur.executemany("INSERT INTO accounts VALUES (%s, %s, %s)", rows)
        self.assert_accounts([(b, "b", 1)])
        # Without the explicit pipeline (psycopg 3.1 pipelines executemany itself).
        with self.assertRaises(psycopg.errors.UniqueViolation):
            with self.conn.cursor() as cur:
                cur.executemany("INSERT INTO accounts VALUES (%s, %s, %s)", rows)
        self.assert_accounts([(b, "b", 1)])
        # And a batch that succeeds lands every row on its shard.
        good = [r for r in rows if r[0] != b]
        with self.conn.pipeline():
            self.conn.cursor().executemany("INSERT INTO accounts VALUES (%s, %s, %s)", good)
            one = self.conn.execute("SELECT owner FROM accounts WHERE id = %s", (a,))
        self.assertEqual(one.fetchone(), ("new a",))
        self.assertEqual(self.conn.execute("SELECT count(*) FROM accounts").fetchone(),
                         (len(good) + 1,))
        self.assert_accounts(good + [(b, "b", 1)])

    def test_pipeline_inside_a_transaction_with_results(self):
        conn = self.connect(autocommit=False)
        self.addCleanup(conn.close)
        a, b = self.s0[0], self.s1[0]
        with conn.pipeline():
            c1 = conn.execute("INSERT INTO accounts VALUES (%s, 'a', 5) RETURNING id", (a,))
            c2 = conn.execute("INSERT INTO accounts VALUES (%s, 'b', 7) RETURNING id", (b,))
            c3 = conn.execute("SELECT balance FROM accounts WHERE id = %s", (a,))
        self.assertEqual((c1.fetchone(), c2.fetchone(), c3.fetchone()), ((a,), (b,), (5,)))
        conn.commit()
        self.assert_accounts([(a, "a", 5), (b, "b", 7)])

        # Expected refusal: the COMMIT in the same pipeline (before one Sync) as statements on
        # both shards is refused with 0A000 (it would reach one participant behind the
        # two-phase commit); the transaction then rolls back, nothing is half committed.
        def commit_in_pipeline():
            with conn.pipeline():
                conn.execute("UPDATE accounts SET balance = 50 WHERE id = %s", (a,))
                conn.execute("UPDATE accounts SET balance = 70 WHERE id = %s", (b,))
                conn.commit()
        self.expect_refusal(commit_in_pipeline, "include transaction control",
                            psycopg.errors.FeatureNotSupported)
        conn.rollback()
        if self.T.mode == "direct":
            self.assert_accounts([(a, "a", 50), (b, "b", 70)])
        else:
            self.assert_accounts([(a, "a", 5), (b, "b", 7)])
        # After the pipeline a statement on both shards is merged as usual.
        self.assertEqual(int(conn.execute("SELECT sum(balance) FROM accounts").fetchone()[0]),
                         120 if self.T.mode == "direct" else 12)
        conn.rollback()

    def test_expected_refusal_statement_on_two_shards_inside_a_pipeline(self):
        # Expected refusal: a statement needing several shards (a merge, a fan-out) batched
        # with other statements before one Sync is refused with 0A000; alone before its Sync
        # (outside a pipeline, or as the pipeline's only statement) it is answered.
        a, b = self.s0[0], self.s1[0]
        self.seed([(a, "a", 5), (b, "b", 7)])

        def run():
            with self.conn.pipeline():
                one = self.conn.execute("SELECT balance FROM accounts WHERE id = %s", (a,))
                both = self.conn.execute("SELECT sum(balance) FROM accounts")
            return one.fetchone(), both.fetchone()
        got = self.expect_refusal(run, "alone before its Sync", psycopg.errors.FeatureNotSupported)
        if got is not None:
            self.assertEqual(got, ((5,), (12,)))
        # The connection is usable again.
        self.assertEqual(self.conn.execute("SELECT sum(balance) FROM accounts").fetchone(),
                         (12,))

    def test_connection_pool_with_24_threads_moving_money_across_shards(self):
        keys = self.s0 + self.s1
        self.seed([(k, f"o{k}", 1000) for k in keys])
        errors = []
        with psycopg_pool.ConnectionPool(self.T.dsn(), min_size=4, max_size=20, timeout=30,
                                         kwargs={"autocommit": False}) as pool:
            def work(seed):
                rnd = random.Random(seed)
                try:
                    for _ in range(3):
                        src, dst = rnd.choice(self.s0), rnd.choice(self.s1)
                        amount = rnd.randint(-20, 20)
                        # Rows locked in key order, as applications avoid deadlocks (one
                        # that spans shards is detected by no PostgreSQL).
                        moves = sorted([(src, -amount), (dst, amount)])
                        with pool.connection() as c, c.transaction():
                            for key, delta in moves:
                                c.execute("UPDATE accounts SET balance = balance + %s "
                                          "WHERE id = %s", (delta, key))
                except Exception as e:              # reported by the main thread
                    errors.append(repr(e))
            threads = [threading.Thread(target=work, args=(i,)) for i in range(24)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(120)
        self.assertEqual(errors, [])
        rows = self.shard_accounts()
        self.assertEqual(sum(r[2] for r in rows), 1000 * len(keys))
        self.assertNotEqual([r[2] for r in rows], [1000] * len(keys))
        self.assertEqual(self.T.prepared_xacts(), [])

    def test_named_cursor_inside_a_transaction(self):
        rows = [(k, f"o{k}", k) for k in self.s0 + self.s1]
        self.seed(rows)
        conn = self.connect(autocommit=False)
        self.addCleanup(conn.close)
        with conn.transaction():
            conn.execute("UPDATE accounts SET balance = balance + 1 WHERE id = %s",
                         (self.s1[0],))
            with conn.cursor(name="by_key") as cur:
                cur.itersize = 1
                cur.execute("SELECT id, balance FROM accounts WHERE id = ANY(%s) ORDER BY id",
                            (self.s1,))
                self.assertEqual(list(cur), sorted((k, k + (k == self.s1[0])) for k in self.s1))
            # A key on the other shard in the same transaction: it spans both shards.
            conn.execute("UPDATE accounts SET balance = balance + 1 WHERE id = %s",
                         (self.s0[0],))
            with conn.cursor(name="on_s0", scrollable=True) as cur:
                cur.execute("SELECT id, balance FROM accounts WHERE id = %s", (self.s0[0],))
                self.assertEqual(cur.fetchone(), (self.s0[0], self.s0[0] + 1))
                cur.scroll(0, mode="absolute")
                self.assertEqual(cur.fetchone(), (self.s0[0], self.s0[0] + 1))
        expected = sorted((k, o, b + (k in (self.s0[0], self.s1[0]))) for k, o, b in rows)
        self.assert_accounts(expected)

    def test_expected_refusal_named_cursor_over_both_shards(self):
        # Expected refusal: DECLARE CURSOR (psycopg's named cursors) over a query needing
        # several shards is refused with 0A000 naming it; the transaction then rolls back.
        self.seed([(k, "o", k) for k in self.s0 + self.s1])
        conn = self.connect(autocommit=False)
        self.addCleanup(conn.close)

        def run():
            with conn.cursor(name="all_rows") as cur:
                cur.execute("SELECT id FROM accounts ORDER BY id")
                return cur.fetchall()
        got = self.expect_refusal(run, "DECLARE CURSOR", psycopg.errors.FeatureNotSupported)
        if got is not None:
            self.assertEqual(got, [(k,) for k in sorted(self.s0 + self.s1)])
        conn.rollback()
        self.assertEqual(conn.execute("SELECT count(*) FROM accounts").fetchone(), (6,))
        conn.rollback()

    def test_copy_in_and_out_across_shards(self):
        keys = self.s0 + self.s1
        with self.conn.cursor() as cur:
            with cur.copy("COPY accounts (id, owner, balance) FROM STDIN") as copy:
                for k in keys:
                    copy.write_row((k, f"copied {k}", k))
            self.assertEqual(cur.rowcount, len(keys))
        expected = [(k, f"copied {k}", k) for k in keys]
        self.assert_accounts(expected)
        for sql in ("COPY accounts (id, owner, balance) TO STDOUT (FORMAT BINARY)",
                    "COPY (SELECT id, owner, balance FROM accounts WHERE balance > 0) "
                    "TO STDOUT (FORMAT BINARY)"):
            with self.conn.cursor() as cur:
                with cur.copy(sql) as copy:
                    copy.set_types(["int8", "text", "int8"])
                    out = list(copy.rows())
            self.assertEqual(sorted(out), sorted(expected))

        # Expected refusal: COPY (SELECT ... ORDER BY) TO over several shards (the rows
        # would need a merge) is refused with 0A000 naming it.
        def ordered():
            with self.conn.cursor() as cur:
                with cur.copy("COPY (SELECT id FROM accounts ORDER BY id) TO STDOUT") as copy:
                    return b"".join(bytes(b) for b in copy)
        got = self.expect_refusal(ordered, "COPY of ORDER BY", psycopg.errors.FeatureNotSupported)
        if got is not None:
            self.assertEqual(got, "".join(f"{k}\n" for k in sorted(keys)).encode())
        # A failing row (the key already exists on its shard) applies nothing anywhere.
        with self.assertRaises(psycopg.errors.UniqueViolation):
            with self.conn.cursor() as cur:
                with cur.copy("COPY accounts (id, owner, balance) FROM STDIN") as copy:
                    copy.write_row((10_000_001, "new", 1))
                    copy.write_row((keys[-1], "dup", 1))
        self.assert_accounts(expected)


TransactionPooling, SessionPooling = driver_suite.per_pool_mode(Cases, lambda: M)
del Cases

if __name__ == "__main__":
    unittest.main()
