"""Issue 18: deadlocks that span shards (real PostgreSQL 15 shards, the real proxy, psycopg2).

Two transactions lock rows in opposite orders on two shards: each waits on one shard for the
other, no PostgreSQL sees the cycle, and without the proxy's detector both wait forever (or
until a lock_timeout). The proxy must break it within a bounded time: the younger transaction
gets 40P01 "deadlock detected" (what PostgreSQL answers its own deadlock victims, which
applications retry), its transaction fails until ROLLBACK, and the other one goes on and
commits. A long lock wait that is NOT a deadlock must never be cancelled. Also: a cycle over
three shards, and deadlock_timeout_ms = 0 turns the search off (the wait then ends only at the
client's lock_timeout). And a bucket switch (PAUSE BUCKETS, the rebalancer's) waits for the
transactions spanning shards that touched its buckets, as for single-shard ones.
"""

import faulthandler
import threading
import time
import unittest
import urllib.request

import psycopg2
import psycopg2.errors

import pgcluster
from sgfixture import Proxy, bucket_of, shard_conn, shard_rows, shard_of

N = 3
WATCHDOG_S = 150
TABLES = [{"name": "accounts", "kind": "sharded", "shard_key": "id", "key_type": "bigint"}]
SCHEMA = "CREATE TABLE accounts (id bigint PRIMARY KEY, balance int NOT NULL);"

cluster = None


def setUpModule():
    global cluster
    faulthandler.dump_traceback_later(WATCHDOG_S, exit=True)
    unittest.addModuleCleanup(faulthandler.cancel_dump_traceback_later)
    cluster = pgcluster.Cluster(N).start()
    unittest.addModuleCleanup(cluster.stop)


def key_on(shard, start=1):
    k = start
    while shard_of(k, "bigint", N) != shard:
        k += 1
    return k


class Statement(threading.Thread):
    """Runs one statement on `conn` in the background; `error` holds what it raised."""

    def __init__(self, conn, sql):
        super().__init__(daemon=True)
        self.conn, self.sql, self.error, self.done_at = conn, sql, None, None

    def run(self):
        try:
            with self.conn.cursor() as cur:
                cur.execute(self.sql)
        except psycopg2.Error as e:
            self.error = e
        self.done_at = time.monotonic()


class Base(unittest.TestCase):
    deadlock_timeout_ms = 300

    @classmethod
    def setUpClass(cls):
        cls.http_port = pgcluster.free_port()
        cls.proxy = Proxy(cluster, f"deadlock_{cls.deadlock_timeout_ms}", tables=TABLES,
                          admin={"http_listen": f"127.0.0.1:{cls.http_port}"},
                          extra_toml=f"[transactions]\ndeadlock_timeout_ms = {cls.deadlock_timeout_ms}\n").start()
        cls.shards = [shard_conn(cluster, i) for i in range(N)]

    @classmethod
    def tearDownClass(cls):
        for c in cls.shards:
            c.close()
        cls.proxy.stop()

    def setUp(self):
        self.keys = [key_on(s) for s in range(N)]
        self.other = [key_on(s, 1000) for s in range(N)]  # rows nobody else locks
        for i, c in enumerate(self.shards):
            mine = [k for k in self.keys + self.other if shard_of(k, "bigint", N) == i]
            shard_rows(c, "DROP TABLE IF EXISTS accounts; " + SCHEMA +
                       "INSERT INTO accounts VALUES " + ", ".join(f"({k}, 100)" for k in mine))
        self.conns = []

    def tearDown(self):
        for c in self.conns:
            try:
                c.close()
            except psycopg2.Error:
                pass
        # Nothing is left prepared or locked on any shard.
        for c in self.shards:
            self.assertEqual(shard_rows(c, "SELECT count(*) FROM pg_prepared_xacts")[0][0], 0)

    def connect(self):
        c = self.proxy.connect()
        self.conns.append(c)
        return c

    def metric(self, name):
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/metrics", timeout=10).read().decode()
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        raise AssertionError(f"{name} not in /metrics")

    @staticmethod
    def exec(conn, sql):
        with conn.cursor() as cur:
            cur.execute(sql)

    def balances(self):
        out = {}
        for c in self.shards:
            for k, b in shard_rows(c, "SELECT id, balance FROM accounts"):
                out[k] = b
        return out


    def opposite_orders(self, old, young, a, b):
        """`old` locks key a, `young` key b (on another shard); then old waits for b and young
        asks for a, closing the cycle. Returns (first, second, when second was sent)."""
        self.exec(old, f"UPDATE accounts SET balance = balance - 1 WHERE id = {a}")
        self.exec(young, f"UPDATE accounts SET balance = balance - 2 WHERE id = {b}")
        # The old transaction spans both shards first: it waits on b's shard for the young one.
        first = Statement(old, f"UPDATE accounts SET balance = balance + 1 WHERE id = {b}")
        first.start()
        time.sleep(0.3)
        self.assertTrue(first.is_alive(), "the first cross-shard update must wait for the lock")
        started = time.monotonic()
        second = Statement(young, f"UPDATE accounts SET balance = balance + 2 WHERE id = {a}")
        second.start()
        return first, second, started


class Detection(Base):

    def test_two_transactions_locking_two_shards_in_opposite_orders(self):
        a, b = self.keys[0], self.keys[1]
        before = self.metric("shardgate_txn_deadlocks_total")
        old, young = self.connect(), self.connect()
        first, second, started = self.opposite_orders(old, young, a, b)
        second.join(30)
        self.assertFalse(second.is_alive(), "the deadlock across shards was not broken within 30 s")
        # The survivor goes on before the victim's client rolls back, as in PostgreSQL (the
        # victim's locks on the other shard are released with its error).
        first.join(10)
        self.assertFalse(first.is_alive(), "the survivor still waits for the victim's locks")
        took = second.done_at - started
        print(f"FIGURE deadlock across 2 shards broken after {took * 1000:.0f} ms "
              f"(deadlock_timeout_ms = {self.deadlock_timeout_ms})")
        # The younger transaction is the victim, answered as PostgreSQL answers its own.
        self.assertIsNone(first.error, f"the older transaction must survive, got {first.error}")
        self.assertIsInstance(second.error, psycopg2.errors.DeadlockDetected)
        self.assertEqual(second.error.pgcode, "40P01")
        self.assertIn("deadlock detected", str(second.error))
        self.assertIn("across shards", second.error.diag.message_detail or "")
        # Its transaction is failed until ROLLBACK, as in PostgreSQL.
        with self.assertRaises(psycopg2.errors.InFailedSqlTransaction):
            self.exec(young, "SELECT 1")
        young.rollback()
        old.commit()
        got = self.balances()
        self.assertEqual((got[a], got[b]), (99, 101))  # only the survivor's transfer
        self.assertEqual(self.metric("shardgate_txn_deadlocks_total"), before + 1)
        # The victim's connection works again.
        self.exec(young, f"UPDATE accounts SET balance = balance + 5 WHERE id = {a}")
        young.commit()
        self.assertEqual(self.balances()[a], 104)

    def test_the_victim_resumes_from_its_savepoint(self):
        a, b = self.keys[0], self.keys[1]
        x, y = self.other[0], self.other[1]
        old, young = self.connect(), self.connect()
        self.exec(old, f"UPDATE accounts SET balance = balance - 1 WHERE id = {a}")
        # The young transaction starts on shard 1 and spans shard 0 only with its last statement.
        self.exec(young, f"UPDATE accounts SET balance = balance + 7 WHERE id = {y}")  # kept
        self.exec(young, "SAVEPOINT sp")
        self.exec(young, f"UPDATE accounts SET balance = balance - 2 WHERE id = {b}")
        first = Statement(old, f"UPDATE accounts SET balance = balance + 1 WHERE id = {b}")
        first.start()
        time.sleep(0.3)
        second = Statement(young, f"UPDATE accounts SET balance = balance + 2 WHERE id = {a}")
        second.start()
        second.join(30)
        self.assertEqual(second.error.pgcode if second.error else None, "40P01")
        first.join(10)  # b's lock was taken after the savepoint: released with the error
        self.assertFalse(first.is_alive(), "the survivor still waits for the victim's locks")
        self.assertIsNone(first.error)
        old.commit()
        self.exec(young, "ROLLBACK TO SAVEPOINT sp")
        self.exec(young, f"UPDATE accounts SET balance = balance + 3 WHERE id = {x}")
        young.commit()
        got = self.balances()
        self.assertEqual((got[a], got[b], got[x], got[y]), (99, 101, 103, 107))

    def test_a_cycle_over_three_shards(self):
        k = self.keys
        c = [self.connect() for _ in range(3)]
        for i in range(3):
            self.exec(c[i], f"UPDATE accounts SET balance = balance + 1 WHERE id = {k[i]}")
        waits = []
        for i in range(3):  # i waits for i+1's row, on shard i+1
            w = Statement(c[i], f"UPDATE accounts SET balance = balance + 10 WHERE id = {k[(i + 1) % 3]}")
            w.start()
            waits.append(w)
            time.sleep(0.2)
        waits[2].join(30)
        self.assertFalse(waits[2].is_alive(), "the three-shard deadlock was not broken within 30 s")
        self.assertEqual(waits[2].error.pgcode if waits[2].error else None, "40P01")  # the youngest
        waits[1].join(10)  # c1 waited for c2's row: released with c2's error
        self.assertFalse(waits[1].is_alive())
        self.assertIsNone(waits[1].error)
        c[1].commit()      # c0 waits for c1's row
        waits[0].join(10)
        self.assertFalse(waits[0].is_alive())
        self.assertIsNone(waits[0].error)
        c[0].commit()
        c[2].rollback()
        got = self.balances()
        # c0: +1 on k0, +10 on k1; c1: +1 on k1, +10 on k2; c2 rolled back.
        self.assertEqual((got[k[0]], got[k[1]], got[k[2]]), (101, 111, 110))

    def test_a_long_wait_that_is_no_deadlock_is_not_cancelled(self):
        a, b = self.keys[0], self.keys[1]
        before = self.metric("shardgate_txn_deadlocks_total")
        holder, waiter = self.connect(), self.connect()
        # Both span two shards; the waiter waits for the holder, who waits for nobody.
        self.exec(holder, f"UPDATE accounts SET balance = balance + 1 WHERE id = {a}")
        self.exec(holder, f"UPDATE accounts SET balance = balance + 1 WHERE id = {b}")
        self.exec(waiter, f"UPDATE accounts SET balance = balance + 1 WHERE id = {self.other[0]}")
        self.exec(waiter, f"UPDATE accounts SET balance = balance + 1 WHERE id = {self.other[1]}")
        w = Statement(waiter, f"UPDATE accounts SET balance = balance + 2 WHERE id = {a}")
        w.start()
        time.sleep(10 * self.deadlock_timeout_ms / 1000)  # many searches run meanwhile
        self.assertTrue(w.is_alive(), f"a plain lock wait was ended: {w.error}")
        holder.commit()
        w.join(10)
        self.assertIsNone(w.error)
        waiter.commit()
        self.assertEqual(self.balances()[a], 103)
        self.assertEqual(self.metric("shardgate_txn_deadlocks_total"), before)


class SwitchWaits(Base):

    def pause(self, bucket):
        return int(self.proxy.admin(f"PAUSE BUCKETS {bucket}-{bucket} TIMEOUT 5000 DRAIN 300")[0]["id"])

    def assert_pause_refused(self, bucket):
        with self.assertRaises(psycopg2.Error) as e:
            self.pause(bucket)
        self.assertEqual(e.exception.pgcode, "57014")
        self.assertIn("still hold those buckets", str(e.exception))

    def test_a_bucket_switch_waits_for_a_transaction_spanning_shards(self):
        a, b = self.keys[0], self.keys[1]
        touched = {bucket_of(a, "bigint"), bucket_of(b, "bigint")}
        untouched = next(x for x in range(4096) if x not in touched)
        t = self.connect()
        self.exec(t, f"UPDATE accounts SET balance = balance + 1 WHERE id = {a}")
        self.exec(t, f"UPDATE accounts SET balance = balance + 1 WHERE id = {b}")
        for bucket in touched:  # both shards' buckets, not only the last statement's
            self.assert_pause_refused(bucket)
        self.proxy.admin(f"RESUME BUCKETS ID {self.pause(untouched)}")
        t.commit()
        for bucket in touched:
            self.proxy.admin(f"RESUME BUCKETS ID {self.pause(bucket)}")
        # A read on every shard inside a transaction touches every bucket until it ends.
        self.exec(t, f"UPDATE accounts SET balance = balance + 1 WHERE id = {a}")
        self.exec(t, "SELECT count(*) FROM accounts")
        self.assert_pause_refused(untouched)
        t.rollback()
        self.proxy.admin(f"RESUME BUCKETS ID {self.pause(untouched)}")


class Off(Base):
    deadlock_timeout_ms = 0

    def test_without_the_search_the_wait_ends_only_at_lock_timeout(self):
        a, b = self.keys[0], self.keys[1]
        old, young = self.connect(), self.connect()
        young.autocommit = True
        self.exec(young, "SET lock_timeout = '1500ms'")  # a session setting
        young.autocommit = False
        first, second, _ = self.opposite_orders(old, young, a, b)
        second.join(20)
        self.assertEqual(second.error.pgcode if second.error else None, "55P03")
        young.rollback()  # its lock on the other shard is held until then
        first.join(10)
        self.assertIsNone(first.error)
        old.commit()


if __name__ == "__main__":
    unittest.main()
