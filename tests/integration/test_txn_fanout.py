"""Issue 18: statements on several shards INSIDE explicit transactions (real PostgreSQL 15
shards, the real proxy, psycopg2), each compared with one plain PostgreSQL holding all rows
(the oracle: shard 4 of the cluster, not behind the proxy).

Every case runs the same statements in a transaction through the proxy and on the oracle and
compares, statement by statement, the column names and types, the rows, the command tags and
the SQLSTATEs; after COMMIT and after ROLLBACK it compares what the shards hold (read straight
from them) with what the oracle holds, and checks no prepared transaction is left. Covered:
  a. fan-out SELECTs (aggregates, GROUP BY, ORDER BY/LIMIT merges) see the transaction's own
     uncommitted writes, on shards it wrote to and shards it joins only to read;
  b. fan-out UPDATE/DELETE, multi-row INSERT split over shards, reference-table writes and a
     DDL broadcast inside a transaction commit (2PC) or roll back on every shard;
  c. a part failing on one shard fails the whole transaction (the shard's SQLSTATE, then 25P02
     until ROLLBACK; ROLLBACK undoes every shard; ROLLBACK TO SAVEPOINT works on every one);
  d. a shard that was only read commits without PREPARE (the 2PC counter does not move);
  and, after COMMIT returned, a separate reader through the proxy sees the whole transaction.
[transactions] two_phase_commit = false and max_participants keep refusing with 0A000.
"""

import faulthandler
import os
import unittest
import urllib.request

import psycopg2
import psycopg2.errors

import pgcluster
import shardgate_proc
from pgwire import WireConn, PgError, INT8
from sgfixture import Proxy, shard_conn, shard_rows, shard_of

N = 4
ORACLE = 4
WATCHDOG_S = 150

TABLES = [
    {"name": "items", "kind": "sharded", "shard_key": "id", "key_type": "bigint"},
    {"name": "labels", "kind": "reference"},
]
SCHEMA = """
CREATE TABLE items (id bigint PRIMARY KEY, grp int NOT NULL, val int NOT NULL CHECK (val < 1000));
CREATE TABLE labels (k int PRIMARY KEY, label text NOT NULL);
"""
BASE_ITEMS = [(i, i % 3, i * 10) for i in range(1, 25)]
BASE_LABELS = [(1, "one"), (2, "two")]

cluster = None


def setUpModule():
    global cluster
    faulthandler.dump_traceback_later(WATCHDOG_S, exit=True)
    unittest.addModuleCleanup(faulthandler.cancel_dump_traceback_later)
    cluster = pgcluster.Cluster(N + 1).start()
    unittest.addModuleCleanup(cluster.stop)
    for i in range(N + 1):
        cluster.psql(i, SCHEMA)


def keys_on(shard, count, start=1000):
    out, k = [], start
    while len(out) < count:
        if shard_of(k, "bigint", N) == shard:
            out.append(k)
        k += 1
    return out


def append_transactions(path, **keys):
    with open(path, "a") as f:
        f.write("\n[transactions]\n")
        for k, v in keys.items():
            f.write(f"{k} = {str(v).lower() if isinstance(v, bool) else v}\n")


class Base(unittest.TestCase):
    proxy = None

    @classmethod
    def setUpClass(cls):
        cls.shards = [shard_conn(cluster, i) for i in range(N + 1)]

    @classmethod
    def tearDownClass(cls):
        for c in cls.shards:
            c.close()

    def setUp(self):
        # The same rows on the shards (each where the proxy places it) and all on the oracle.
        for i in range(N + 1):
            c = self.shards[i]
            shard_rows(c, "DROP TABLE IF EXISTS items; DROP TABLE IF EXISTS labels; " + SCHEMA)
            mine = BASE_ITEMS if i == ORACLE else [r for r in BASE_ITEMS if shard_of(r[0], "bigint", N) == i]
            if mine:
                shard_rows(c, "INSERT INTO items VALUES " + ", ".join(f"({a}, {b}, {v})" for a, b, v in mine))
            shard_rows(c, "INSERT INTO labels VALUES " + ", ".join(f"({k}, '{v}')" for k, v in BASE_LABELS))

    # -- helpers -------------------------------------------------------------------------------

    @staticmethod
    def answer(cur, sql):
        """What one statement answered: ('ok', columns (name, type oid), rows, tag) or
        ('error', sqlstate)."""
        try:
            cur.execute(sql)
        except psycopg2.Error as e:
            return ("error", e.pgcode)
        cols = [(d.name, d.type_code) for d in cur.description] if cur.description else None
        rows = cur.fetchall() if cur.description else None
        return ("ok", cols, rows, cur.statusmessage)

    def both(self, statements, finish="commit"):
        """Runs `statements` in one transaction through the proxy and on the oracle, compares
        every answer, ends both with `finish`, then compares the stored rows."""
        p = self.proxy.connect()
        o = psycopg2.connect(cluster.dsn(ORACLE))
        answers = []
        try:
            pc, oc = p.cursor(), o.cursor()
            for sql in statements:
                got, want = self.answer(pc, sql), self.answer(oc, sql)
                self.assertEqual(got, want, f"statement: {sql}")
                answers.append(got)
            if finish == "commit":
                p.commit()
                o.commit()
            else:
                p.rollback()
                o.rollback()
        finally:
            p.close()
            o.close()
        self.assertStored()
        return answers

    def stored(self, table, order):
        rows = []
        for i in range(N):
            rows += shard_rows(self.shards[i], f"SELECT * FROM {table} ORDER BY {order}")
        return sorted(rows)

    def assertStored(self):
        self.assertEqual(self.stored("items", "id"), shard_rows(self.shards[ORACLE], "SELECT * FROM items ORDER BY id"))
        # A reference table: every shard holds the oracle's copy.
        want = shard_rows(self.shards[ORACLE], "SELECT * FROM labels ORDER BY k")
        for i in range(N):
            self.assertEqual(shard_rows(self.shards[i], "SELECT * FROM labels ORDER BY k"), want, f"shard {i}")
        left = []
        for i in range(N):
            left += shard_rows(self.shards[i], "SELECT gid FROM pg_prepared_xacts")
        self.assertEqual(left, [])


class FanoutInTransaction(Base):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.http_port = pgcluster.free_port()
        cls.proxy = Proxy(cluster, "txn_fanout", tables=TABLES, shards=list(range(N)),
                          proxy={"pool_size": 6, "pool_timeout_ms": 5000},
                          admin={"http_listen": f"127.0.0.1:{cls.http_port}"}).start()

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        super().tearDownClass()

    def metric(self, name):
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/metrics", timeout=10).read().decode()
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        self.fail(f"{name} not in /metrics")

    READS = [
        "SELECT count(*), sum(val), min(val), max(val) FROM items",
        "SELECT grp, count(*), sum(val) FROM items GROUP BY grp ORDER BY grp",
        "SELECT id, val FROM items ORDER BY val DESC, id LIMIT 5",
        "SELECT id, grp, val FROM items WHERE val > 100 ORDER BY id",
    ]

    def test_reads_see_the_transactions_own_writes_and_commit(self):
        a, b = keys_on(0, 2), keys_on(2, 1)
        stmts = [
            # The first statement reads every shard: the held-back BEGIN starts on all of them.
            self.READS[0],
            f"INSERT INTO items VALUES ({a[0]}, 1, 500)",  # one shard's key
            f"INSERT INTO items VALUES ({b[0]}, 2, 600)",  # another's
        ] + self.READS + [
            "UPDATE items SET val = val + 1 WHERE grp = 2",  # fan-out UPDATE
            "DELETE FROM items WHERE val BETWEEN 40 AND 80",  # fan-out DELETE
            # A multi-row INSERT split over the shards.
            "INSERT INTO items VALUES " + ", ".join(f"({k}, 0, {k % 7})" for s in range(N) for k in keys_on(s, 2, 5000)),
            "INSERT INTO labels VALUES (3, 'three')",  # a reference-table write
            "UPDATE labels SET label = upper(label) WHERE k >= 2",
            "SELECT k, label FROM labels ORDER BY k",
        ] + self.READS
        answers = self.both(stmts)
        self.assertEqual(answers[3][2][0][0], len(BASE_ITEMS) + 2)  # it saw its own two INSERTs
        # After COMMIT returned, another client through the proxy sees all of it.
        r = self.proxy.connect(autocommit=True)
        try:
            o = psycopg2.connect(cluster.dsn(ORACLE))
            try:
                for sql in self.READS:
                    self.assertEqual(self.answer(r.cursor(), sql), self.answer(o.cursor(), sql), sql)
            finally:
                o.close()
        finally:
            r.close()

    def test_rollback_undoes_every_shard(self):
        self.both([
            "UPDATE items SET val = val + 5",
            "INSERT INTO items VALUES " + ", ".join(f"({k}, 1, 1)" for s in range(N) for k in keys_on(s, 1, 7000)),
            "DELETE FROM items WHERE grp = 0",
            "INSERT INTO labels VALUES (9, 'nine')",
        ] + self.READS, finish="rollback")

    def test_failing_part_fails_the_whole_transaction(self):
        dup = [r[0] for r in BASE_ITEMS if shard_of(r[0], "bigint", N) == 3][0]
        answers = self.both([
            "UPDATE items SET val = val + 1",
            "INSERT INTO items VALUES " + ", ".join(f"({k}, 1, 1)" for s in range(N) for k in keys_on(s, 1, 8000)) +
            f", ({dup}, 1, 1)",
            self.READS[0],
            f"SELECT val FROM items WHERE id = {dup}",
            "UPDATE items SET val = 0",
        ], finish="commit")  # COMMIT of a failed transaction rolls back
        self.assertEqual([a[1] for a in answers[1:]], ["23505", "25P02", "25P02", "25P02"])
        # A fan-out UPDATE failing on one shard (the CHECK) fails it too.
        answers = self.both([
            f"UPDATE items SET val = 1 WHERE id = {keys_on(1, 1)[0]}",
            "UPDATE items SET val = val + 780",  # only the largest val (240 -> 1020) breaks it
            self.READS[1],
        ], finish="rollback")
        self.assertEqual([a[1] for a in answers[1:]], ["23514", "25P02"])

    def test_rollback_to_savepoint_on_every_participant(self):
        dup = BASE_ITEMS[0][0]
        self.both([
            "UPDATE items SET val = val + 1 WHERE grp = 1",
            "SAVEPOINT s1",
            "INSERT INTO items VALUES " + ", ".join(f"({k}, 2, 2)" for s in range(N) for k in keys_on(s, 1, 9000)),
            "SAVEPOINT s2",
            "INSERT INTO items VALUES " + ", ".join(f"({k}, 2, 3)" for s in range(N) for k in keys_on(s, 1, 9500)) +
            f", ({dup}, 1, 1)",
            self.READS[0],  # 25P02
            "ROLLBACK TO SAVEPOINT s2",
        ] + self.READS + [
            "DELETE FROM items WHERE grp = 2",
            "ROLLBACK TO SAVEPOINT s1",
        ] + self.READS + [
            "UPDATE items SET val = val * 2 WHERE val < 100",
            "RELEASE SAVEPOINT s1",
        ] + self.READS)

    def test_ddl_broadcast_inside_a_transaction(self):
        self.both(["ALTER TABLE items ADD COLUMN note text", "UPDATE items SET note = 'n' || id WHERE grp = 1",
                   "SELECT id, note FROM items WHERE note IS NOT NULL ORDER BY id"], finish="rollback")
        self.both(["ALTER TABLE items ADD COLUMN note text", "UPDATE items SET note = 'n' || id WHERE grp = 1",
                   "SELECT id, note FROM items WHERE note IS NOT NULL ORDER BY id"])

    def test_read_only_participants_commit_without_prepare(self):
        two_phase = self.metric("shardgate_txn_two_phase_commits_total")
        singles = self.metric("shardgate_txn_single_shard_commits_total")
        k = keys_on(1, 1)[0]
        self.both([f"INSERT INTO items VALUES ({k}, 1, 7)"] + self.READS)  # one writer, four shards read
        self.assertEqual(self.metric("shardgate_txn_two_phase_commits_total"), two_phase)
        self.assertEqual(self.metric("shardgate_txn_single_shard_commits_total"), singles + 1)
        # Two writers: two-phase commit.
        self.both(["UPDATE items SET val = val + 1"] + self.READS)
        self.assertEqual(self.metric("shardgate_txn_two_phase_commits_total"), two_phase + 1)

    def test_concurrent_fanout_writers_and_a_reader(self):
        # Fan-out writes run shard by shard in shard order: two transactions doing them at once
        # wait for each other's locks in that order (no deadlock across shards). A reader
        # through the proxy after every COMMIT sees that transaction's work on every shard.
        import threading
        rounds, errors = 5, []

        def writer():
            c = None
            try:
                c = self.proxy.connect()
                for _ in range(rounds):
                    cur = c.cursor()
                    cur.execute("UPDATE items SET val = val + 1")
                    cur.execute("SELECT min(val - id * 10), max(val - id * 10) FROM items")
                    lo, hi = cur.fetchone()
                    c.commit()
                    if lo != hi:  # every row moved together within the transaction
                        errors.append((lo, hi))
            except Exception as e:  # reported below
                errors.append(e)
            finally:
                if c is not None:
                    c.close()

        threads = [threading.Thread(target=writer) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertFalse(any(t.is_alive() for t in threads), "a writer did not finish within 60 s")
        self.assertEqual(errors, [])
        self.assertEqual(self.stored("items", "id"), sorted((i, g, v + 2 * rounds) for i, g, v in BASE_ITEMS))
        r = self.proxy.connect(autocommit=True)
        try:
            self.assertEqual(self.answer(r.cursor(), "SELECT min(val - id * 10), max(val - id * 10) FROM items"),
                             ("ok", [("min", 20), ("max", 20)], [(2 * rounds, 2 * rounds)], "SELECT 1"))
        finally:
            r.close()

    # -- the extended protocol (Parse/Bind/Describe/Execute/Sync per statement) ----------------

    @staticmethod
    def wire_run(c, sql, params):
        try:
            r = c.execute(sql, [str(p) for p in params], types=[INT8 if isinstance(p, int) else 0 for p in params])
        except PgError as e:
            return ("error", e.sqlstate, c.tx_status)
        return ("ok", r.columns, r.types, r.typmods, r.rows, r.tag, c.tx_status)

    def both_wire(self, statements):
        p = WireConn("127.0.0.1", self.proxy.port, timeout=20)
        p.startup("postgres", cluster.dbname)
        o = WireConn("127.0.0.1", cluster.shards[ORACLE].port, timeout=20)
        o.startup("postgres", cluster.dbname)
        answers = []
        try:
            for sql, params in statements:
                got, want = self.wire_run(p, sql, params), self.wire_run(o, sql, params)
                self.assertEqual(got, want, f"statement: {sql} {params}")
                answers.append(got)
        finally:
            p.close()
            o.close()
        self.assertStored()
        return answers

    def test_extended_protocol_inside_a_transaction(self):
        k0, k2 = keys_on(0, 1)[0], keys_on(2, 1)[0]
        split = [keys_on(s, 1, 11000)[0] for s in range(N)]
        reads = [("SELECT count(*), sum(val) FROM items", []),
                 ("SELECT id, val FROM items WHERE grp = $1 ORDER BY val DESC, id LIMIT 4", [2]),
                 ("SELECT id, grp FROM items WHERE val > $1 ORDER BY id", [200])]
        for finish in ("ROLLBACK", "COMMIT"):
            answers = self.both_wire(
                [("BEGIN", []), (f"INSERT INTO items VALUES ($1, 2, 900)", [k0])] + reads +
                [("UPDATE items SET val = val + $1 WHERE grp = $2", [3, 2]),
                 ("INSERT INTO items VALUES ($1, 1, 1), ($2, 1, 2), ($3, 1, 3), ($4, 1, 4)", split),
                 ("DELETE FROM items WHERE grp = $1 AND val < $2", [0, 100]),
                 ("INSERT INTO items VALUES ($1, 2, 5)", [k2])] + reads + [(finish, [])])
            self.assertEqual(answers[2][4][0][0], str(len(BASE_ITEMS) + 1))  # saw its own INSERT
        # A failing split INSERT fails the transaction; ROLLBACK undoes every shard.
        dup = BASE_ITEMS[0][0]
        answers = self.both_wire(
            [("BEGIN", []), ("UPDATE items SET val = val + $1", [1]),
             ("INSERT INTO items VALUES ($1, 1, 1), ($2, 1, 2), ($3, 1, 3), ($4, 1, 4), ($5, 1, 5)",
              [keys_on(s, 1, 12000)[0] for s in range(N)] + [dup])] + reads[:1] + [("ROLLBACK", [])])
        self.assertEqual([a[1] for a in answers[2:4]], ["23505", "25P02"])


class Settings(Base):
    def start(self, name, proxy_keys=None, **txn):
        proxy = Proxy(cluster, name, tables=TABLES, shards=list(range(N)), proxy=proxy_keys)
        proxy.write_config()
        append_transactions(proxy.config_path, **txn)
        proxy.proc = shardgate_proc.ShardgateProcess(proxy.config_path, proxy.port, log_path=proxy.log_path).start()
        return proxy

    def test_without_two_phase_commit_stays_refused(self):
        proxy = self.start("txn_fanout_off", two_phase_commit=False)
        try:
            c = proxy.connect()
            with self.assertRaises(psycopg2.errors.FeatureNotSupported):
                c.cursor().execute("UPDATE items SET val = val + 1")
            c.rollback()
            with self.assertRaises(psycopg2.errors.FeatureNotSupported):
                c.cursor().execute("SELECT count(*) FROM items")
            c.rollback()
            c.close()
            self.assertStored()
        finally:
            proxy.stop()

    def test_merge_with_one_server_connection_per_shard(self):
        # The combining step of a merge runs on the transaction's own connection to the default
        # shard: with pool_size = 1 there is no other to take.
        proxy = self.start("txn_fanout_pool1", {"pool_size": 1, "pool_timeout_ms": 3000})
        try:
            self.proxy = proxy
            self.both([f"INSERT INTO items VALUES ({keys_on(1, 1)[0]}, 1, 3)"] + FanoutInTransaction.READS +
                      ["UPDATE items SET val = val + 1"] + FanoutInTransaction.READS)
        finally:
            self.proxy = None
            proxy.stop()

    def test_max_participants(self):
        proxy = self.start("txn_fanout_max", max_participants=2)
        try:
            c = proxy.connect()
            cur = c.cursor()
            cur.execute(f"UPDATE items SET val = 1 WHERE id = {keys_on(0, 1)[0]}")
            with self.assertRaises(psycopg2.errors.FeatureNotSupported):
                cur.execute("SELECT count(*) FROM items")
            with self.assertRaises(psycopg2.errors.InFailedSqlTransaction):
                cur.execute("SELECT 1")
            c.commit()
            c.close()
            self.assertStored()
        finally:
            proxy.stop()


if __name__ == "__main__":
    unittest.main()
