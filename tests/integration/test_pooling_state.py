"""What transaction pooling carries (README "What transaction pooling carries"), one test per
row, against a 2-shard cluster through the real proxy (issue 17):

  settings     SET/RESET recorded only once the server accepted them, with transaction
               semantics (rolled-back SET, SET LOCAL, savepoints, RESET [ALL]); a setting a
               shard refuses on re-apply reaches the client as an error and never makes a
               held-back BEGIN disappear (which committed rolled-back writes)
  search_path  follows the client to every shard
  column lists INSERT/COPY without a column list for clients that send application_name
  prepared     SQL PREPARE/EXECUTE refused; DEALLOCATE of a protocol statement answered
  cursors      WITH HOLD refused; plain cursors inside a transaction work
  temp tables  refused (ON COMMIT DROP inside a transaction works)
  advisory     session-level lock functions refused; the _xact_ forms work
  LISTEN       carried in transaction pooling (tests/integration/test_listen_notify.py);
               inside a transaction block in effect at COMMIT (test_listen_txn.py)
  SET ROLE     refused in transaction pooling (SET LOCAL ROLE works)
  session pool statements without a table go to the default shard

pool_size = 1 per shard: consecutive transactions of different clients share the one server
connection of a shard, so whatever leaks would show.
"""

import io
import os
import socket
import threading
import time
import unittest

import psycopg2
import psycopg2.errors

import pgcluster
import pgwire
from sgfixture import Proxy, shard_conn, shard_of, shard_rows, start_pool_mode_proxies

N = 2
TABLES = [{"name": "items", "shard_key": "id", "key_type": "bigint"}]
SCHEMA = """
CREATE TABLE items (id bigint PRIMARY KEY, name text);
CREATE SCHEMA other;
"""

cluster = None
shards = []
tx = None      # transaction pooling
sess = None    # session pooling


def key_on(shard, skip=0):
    keys = [k for k in range(1, 10000) if shard_of(k, "bigint", N) == shard]
    return keys[skip]


def setUpModule():
    global cluster, shards, tx, sess
    cluster, _ = pgcluster.start_module_cluster(N, SCHEMA, watchdog_s=240)
    # Only the default shard s0 has these: a setting naming it is valid there, refused on s1.
    cluster.psql(0, "CREATE TEXT SEARCH CONFIGURATION public.sg_only_s0 (COPY = english);"
                    "CREATE SEQUENCE notes_id_seq;")
    shards = [shard_conn(cluster, i) for i in range(N)]
    for c in shards:
        unittest.addModuleCleanup(c.close)
    for i in range(N):
        shard_rows(shards[i], "INSERT INTO items VALUES (%s, 'resident')", (key_on(i, 500),))
    proxies = start_pool_mode_proxies(cluster, "pooling", TABLES,
                                      transaction={"pool_size": 1}, session={"pool_size": 4})
    tx, sess = proxies["transaction"], proxies["session"]


def one(conn, sql, params=None):
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchone()[0]


def row_exists(key):
    return bool(shard_rows(shards[shard_of(key, "bigint", N)], "SELECT 1 FROM items WHERE id = %s", (key,)))


class Settings(unittest.TestCase):
    """Settings in transaction pooling."""

    def setUp(self):
        self.conn = tx.connect(application_name="pooling-test")
        self.addCleanup(self.conn.close)

    def test_rejected_set_then_rolled_back_insert_is_not_committed(self):
        c = self.conn
        c.autocommit = True
        tz = one(c, "SHOW TimeZone")
        with self.assertRaises(psycopg2.errors.InvalidParameterValue):
            with c.cursor() as cur:
                cur.execute("SET TIME ZONE 'bogus/zone'")
        c.autocommit = False
        for shard in range(N):
            key = key_on(shard, 1)
            with c.cursor() as cur:
                cur.execute("INSERT INTO items (id, name) VALUES (%s, 'rolled back')", (key,))
            c.rollback()
            self.assertFalse(row_exists(key), f"a rolled-back INSERT on s{shard} was committed")
        self.assertEqual(one(c, "SHOW TimeZone"), tz)
        c.rollback()

    def test_set_inside_rolled_back_transaction_is_undone(self):
        c = self.conn
        before = one(c, "SHOW statement_timeout")
        c.commit()
        with c.cursor() as cur:
            cur.execute("SET statement_timeout = '7s'")
            self.assertEqual(one(c, "SHOW statement_timeout"), "7s")
        c.rollback()
        self.assertEqual(one(c, "SHOW statement_timeout"), before)
        c.rollback()
        # On the other shard's connection, too.
        with c.cursor() as cur:
            cur.execute("SELECT count(*) FROM items WHERE id = %s", (key_on(1),))
            cur.execute("SHOW statement_timeout")
            self.assertEqual(cur.fetchone()[0], before)
        c.rollback()

    def test_set_inside_committed_transaction_stays_on_every_shard(self):
        c = self.conn
        with c.cursor() as cur:
            cur.execute("SET work_mem = '3MB'")
        c.commit()
        for shard in range(N):
            with c.cursor() as cur:
                cur.execute("SELECT count(*) FROM items WHERE id = %s", (key_on(shard),))
                cur.execute("SHOW work_mem")
                self.assertEqual(cur.fetchone()[0], "3MB")
            c.commit()
        # Another client on the same server connections does not get it.
        other = tx.connect()
        self.addCleanup(other.close)
        for shard in range(N):
            with other.cursor() as cur:
                cur.execute("SELECT count(*) FROM items WHERE id = %s", (key_on(shard),))
                cur.execute("SHOW work_mem")
                self.assertNotEqual(cur.fetchone()[0], "3MB")
            other.commit()

    def test_set_local_lasts_only_for_its_transaction(self):
        c = self.conn
        before = one(c, "SHOW lock_timeout")
        c.commit()
        with c.cursor() as cur:
            cur.execute("SELECT count(*) FROM items WHERE id = %s", (key_on(1),))
            cur.execute("SET LOCAL lock_timeout = '4s'")
            cur.execute("SHOW lock_timeout")
            self.assertEqual(cur.fetchone()[0], "4s")
        c.commit()
        self.assertEqual(one(c, "SHOW lock_timeout"), before)
        c.commit()

    def test_rollback_to_savepoint_undoes_set(self):
        c = self.conn
        with c.cursor() as cur:
            cur.execute("SELECT count(*) FROM items WHERE id = %s", (key_on(1),))
            cur.execute("SET work_mem = '2MB'")
            cur.execute("SAVEPOINT a")
            cur.execute("SET work_mem = '5MB'")
            cur.execute("ROLLBACK TO SAVEPOINT a")
            cur.execute("SHOW work_mem")
            self.assertEqual(cur.fetchone()[0], "2MB")
            cur.execute("SAVEPOINT b")
            cur.execute("SET work_mem = '6MB'")
            cur.execute("RELEASE b")
        c.commit()
        for shard in range(N):
            with c.cursor() as cur:
                cur.execute("SELECT count(*) FROM items WHERE id = %s", (key_on(shard),))
                cur.execute("SHOW work_mem")
                self.assertEqual(cur.fetchone()[0], "6MB")
            c.commit()

    def test_partial_datestyle_keeps_the_clients_own_order(self):
        # One server per shard: B's statements run where A left DateStyle 'SQL, DMY'. B's
        # SET DateStyle = 'Postgres' keeps B's order (MDY), as on its own PostgreSQL session.
        a = self.conn
        a.autocommit = True
        b = tx.connect()
        self.addCleanup(b.close)
        b.autocommit = True
        with a.cursor() as cur:
            cur.execute("SET DateStyle = 'SQL, DMY'")
        self.assertEqual(one(a, "SELECT '2024-02-15'::date::text"), "15/02/2024")
        with b.cursor() as cur:
            cur.execute("SET DateStyle = 'Postgres'")
        self.assertEqual(one(b, "SELECT '2024-02-15'::date::text"), "02-15-2024")
        self.assertEqual(one(b, "SHOW DateStyle"), "Postgres, MDY")
        with a.cursor() as cur:
            cur.execute("SET DateStyle = 'Postgres'")
        self.assertEqual(one(a, "SELECT '2024-02-15'::date::text"), "15-02-2024")
        self.assertEqual(one(b, "SELECT '2024-02-15'::date::text"), "02-15-2024")
        with a.cursor() as cur:
            cur.execute("RESET DateStyle")

    def test_reset_and_reset_all(self):
        c = self.conn
        c.autocommit = True
        default = one(c, "SHOW work_mem")
        one_default = one(c, "SHOW lock_timeout")
        with c.cursor() as cur:
            cur.execute("SET work_mem = '9MB'")
            cur.execute("SET lock_timeout = '8s'")
            cur.execute("RESET work_mem")
        self.assertEqual(one(c, "SHOW work_mem"), default)
        self.assertEqual(one(c, "SHOW lock_timeout"), "8s")
        with c.cursor() as cur:
            cur.execute("RESET ALL")
        self.assertEqual(one(c, "SHOW lock_timeout"), one_default)
        # The startup parameter comes back after RESET ALL, as on one PostgreSQL.
        self.assertEqual(one(c, "SHOW application_name"), "pooling-test")

    def test_setting_refused_on_another_shard_is_reported_not_silent(self):
        c = self.conn
        c.autocommit = True
        with c.cursor() as cur:
            cur.execute("SET default_text_search_config = 'public.sg_only_s0'")  # valid on s0
        c.autocommit = False
        key = key_on(1, 2)
        with self.assertRaises(psycopg2.Error) as cm:
            with c.cursor() as cur:
                cur.execute("INSERT INTO items (id, name) VALUES (%s, 'must not run')", (key,))
        self.assertIn("default_text_search_config", str(cm.exception))
        c.rollback()
        self.assertFalse(row_exists(key), "the statement ran although its settings failed")
        # The setting left the session (the client was told): the next transaction works and
        # still rolls back.
        with c.cursor() as cur:
            cur.execute("INSERT INTO items (id, name) VALUES (%s, 'rolled back')", (key,))
        c.rollback()
        self.assertFalse(row_exists(key))
        self.assertNotEqual(one(c, "SHOW default_text_search_config"), "public.sg_only_s0")
        c.rollback()
        with open(tx.log_path) as f:
            self.assertIn("default_text_search_config", f.read())
        # A multi-shard statement: refused with the error too, and it does not run anywhere.
        c.autocommit = True
        with c.cursor() as cur:
            cur.execute("SET default_text_search_config = 'public.sg_only_s0'")
            with self.assertRaises(psycopg2.Error) as cm:
                cur.execute("UPDATE items SET name = 'must not run' WHERE name = 'resident'")
            self.assertIn("default_text_search_config", str(cm.exception))
            self.assertEqual(shard_rows(shards[0], "SELECT count(*) FROM items WHERE name = 'must not run'"),
                             [(0,)])
            cur.execute("RESET default_text_search_config")
            cur.execute("SELECT count(*) FROM items WHERE name = 'resident'")
            self.assertEqual(cur.fetchone()[0], N)

    def test_settings_survive_a_rolled_back_and_a_refused_transaction(self):
        c = self.conn
        c.autocommit = True
        with c.cursor() as cur:
            cur.execute("SET statement_timeout = '1500ms'")
        c.autocommit = False
        key = key_on(1)
        with c.cursor() as cur:
            cur.execute("SELECT count(*) FROM items WHERE id = %s", (key,))
        c.rollback()
        with c.cursor() as cur:
            cur.execute("SELECT count(*) FROM items WHERE id = %s", (key,))
            with self.assertRaises(psycopg2.errors.FeatureNotSupported):  # (a merge it cannot do)
                cur.execute("SELECT string_agg(name, ',' ORDER BY id) FROM items WHERE id IN (%s, %s)",
                            (key_on(0), key_on(1)))
        c.rollback()
        for _ in range(2):
            with c.cursor() as cur:
                cur.execute("SELECT count(*) FROM items WHERE id = %s", (key,))
                cur.execute("SHOW statement_timeout")
                self.assertEqual(cur.fetchone()[0], "1500ms")
                with self.assertRaises(psycopg2.errors.QueryCanceled):
                    cur.execute("SELECT pg_sleep(3), count(*) FROM items WHERE id = %s", (key,))
            c.rollback()

    def test_extended_protocol_set_is_tracked_only_when_accepted(self):
        with pgwire.WireConn("127.0.0.1", tx.port) as w:
            w.startup("postgres", cluster.dbname)
            w.execute("SET work_mem = '7MB'")
            with self.assertRaises(pgwire.PgError):
                w.execute("SET TIME ZONE 'bogus/zone'")
            for shard in range(N):
                w.query("BEGIN")
                w.query(f"SELECT count(*) FROM items WHERE id = {key_on(shard)}")
                [r] = w.query("SELECT current_setting('work_mem'), current_setting('TimeZone') <> 'bogus/zone'")
                self.assertEqual(r.rows, [("7MB", "t")])
                w.query("COMMIT")
        # It did not stay behind on the server connections for the next client.
        other = tx.connect(autocommit=True)
        self.addCleanup(other.close)
        for shard in range(N):
            with other.cursor() as cur:
                cur.execute("BEGIN")
                cur.execute("SELECT count(*) FROM items WHERE id = %s", (key_on(shard),))
                cur.execute("SHOW work_mem")
                self.assertNotEqual(cur.fetchone()[0], "7MB")
                cur.execute("COMMIT")

    def test_untracked_set_in_a_multi_statement_text_does_not_leak(self):
        c = self.conn
        c.autocommit = True
        with c.cursor() as cur:
            cur.execute("SET work_mem = '11MB'; SELECT 1")
        other = tx.connect(autocommit=True)
        self.addCleanup(other.close)
        self.assertNotEqual(one(other, "SHOW work_mem"), "11MB")

    def test_search_path_follows_the_client_to_every_shard(self):
        c = self.conn
        c.autocommit = True
        with c.cursor() as cur:
            cur.execute("SET search_path TO other, public")
        for shard in range(N):
            with c.cursor() as cur:
                cur.execute("BEGIN")
                cur.execute("SELECT count(*) FROM items WHERE id = %s", (key_on(shard),))
                cur.execute("SELECT current_setting('search_path'), inet_server_port()")
                self.assertEqual(cur.fetchone(), ("other, public", cluster.shards[shard].port))
                cur.execute("COMMIT")


class ColumnLists(unittest.TestCase):
    def test_insert_and_copy_without_column_list_with_application_name(self):
        for app in ("psql", "pooling-test", None):
            conn = tx.connect(autocommit=True, **({"application_name": app} if app else {}))
            self.addCleanup(conn.close)
            k0, k1 = key_on(0, 10 + len(app or "")), key_on(1, 10 + len(app or ""))
            with conn.cursor() as cur:
                cur.execute("INSERT INTO items VALUES (%s, 'a'), (%s, 'b')", (k0, k1))
                cur.copy_expert("COPY items FROM STDIN",
                                io.StringIO(f"{k0 + 100000}\tc\n{k1 + 100000}\td\n"))
            for k in (k0, k1, k0 + 100000, k1 + 100000):
                self.assertTrue(row_exists(k), f"row {k} ({app})")


class Notices(unittest.TestCase):
    def test_a_fanned_out_statement_notices_once(self):
        conn = tx.connect(autocommit=True)
        self.addCleanup(conn.close)
        with conn.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS no_such_table_anywhere")
        skipping = [n for n in conn.notices if "no_such_table_anywhere" in n]
        self.assertEqual(len(skipping), 1, conn.notices)


class SessionState(unittest.TestCase):
    """Session-scoped state: refused in transaction pooling, with 0A000 and a message."""

    def setUp(self):
        self.conn = tx.connect()
        self.addCleanup(self.conn.close)

    def refused(self, sql, words):
        with self.assertRaises(psycopg2.errors.FeatureNotSupported) as cm:
            with self.conn.cursor() as cur:
                cur.execute(sql)
        self.assertIn(words, str(cm.exception))
        self.assertIn("transaction pooling", str(cm.exception))
        self.conn.rollback()

    def test_temporary_tables(self):
        self.refused("CREATE TEMP TABLE t_tmp (a int)", "temporary table")
        self.refused("CREATE TEMPORARY TABLE t_tmp (a int) ON COMMIT PRESERVE ROWS", "temporary table")
        with self.conn.cursor() as cur:
            cur.execute("CREATE TEMP TABLE t_tx (a int) ON COMMIT DROP")
            cur.execute("INSERT INTO t_tx VALUES (1)")
            cur.execute("SELECT count(*) FROM t_tx")
            self.assertEqual(cur.fetchone()[0], 1)
        self.conn.commit()

    def test_cursors(self):
        self.refused("DECLARE c1 CURSOR WITH HOLD FOR SELECT 1", "WITH HOLD")
        with self.conn.cursor() as cur:
            cur.execute("DECLARE c2 SCROLL CURSOR FOR SELECT g FROM generate_series(1, 3) g")
            cur.execute("FETCH 2 FROM c2")
            self.assertEqual(cur.fetchall(), [(1,), (2,)])
            cur.execute("CLOSE c2")
        self.conn.commit()

    def test_advisory_locks(self):
        self.refused("SELECT pg_advisory_lock(42)", "pg_advisory_lock")
        self.refused("SELECT pg_try_advisory_lock(42)", "pg_try_advisory_lock")
        with self.conn.cursor() as cur:
            # Unlocking is answered (no server connection holds a session lock here):
            # asyncpg's pool reset calls pg_advisory_unlock_all().
            cur.execute("SELECT * FROM (SELECT PG_ADVISORY_UNLOCK_ALL()) s")
            self.assertEqual(cur.fetchall(), [("",)])
            cur.execute("SELECT pg_try_advisory_xact_lock(42)")
            self.assertTrue(cur.fetchone()[0])
            cur.execute("SELECT 'pg_advisory_lock(1)'")  # only a string
        self.conn.commit()

    def test_sql_prepared_statements(self):
        self.refused("PREPARE p1 AS SELECT 1", "PREPARE")
        self.refused("EXECUTE p1", "PREPARE")
        with self.assertRaises(psycopg2.errors.InvalidSqlStatementName):
            with self.conn.cursor() as cur:
                cur.execute("DEALLOCATE p1")
        self.conn.rollback()

    def test_listen_inside_a_transaction_block(self):
        # Outside one, LISTEN works (test_listen_notify.py); inside one it is answered at once
        # and takes effect at COMMIT, never after a ROLLBACK (in detail: test_listen_txn.py).
        notifier = tx.connect(autocommit=True)
        self.addCleanup(notifier.close)
        with self.conn.cursor() as cur:
            cur.execute("LISTEN state_rolled_back")
            self.assertEqual(cur.statusmessage, "LISTEN")
            self.conn.rollback()
            cur.execute("LISTEN state_committed")
            self.conn.commit()
        with notifier.cursor() as cur:
            cur.execute("NOTIFY state_rolled_back, 'no'")
            cur.execute("NOTIFY state_committed, 'yes'")
        deadline = time.monotonic() + 5
        while not self.conn.notifies and time.monotonic() < deadline:
            time.sleep(0.05)
            self.conn.poll()
        time.sleep(0.2)
        self.conn.poll()
        self.assertEqual([(n.channel, n.payload) for n in self.conn.notifies],
                         [("state_committed", "yes")])

    def test_set_role(self):
        self.refused("SET ROLE postgres", "SET ROLE")
        self.refused("SET SESSION AUTHORIZATION postgres", "SET ROLE")
        with self.conn.cursor() as cur:
            cur.execute("SET LOCAL ROLE postgres")
            cur.execute("SELECT current_user")
            self.assertEqual(cur.fetchone()[0], "postgres")
        self.conn.commit()

    def test_deallocate_of_a_protocol_statement_is_answered(self):
        with pgwire.WireConn("127.0.0.1", tx.port) as w:
            w.startup("postgres", cluster.dbname)
            rs = w.batch([pgwire.Stmt("SELECT 41 + 1", name="stmtcache_1")], raise_error=True)
            self.assertEqual(rs[0].rows, [("42",)])
            [r] = w.query("DEALLOCATE stmtcache_1")
            self.assertEqual(r.tag, "DEALLOCATE")
            # Gone, as in PostgreSQL: its Bind now fails.
            rs = w.batch([pgwire.Stmt(name="stmtcache_1", prepare=False)])
            self.assertEqual(rs[0].error.fields.get("C"), "26000")
            w.batch([pgwire.Stmt("SELECT 1", name="stmtcache_2")], raise_error=True)
            w.query("BEGIN")
            [r] = w.query("DEALLOCATE ALL")
            self.assertEqual(r.tag, "DEALLOCATE ALL")
            [r] = w.query("SELECT 7")  # the transaction is fine (no 25P02)
            self.assertEqual(r.rows, [("7",)])
            w.query("COMMIT")


def running_on(shard, marker):
    return shard_rows(shards[shard], "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                                     "AND pid <> pg_backend_pid() AND query LIKE %s",
                      (f"%{marker}%",))[0][0]


def wait_for(cond, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


class Cancel(unittest.TestCase):
    def test_cancel_request_reaches_every_leg_of_a_multi_shard_statement(self):
        conn = tx.connect(autocommit=True)
        self.addCleanup(conn.close)
        marker = f"sg_cancel_legs_{os.getpid()}"
        def cancel_when_running():
            if wait_for(lambda: all(running_on(i, marker) for i in range(N)), 10):
                conn.cancel()
        timer = threading.Thread(target=cancel_when_running)
        timer.start()
        self.addCleanup(timer.join)
        start = time.monotonic()
        with self.assertRaises(psycopg2.errors.QueryCanceled):
            with conn.cursor() as cur:
                cur.execute(f"SELECT i.id FROM items i, pg_sleep(8) s /* {marker} */")
        self.assertLess(time.monotonic() - start, 6)
        self.assertTrue(wait_for(lambda: not any(running_on(i, marker) for i in range(N)), 5))

    def test_a_client_that_leaves_mid_statement_has_it_cancelled(self):
        conn = tx.connect(autocommit=True)
        self.addCleanup(conn.close)
        marker = f"sg_client_left_{os.getpid()}"

        def run():
            try:
                with conn.cursor() as cur:
                    cur.execute(f"SELECT pg_sleep(30), count(*) /* {marker} */ FROM items WHERE id = %s",
                                (key_on(1),))
            except psycopg2.Error:
                pass
        t = threading.Thread(target=run)
        t.start()
        self.addCleanup(t.join)
        self.assertTrue(wait_for(lambda: running_on(1, marker) == 1, 10))
        s = socket.socket(fileno=os.dup(conn.fileno()))
        s.shutdown(socket.SHUT_RDWR)
        s.close()
        self.assertTrue(wait_for(lambda: running_on(1, marker) == 0, 5),
                        "the statement kept running on the shard after its client left")


    def test_a_client_that_leaves_mid_multi_shard_statement_has_every_leg_cancelled(self):
        conn = tx.connect(autocommit=True)
        self.addCleanup(conn.close)
        marker = f"sg_client_left_legs_{os.getpid()}"

        def run():
            try:
                with conn.cursor() as cur:
                    cur.execute(f"SELECT i.id FROM items i, pg_sleep(30) s /* {marker} */")
            except psycopg2.Error:
                pass
        t = threading.Thread(target=run)
        t.start()
        self.addCleanup(t.join)
        self.assertTrue(wait_for(lambda: all(running_on(i, marker) for i in range(N)), 10))
        s = socket.socket(fileno=os.dup(conn.fileno()))
        s.shutdown(socket.SHUT_RDWR)
        s.close()
        self.assertTrue(wait_for(lambda: not any(running_on(i, marker) for i in range(N)), 5),
                        "the multi-shard statement kept running on the shards after its client left")
        with open(tx.log_path) as f:
            self.assertIn("left during a statement: cancelling it on every shard it runs on", f.read())
        # The proxy goes on serving (the one pooled connection per shard was given back clean).
        other = tx.connect(autocommit=True)
        self.addCleanup(other.close)
        self.assertEqual(one(other, "SELECT count(*) FROM items WHERE id = %s", (key_on(0, 500),)), 1)


class MergeLimit(unittest.TestCase):
    def test_rows_past_max_merge_bytes_fail_with_54000_and_the_session_goes_on(self):
        capped = Proxy(cluster, "pooling_cap", tables=TABLES,
                       proxy={"pool_size": 2, "max_merge_bytes": 20000}).start()
        self.addCleanup(capped.stop)
        conn = capped.connect(autocommit=True)
        self.addCleanup(conn.close)
        with conn.cursor() as cur:
            with self.assertRaises(psycopg2.errors.ProgramLimitExceeded) as cm:
                cur.execute("SELECT i.id, repeat('x', 1000) FROM items i, generate_series(1, 50) g "
                            "WHERE i.name = 'resident'")
            self.assertIn("max_merge_bytes", str(cm.exception))
            cur.execute("SELECT count(*) FROM items WHERE name = 'resident'")
            self.assertEqual(cur.fetchone()[0], N)
        # Under the limit the same rows come through the uncapped proxy.
        other = tx.connect(autocommit=True)
        self.addCleanup(other.close)
        with other.cursor() as cur:
            cur.execute("SELECT i.id, repeat('x', 1000) FROM items i, generate_series(1, 50) g "
                        "WHERE i.name = 'resident'")
            self.assertEqual(len(cur.fetchall()), 50 * N)


class SessionPooling(unittest.TestCase):
    def test_statements_without_a_table_go_to_the_default_shard(self):
        conn = sess.connect(autocommit=True)
        self.addCleanup(conn.close)
        s0_port = cluster.shards[0].port
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM items WHERE id = %s", (key_on(1),))
            cur.execute("SELECT nextval('notes_id_seq')")  # only on s0
            self.assertGreaterEqual(cur.fetchone()[0], 1)
            cur.execute("SELECT count(*) FROM items WHERE id = %s", (key_on(1),))
            cur.execute("SELECT inet_server_port()")
            self.assertEqual(cur.fetchone()[0], s0_port)
            # Inside a transaction they stay on the transaction's shard (in session pooling
            # BEGIN goes to the shard the session is on).
            cur.execute("SELECT count(*) FROM items WHERE id = %s", (key_on(1),))
            cur.execute("BEGIN")
            cur.execute("SELECT count(*) FROM items WHERE id = %s", (key_on(1),))
            cur.execute("SELECT inet_server_port()")
            self.assertEqual(cur.fetchone()[0], cluster.shards[1].port)
            cur.execute("COMMIT")

    def test_session_state_is_allowed(self):
        conn = sess.connect(autocommit=True)
        self.addCleanup(conn.close)
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(7)")
            cur.execute("SELECT pg_advisory_unlock(7)")
            self.assertTrue(cur.fetchone()[0])


if __name__ == "__main__":
    unittest.main()
