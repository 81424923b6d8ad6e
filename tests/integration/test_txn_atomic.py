"""Issue 18: multi-shard writes are all-or-nothing, and a crash anywhere in the two-phase
commit is resolved by recovery (real PostgreSQL 15 shards, the real proxy).

Atomicity (autocommit): a multi-row INSERT with a duplicate key on one shard, a fan-out
UPDATE violating a CHECK constraint on one shard only, a COPY with a bad row, a DDL broadcast
failing on one shard: the client gets PostgreSQL's SQLSTATE and no shard keeps any change
(read straight from the shards). A successful multi-shard INSERT commits on every shard and
leaves no prepared transaction behind.

Crashes: the proxy SIGKILLs itself (SHARDGATE_TXN_CRASH_AT) between PREPAREs, after every
PREPARE, after the decision, and between COMMIT PREPAREDs; after a restart (startup recovery)
no prepared transaction is left and the rows are all there (decided) or all absent (not).
`shardgate recover` leaves young leftovers of other proxies alone and resolves them with
--all; a live proxy's periodic recovery resolves another (dead) proxy's leftover once it is
older than recovery_grace_s.
"""

import os
import subprocess
import time
import unittest

import psycopg2
import psycopg2.errors

import pgcluster
import sgfixture
import shardgate_proc
from pgwire import PgError, WireConn, Stmt, INT8
from sgfixture import Proxy, shard_conn, shard_rows, shard_of

N = 4
TABLES = [{"name": "items", "kind": "sharded", "shard_key": "id", "key_type": "bigint"}]
DDL = "CREATE TABLE items (id bigint PRIMARY KEY, val int NOT NULL CHECK (val < 100));"


def keys_per_shard(count_each, start=1):
    """count_each keys on every shard: {shard: [keys]}."""
    out = {s: [] for s in range(N)}
    k = start
    while any(len(v) < count_each for v in out.values()):
        s = shard_of(k, "bigint", N)
        if len(out[s]) < count_each:
            out[s].append(k)
        k += 1
    return out


def append_transactions(path, **keys):
    with open(path, "a") as f:
        f.write("\n[transactions]\n")
        for k, v in keys.items():
            f.write(f"{k} = {v!r}\n" if isinstance(v, str) else f"{k} = {str(v).lower()}\n")


class Base(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = pgcluster.Cluster(N).start()
        cls.shards = [shard_conn(cls.cluster, i) for i in range(N)]
        for c in cls.shards:
            shard_rows(c, DDL)

    @classmethod
    def tearDownClass(cls):
        for c in cls.shards:
            c.close()
        cls.cluster.stop()

    def setUp(self):
        for c in self.shards:
            shard_rows(c, "TRUNCATE items")

    def all_rows(self):
        rows = []
        for c in self.shards:
            rows += shard_rows(c, "SELECT id, val FROM items ORDER BY id")
        return sorted(rows)

    def prepared_left(self):
        left = []
        for c in self.shards:
            left += [r[0] for r in shard_rows(c, "SELECT gid FROM pg_prepared_xacts WHERE gid LIKE 'sgx%'")]
        return left


class AtomicStatements(Base):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.http_port = pgcluster.free_port()
        cls.proxy = Proxy(cls.cluster, "txn_atomic", tables=TABLES,
                          admin={"http_listen": f"127.0.0.1:{cls.http_port}"}).start()

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        super().tearDownClass()

    def run_sql(self, sql, data=None):
        conn = self.proxy.connect(autocommit=True)
        try:
            with conn.cursor() as cur:
                if data is not None:
                    import io
                    cur.copy_expert(sql, io.StringIO(data))
                else:
                    cur.execute(sql)
                return cur.statusmessage
        finally:
            conn.close()

    def test_multi_row_insert_commits_everywhere(self):
        keys = [k for ks in keys_per_shard(5).values() for k in ks]
        values = ", ".join(f"({k}, 1)" for k in keys)
        self.assertEqual(self.run_sql(f"INSERT INTO items (id, val) VALUES {values}"), f"INSERT 0 {len(keys)}")
        self.assertEqual(self.all_rows(), sorted((k, 1) for k in keys))
        self.assertEqual(self.prepared_left(), [])
        # The decision was recorded on a coordinator shard.
        decisions = sum(shard_rows(c, "SELECT count(*) FROM shardgate.commit_decisions")[0][0] for c in self.shards)
        self.assertGreaterEqual(decisions, 1)

    def test_duplicate_key_in_multi_row_insert_changes_nothing(self):
        per = keys_per_shard(5)
        dup = per[2][3]
        shard_rows(self.shards[2], f"INSERT INTO items VALUES ({dup}, 7)")
        keys = [k for ks in per.values() for k in ks]
        values = ", ".join(f"({k}, 1)" for k in keys)
        with self.assertRaises(psycopg2.errors.UniqueViolation):
            self.run_sql(f"INSERT INTO items (id, val) VALUES {values}")
        self.assertEqual(self.all_rows(), [(dup, 7)])
        self.assertEqual(self.prepared_left(), [])

    def test_fanout_update_check_violation_on_one_shard_changes_nothing(self):
        per = keys_per_shard(3)
        for s, ks in per.items():
            for k in ks:
                shard_rows(self.shards[s], f"INSERT INTO items VALUES ({k}, {95 if (s == 1 and k == ks[0]) else 10})")
        before = self.all_rows()
        with self.assertRaises(psycopg2.errors.CheckViolation):
            self.run_sql("UPDATE items SET val = val + 10")
        self.assertEqual(self.all_rows(), before)
        self.assertEqual(self.prepared_left(), [])
        # And without the offending row it goes through on every shard.
        shard_rows(self.shards[1], f"UPDATE items SET val = 10 WHERE id = {per[1][0]}")
        self.assertEqual(self.run_sql("UPDATE items SET val = val + 10"), f"UPDATE {3 * N}")
        self.assertTrue(all(v == 20 for _, v in self.all_rows()))

    def test_copy_with_a_bad_row_changes_nothing(self):
        per = keys_per_shard(4)
        lines = [f"{k}\t1" for ks in per.values() for k in ks]
        lines.append(f"{per[3][0] + 100000}\t500")  # violates the CHECK on its shard
        with self.assertRaises(psycopg2.errors.CheckViolation):
            self.run_sql("COPY items (id, val) FROM STDIN", "\n".join(lines) + "\n")
        self.assertEqual(self.all_rows(), [])
        self.assertEqual(self.prepared_left(), [])
        good = "\n".join(lines[:-1]) + "\n"
        self.run_sql("COPY items (id, val) FROM STDIN", good)
        self.assertEqual(len(self.all_rows()), 4 * N)

    def test_copy_inside_a_transaction(self):
        # psycopg2 outside autocommit: every COPY runs inside the driver's transaction.
        import io
        per = keys_per_shard(3)
        lines = [f"{k}\t4" for ks in per.values() for k in ks]
        conn = self.proxy.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(f"INSERT INTO items (id, val) VALUES ({per[0][0] + 100000}, 8)")
                cur.copy_expert("COPY items (id, val) FROM STDIN", io.StringIO("\n".join(lines) + "\n"))
                self.assertEqual(cur.rowcount, 3 * N)
                # The transaction sees its rows on every shard; nobody else does before COMMIT.
                cur.execute("SELECT count(*) FROM items")
                self.assertEqual(cur.fetchone()[0], 3 * N + 1)
                self.assertEqual(self.all_rows(), [])
            conn.commit()
            self.assertEqual(len(self.all_rows()), 3 * N + 1)
            self.assertEqual(self.prepared_left(), [])
            # A bad row fails the transaction (25P02 until ROLLBACK), and ROLLBACK undoes it all.
            with conn.cursor() as cur:
                cur.execute("DELETE FROM items")
                bad = [f"{k + 200000}\t1" for ks in per.values() for k in ks] + [f"{per[2][0] + 300000}\t500"]
                with self.assertRaises(psycopg2.errors.CheckViolation):
                    cur.copy_expert("COPY items (id, val) FROM STDIN", io.StringIO("\n".join(bad) + "\n"))
                with self.assertRaises(psycopg2.errors.InFailedSqlTransaction):
                    cur.execute("SELECT 1")
            conn.rollback()
        finally:
            conn.close()
        self.assertEqual(len(self.all_rows()), 3 * N + 1)
        self.assertEqual(self.prepared_left(), [])

    def test_ddl_broadcast_failing_on_one_shard_changes_nothing(self):
        # DDL on a sharded table runs on every shard; shard 3 already has the column.
        shard_rows(self.shards[3], "ALTER TABLE items ADD COLUMN extra int")
        try:
            with self.assertRaises(psycopg2.errors.DuplicateColumn):
                self.run_sql("ALTER TABLE items ADD COLUMN extra int")
            for i in range(3):
                self.assertEqual(shard_rows(self.shards[i], "SELECT count(*) FROM information_schema.columns "
                                                            "WHERE table_name = 'items' AND column_name = 'extra'"),
                                 [(0,)])
            self.assertEqual(self.prepared_left(), [])
        finally:
            shard_rows(self.shards[3], "ALTER TABLE items DROP COLUMN extra")
        # And a DDL that succeeds everywhere commits everywhere.
        self.run_sql("ALTER TABLE items ADD COLUMN extra2 int")
        try:
            for i in range(N):
                self.assertEqual(shard_rows(self.shards[i], "SELECT count(*) FROM information_schema.columns "
                                                            "WHERE table_name = 'items' AND column_name = 'extra2'"),
                                 [(1,)])
        finally:
            self.run_sql("ALTER TABLE items DROP COLUMN extra2")

    def metric(self, name):
        import urllib.request
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/metrics", timeout=10).read().decode()
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        self.fail(f"{name} not in /metrics")

    def test_show_transactions_and_metrics(self):
        rows = self.proxy.admin("SHOW TRANSACTIONS")
        self.assertEqual(rows, [])  # nothing in flight between statements
        commits, aborts = self.metric("shardgate_txn_two_phase_commits_total"), self.metric("shardgate_txn_aborts_total")
        histogram = 'shardgate_txn_commit_seconds_count{kind="two_phase"}'
        observed = self.metric(histogram)
        keys = [k for ks in keys_per_shard(1).values() for k in ks]
        self.run_sql("INSERT INTO items (id, val) VALUES " + ", ".join(f"({k}, 1)" for k in keys))
        with self.assertRaises(psycopg2.errors.UniqueViolation):
            self.run_sql("INSERT INTO items (id, val) VALUES " + ", ".join(f"({k}, 1)" for k in keys))
        self.assertEqual(self.metric("shardgate_txn_two_phase_commits_total"), commits + 1)
        self.assertEqual(self.metric("shardgate_txn_aborts_total"), aborts + 1)
        # The commit's latency went into the histogram (buckets cumulative up to +Inf).
        self.assertEqual(self.metric(histogram), observed + 1)
        self.assertEqual(self.metric('shardgate_txn_commit_seconds_bucket{kind="two_phase",le="+Inf"}'),
                         observed + 1)

    # -- transactions spanning shards (BEGIN ... COMMIT) --------------------------------------

    def txn(self, statements, finish="commit"):
        conn = self.proxy.connect()  # psycopg2 opens a transaction before the first statement
        try:
            with conn.cursor() as cur:
                for sql in statements:
                    cur.execute(sql)
            getattr(conn, finish)()
        finally:
            conn.close()

    def test_cross_shard_transaction_commits_everywhere(self):
        per = keys_per_shard(1)
        commits = self.metric("shardgate_txn_two_phase_commits_total")
        self.txn([f"INSERT INTO items (id, val) VALUES ({per[s][0]}, {s})" for s in range(N)] +
                 [f"UPDATE items SET val = val + 1 WHERE id = {per[0][0]}"])
        self.assertEqual(self.all_rows(), sorted([(per[0][0], 1)] + [(per[s][0], s) for s in range(1, N)]))
        self.assertEqual(self.prepared_left(), [])
        self.assertEqual(self.metric("shardgate_txn_two_phase_commits_total"), commits + 1)

    def test_cross_shard_transaction_rolls_back_everywhere(self):
        per = keys_per_shard(1)
        self.txn([f"INSERT INTO items (id, val) VALUES ({per[s][0]}, 1)" for s in range(N)], finish="rollback")
        self.assertEqual(self.all_rows(), [])

    def test_failed_statement_fails_the_whole_transaction(self):
        per = keys_per_shard(1)
        shard_rows(self.shards[2], f"INSERT INTO items VALUES ({per[2][0]}, 7)")
        conn = self.proxy.connect()
        try:
            cur = conn.cursor()
            cur.execute(f"INSERT INTO items (id, val) VALUES ({per[0][0]}, 1)")
            cur.execute(f"INSERT INTO items (id, val) VALUES ({per[1][0]}, 1)")
            with self.assertRaises(psycopg2.errors.UniqueViolation):
                cur.execute(f"INSERT INTO items (id, val) VALUES ({per[2][0]}, 1)")
            for k in (per[3][0], per[0][0]):  # any shard, joined or not: 25P02 until the end
                with self.assertRaises(psycopg2.errors.InFailedSqlTransaction):
                    cur.execute(f"SELECT val FROM items WHERE id = {k}")
            conn.commit()  # COMMIT of a failed transaction rolls back
            cur.execute("SELECT 1")
            self.assertEqual(cur.fetchall(), [(1,)])
            conn.rollback()
        finally:
            conn.close()
        self.assertEqual(self.all_rows(), [(per[2][0], 7)])
        self.assertEqual(self.prepared_left(), [])

    def test_savepoints_apply_on_every_participant(self):
        per = keys_per_shard(2)
        self.txn([f"INSERT INTO items (id, val) VALUES ({per[0][0]}, 1)",
                  "SAVEPOINT a",
                  f"INSERT INTO items (id, val) VALUES ({per[1][0]}, 1)",
                  f"UPDATE items SET val = 50 WHERE id = {per[0][0]}",
                  "SAVEPOINT b",
                  f"INSERT INTO items (id, val) VALUES ({per[2][0]}, 1)",  # joins after b
                  "ROLLBACK TO SAVEPOINT b",
                  f"INSERT INTO items (id, val) VALUES ({per[2][1]}, 2)",
                  "ROLLBACK TO a",  # undoes shard 1, the update on 0, and all of shard 2
                  f"INSERT INTO items (id, val) VALUES ({per[3][0]}, 3)",
                  "RELEASE SAVEPOINT a"])
        self.assertEqual(self.all_rows(), sorted([(per[0][0], 1), (per[3][0], 3)]))
        self.assertEqual(self.prepared_left(), [])

    def test_read_only_participant_commits_without_prepare(self):
        per = keys_per_shard(1)
        shard_rows(self.shards[0], f"INSERT INTO items VALUES ({per[0][0]}, 5)")
        singles = self.metric("shardgate_txn_single_shard_commits_total")
        commits = self.metric("shardgate_txn_two_phase_commits_total")
        conn = self.proxy.connect()
        try:
            cur = conn.cursor()
            cur.execute("SELECT 1")  # no table: must not matter where it ran
            cur.execute(f"SELECT val FROM items WHERE id = {per[0][0]}")
            self.assertEqual(cur.fetchall(), [(5,)])
            cur.execute(f"INSERT INTO items (id, val) VALUES ({per[1][0]}, 6)")
            conn.commit()
        finally:
            conn.close()
        self.assertEqual(self.metric("shardgate_txn_two_phase_commits_total"), commits)
        self.assertEqual(self.metric("shardgate_txn_single_shard_commits_total"), singles + 1)
        self.assertEqual(self.all_rows(), sorted([(per[0][0], 5), (per[1][0], 6)]))

    def test_extended_protocol_transaction_spanning_shards(self):
        per = keys_per_shard(1)
        with self.wire() as c:
            c.execute("BEGIN")
            for s in range(N):
                c.execute("INSERT INTO items (id, val) VALUES ($1, $2)", [str(per[s][0]), "4"], types=[INT8, 0])
            self.assertEqual(c.tx_status, "T")
            r = c.execute("COMMIT")
            self.assertEqual(r.tag, "COMMIT")
            self.assertEqual(c.tx_status, "I")
        self.assertEqual(self.all_rows(), sorted((per[s][0], 4) for s in range(N)))
        self.assertEqual(self.prepared_left(), [])

    def wire(self):
        c = WireConn("127.0.0.1", self.proxy.port)
        c.startup("postgres", self.cluster.dbname)
        return c

    def test_pipelined_batch_over_shards_commits_as_one(self):
        per = keys_per_shard(2)
        keys = [per[s][i] for i in range(2) for s in range(N)]  # alternating shards
        with self.wire() as c:
            rs = c.batch([Stmt("INSERT INTO items (id, val) VALUES ($1, $2)", [str(k), "1"], types=[INT8, 0])
                          for k in keys])
            self.assertEqual([r.tag for r in rs], ["INSERT 0 1"] * len(keys))
            self.assertEqual(c.tx_status, "I")
        self.assertEqual(self.all_rows(), sorted((k, 1) for k in keys))
        self.assertEqual(self.prepared_left(), [])

    def test_pipelined_batch_replies_come_in_batch_order(self):
        # Each shard gets its pieces in one write; the replies are put back in batch order,
        # and a piece reads what an earlier piece of the batch wrote on its shard.
        per = keys_per_shard(3)
        keys = [per[s][i] for i in range(3) for s in range(N)]
        stmts = []
        for k in keys:
            stmts.append(Stmt("INSERT INTO items (id, val) VALUES ($1, $2) RETURNING id", [str(k), "2"],
                              types=[INT8, 0]))
            stmts.append(Stmt("SELECT val FROM items WHERE id = $1", [str(k)], types=[INT8]))
        with self.wire() as c:
            rs = c.batch(stmts)
            self.assertEqual(c.tx_status, "I")
        want = []
        for k in keys:
            want += [("INSERT 0 1", [(str(k),)]), ("SELECT 1", [("2",)])]
        self.assertEqual([(r.tag, r.rows) for r in rs], want)
        self.assertEqual(self.all_rows(), sorted((k, 2) for k in keys))
        self.assertEqual(self.prepared_left(), [])

    def test_failing_bind_in_pipelined_batch_changes_nothing(self):
        per = keys_per_shard(2)
        keys = [per[s][i] for i in range(2) for s in range(N)]
        stmts = [Stmt("INSERT INTO items (id, val) VALUES ($1, $2)", [str(k), "1"], types=[INT8, 0]) for k in keys]
        # The 7th row violates the CHECK on its shard: the first 6 (on every shard) are undone too.
        stmts[6] = Stmt("INSERT INTO items (id, val) VALUES ($1, $2)", [str(keys[6]), "500"], types=[INT8, 0])
        with self.wire() as c:
            rs = c.batch(stmts)
            self.assertEqual(len(rs), 7)
            self.assertEqual(rs[6].error.sqlstate, "23514")
            self.assertEqual(c.tx_status, "I")
            # The connection goes on working.
            self.assertEqual(c.execute("SELECT count(*) FROM items").rows, [("0",)])
        self.assertEqual(self.all_rows(), [])
        self.assertEqual(self.prepared_left(), [])

    def test_pipelined_batch_inside_a_transaction(self):
        # JDBC executeBatch with autocommit off: BEGIN; a batch over every shard; COMMIT.
        per = keys_per_shard(2)
        keys = [per[s][i] for i in range(2) for s in range(N)]
        with self.wire() as c:
            c.execute("BEGIN")
            rs = c.batch([Stmt("INSERT INTO items (id, val) VALUES ($1, $2) RETURNING id", [str(k), "3"],
                               types=[INT8, 0]) for k in keys])
            self.assertEqual([(r.tag, r.rows) for r in rs], [("INSERT 0 1", [(str(k),)]) for k in keys])
            self.assertEqual(c.tx_status, "T")
            # The transaction reads its own writes on every shard; nobody else sees them yet.
            self.assertEqual(c.execute("SELECT count(*) FROM items").rows, [(str(len(keys)),)])
            self.assertEqual(self.all_rows(), [])
            self.assertEqual(c.execute("COMMIT").tag, "COMMIT")
            self.assertEqual(c.tx_status, "I")
        self.assertEqual(self.all_rows(), sorted((k, 3) for k in keys))
        self.assertEqual(self.prepared_left(), [])

    def test_failing_bind_in_a_batch_inside_a_transaction_fails_it(self):
        per = keys_per_shard(3)
        keep = per[0][2]
        keys = [per[s][i] for i in range(2) for s in range(N)]
        stmts = [Stmt("INSERT INTO items (id, val) VALUES ($1, $2)", [str(k), "1"], types=[INT8, 0]) for k in keys]
        stmts[5] = Stmt("INSERT INTO items (id, val) VALUES ($1, $2)", [str(keys[5]), "500"], types=[INT8, 0])
        with self.wire() as c:
            c.execute("BEGIN")
            c.execute("INSERT INTO items (id, val) VALUES ($1, $2)", [str(keep), "9"], types=[INT8, 0])
            c.execute("SAVEPOINT sp")
            rs = c.batch(stmts)
            self.assertEqual(len(rs), 6)  # the replies stop at the failed piece, in batch order
            self.assertEqual(rs[5].error.sqlstate, "23514")
            self.assertEqual(c.tx_status, "E")
            with self.assertRaises(PgError) as e:
                c.execute("SELECT 1")
            self.assertEqual(e.exception.sqlstate, "25P02")
            # ROLLBACK TO SAVEPOINT undoes the batch on every shard; the transaction goes on.
            c.execute("ROLLBACK TO SAVEPOINT sp")
            self.assertEqual(c.tx_status, "T")
            self.assertEqual(c.execute("SELECT count(*) FROM items").rows, [("1",)])
            c.execute("COMMIT")
        self.assertEqual(self.all_rows(), [(keep, 9)])
        self.assertEqual(self.prepared_left(), [])


class TransactionSettings(Base):
    """[transactions] two_phase_commit = false (transactions stay on one shard, as before) and
    max_participants."""

    def test_cross_shard_transaction_refused(self):
        proxy = Proxy(self.cluster, "txn_off", tables=TABLES)
        proxy.write_config()
        append_transactions(proxy.config_path, two_phase_commit=False)
        proxy.proc = shardgate_proc.ShardgateProcess(proxy.config_path, proxy.port, log_path=proxy.log_path).start()
        try:
            per = keys_per_shard(1)
            conn = proxy.connect()
            cur = conn.cursor()
            cur.execute(f"INSERT INTO items (id, val) VALUES ({per[0][0]}, 1)")
            with self.assertRaises(psycopg2.errors.FeatureNotSupported):
                cur.execute(f"INSERT INTO items (id, val) VALUES ({per[1][0]}, 1)")
            conn.rollback()
            conn.close()
            self.assertEqual(self.all_rows(), [])
        finally:
            proxy.stop()


    def test_max_participants_bounds_transactions_and_statements(self):
        proxy = Proxy(self.cluster, "txn_max", tables=TABLES)
        proxy.write_config()
        append_transactions(proxy.config_path, max_participants=2)
        proxy.proc = shardgate_proc.ShardgateProcess(proxy.config_path, proxy.port, log_path=proxy.log_path).start()
        try:
            per = keys_per_shard(1)
            conn = proxy.connect()
            cur = conn.cursor()
            cur.execute(f"INSERT INTO items (id, val) VALUES ({per[0][0]}, 1)")
            cur.execute(f"INSERT INTO items (id, val) VALUES ({per[1][0]}, 1)")
            with self.assertRaises(psycopg2.errors.FeatureNotSupported):
                cur.execute(f"INSERT INTO items (id, val) VALUES ({per[2][0]}, 1)")
            with self.assertRaises(psycopg2.errors.InFailedSqlTransaction):
                cur.execute(f"SELECT val FROM items WHERE id = {per[0][0]}")
            conn.commit()  # rolls back: the transaction failed
            conn.autocommit = True
            with self.assertRaises(psycopg2.errors.FeatureNotSupported):
                cur.execute("INSERT INTO items (id, val) VALUES " + ", ".join(f"({per[s][0]}, 1)" for s in range(N)))
            conn.close()
            self.assertEqual(self.all_rows(), [])
            self.assertEqual(self.prepared_left(), [])
        finally:
            proxy.stop()


class CrashRecovery(Base):
    def start_proxy(self, name, crash_at=None, **txn):
        proxy = Proxy(self.cluster, name, tables=TABLES)
        proxy.write_config()
        append_transactions(proxy.config_path, **txn)
        env = dict(os.environ)
        if crash_at:
            env["SHARDGATE_TXN_CRASH_AT"] = crash_at
        proc = shardgate_proc.ShardgateProcess(proxy.config_path, proxy.port, log_path=proxy.log_path, env=env)
        proxy.proc = proc.start()
        return proxy

    def crash_insert(self, proxy, keys):
        """A multi-shard INSERT during which the proxy kills itself: the client hears of a lost
        connection, never of a success."""
        values = ", ".join(f"({k}, 1)" for k in keys)
        conn = proxy.connect(autocommit=True)
        try:
            with self.assertRaises(psycopg2.OperationalError):
                with conn.cursor() as cur:
                    cur.execute(f"INSERT INTO items (id, val) VALUES {values}")
        finally:
            conn.close()
        proxy.proc.proc.wait(10)
        proxy.proc = None

    def check_outcome(self, keys, committed):
        self.assertEqual(self.prepared_left(), [])
        self.assertEqual(self.all_rows(), sorted((k, 1) for k in keys) if committed else [])

    def test_kill_at_every_point_then_restart(self):
        keys = [k for ks in keys_per_shard(3).values() for k in ks]
        for point, committed in (("between-prepares", False), ("prepared", False), ("decided", True),
                                 ("between-commits", True)):
            with self.subTest(point=point):
                for c in self.shards:
                    shard_rows(c, "TRUNCATE items")
                proxy = self.start_proxy("txn_crash", crash_at=point, instance_id="crashy")
                self.crash_insert(proxy, keys)
                if point != "between-prepares":
                    self.assertNotEqual(self.prepared_left(), [], "the crash left nothing to recover")
                # Restart the same instance: its startup recovery resolves the leftover.
                again = self.start_proxy("txn_crash", instance_id="crashy")
                try:
                    self.check_outcome(keys, committed)
                    with open(again.log_path) as f:
                        self.assertIn("transaction recovery:", f.read())
                    # And it serves: a new multi-shard write commits.
                    conn = again.connect(autocommit=True)
                    with conn.cursor() as cur:
                        cur.execute("UPDATE items SET val = 2")
                    conn.close()
                finally:
                    again.stop()

    def test_recover_command_respects_grace_then_all(self):
        keys = [k for ks in keys_per_shard(2).values() for k in ks]
        proxy = self.start_proxy("txn_cli", crash_at="decided", instance_id="gone")
        self.crash_insert(proxy, keys)
        self.assertNotEqual(self.prepared_left(), [])
        out = shardgate_proc.run_shardgate("recover", "-c", proxy.config_path)
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)  # young: left alone
        self.assertIn("left 1", out.stdout)
        self.assertNotEqual(self.prepared_left(), [])
        out = shardgate_proc.run_shardgate("recover", "-c", proxy.config_path, "--all")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("committed 1", out.stdout)
        self.check_outcome(keys, True)

    def test_live_proxy_resolves_a_dead_proxys_leftover_after_grace(self):
        keys = [k for ks in keys_per_shard(2).values() for k in ks]
        live = self.start_proxy("txn_live", instance_id="alive", recovery_grace_s=4, recovery_interval_s=1,
                                step_timeout_ms=1000)
        try:
            dead = self.start_proxy("txn_dead", crash_at="prepared", instance_id="dead")
            self.crash_insert(dead, keys)
            time.sleep(1.5)  # the live proxy's recovery ran at least once: too young to touch
            self.assertNotEqual(self.prepared_left(), [])
            deadline = time.monotonic() + 20
            while self.prepared_left() and time.monotonic() < deadline:
                time.sleep(0.3)
            self.check_outcome(keys, False)
            with open(live.log_path) as f:
                self.assertIn("rolled back prepared transaction sgx_dead_", f.read())
        finally:
            live.stop()


if __name__ == "__main__":
    unittest.main()
