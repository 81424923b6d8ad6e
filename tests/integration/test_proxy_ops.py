"""Operating the proxy: pool exhaustion and shard failures, cancel, the admin console, PAUSE/
RESUME, RELOAD and SIGHUP, SIGTERM drain, connection limits and timeouts, TLS, session
parameters across pooled server connections, and server connections left dirty by a client
that vanished mid-transaction.

One 4-shard cluster (trust) for the module; each test class starts its own proxy with the
settings it needs (a proxy starts in well under a second).
"""

import faulthandler
import itertools
import os
import signal
import struct
import subprocess
import threading
import time
import unittest

import psycopg2
import psycopg2.errors

import pgcluster
import pgwire
from sgfixture import Deadline, Proxy, shard_conn, shard_of, shard_rows, wait_readable

N = 4
WATCHDOG_S = 300
STATEMENT_S = 20

TABLES = [{"name": "items", "shard_key": "id", "key_type": "bigint"}]
USERS = [
    {"name": "postgres", "password": "", "auth": "trust", "admin": True},
    {"name": "app", "password": "app-pw", "auth": "scram-sha-256"},
    {"name": "plain", "password": "", "auth": "trust"},
]
SCHEMA = """
CREATE TABLE items (id bigint PRIMARY KEY, name text);
CREATE TABLE notes (id int, body text);
GRANT ALL ON items, notes TO app, plain;
"""

cluster = None
shards = []


def setUpModule():
    global cluster, shards
    faulthandler.dump_traceback_later(WATCHDOG_S, exit=True)
    unittest.addModuleCleanup(faulthandler.cancel_dump_traceback_later)
    cluster = pgcluster.Cluster(N, roles={"app": "app-pw", "plain": "x"})
    cluster.start()
    unittest.addModuleCleanup(cluster.stop)
    for i in range(N):
        cluster.psql(i, SCHEMA)
        # One row per shard whose key hashes there, so key-routed statements have a row.
        k = key_on(i)
        cluster.psql(i, f"INSERT INTO items VALUES ({k}, 'row of s{i}')")
    shards = [shard_conn(cluster, i) for i in range(N)]
    for c in shards:
        unittest.addModuleCleanup(c.close)


def key_on(shard):
    return next(k for k in range(1, 1000) if shard_of(k, "bigint", N) == shard)


def start_proxy(testcase_cls, name, **proxy_keys):
    sg = Proxy(cluster, name, tables=TABLES, users=USERS, proxy=proxy_keys).start()
    testcase_cls.addClassCleanup(sg.stop)
    return sg


def q(conn, sql, params=None, timeout=STATEMENT_S):
    with Deadline(conn, timeout, sql[:80]), conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall() if cur.description else []


def wait_until(pred, timeout, what, interval=0.02):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Background:
    """Runs fn() in a thread; .done (Event), .result, .error."""

    def __init__(self, fn):
        self.done = threading.Event()
        self.result = self.error = None

        def run():
            try:
                self.result = fn()
            except BaseException as e:          # reported by the test
                self.error = e
            finally:
                self.done.set()
        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def wait(self, timeout):
        if not self.done.wait(timeout):
            raise AssertionError(f"background call still running after {timeout}s")
        self.thread.join(1)
        if self.error is not None:
            raise self.error
        return self.result


def active_queries(like):
    """Shard index and pid of backends running a query matching `like`, on every shard."""
    out = []
    for i, c in enumerate(shards):
        for (pid,) in shard_rows(c, "SELECT pid FROM pg_stat_activity WHERE state = 'active' "
                                    "AND query LIKE %s AND pid <> pg_backend_pid()", (like,)):
            out.append((i, pid))
    return out


class OpsCase(unittest.TestCase):

    def connect(self, sg, autocommit=False, **kw):
        c = sg.connect(autocommit=autocommit, **kw)
        self.addCleanup(c.close)
        return c

    def raw(self, sg, timeout=10):
        c = pgwire.WireConn("127.0.0.1", sg.port, timeout=timeout)
        self.addCleanup(c.close)
        return c


# ---------------------------------------------------------------------------------------------

class PoolTest(OpsCase):
    """pool_size 1: one open transaction takes the shard's only server connection."""

    @classmethod
    def setUpClass(cls):
        cls.sg = start_proxy(cls, "ops_pool", pool_size=1, pool_timeout_ms=1000)

    def test_pool_exhaustion_gives_53300_after_pool_timeout(self):
        holder = self.connect(self.sg)
        q(holder, "SELECT count(*) FROM notes")             # transaction open on s0
        waiter = self.connect(self.sg, autocommit=True)
        t0 = time.monotonic()
        bg = Background(lambda: q(waiter, "SELECT count(*) FROM notes"))
        # While it waits, the console shows it.
        pools = wait_until(lambda: [r for r in self.sg.admin("SHOW POOLS")
                                    if r["shard"] == "s0" and int(r["cl_waiting"]) >= 1],
                           5, "SHOW POOLS to list a waiting client")
        self.assertEqual(int(pools[0]["sv_active"]), 1)
        self.assertEqual(int(pools[0]["pool_size"]), 1)
        with self.assertRaises(psycopg2.Error) as cm:
            bg.wait(10)
        elapsed = time.monotonic() - t0
        self.assertEqual(cm.exception.pgcode, "53300", cm.exception)
        self.assertIn("s0", cm.exception.pgerror)
        self.assertGreaterEqual(elapsed, 0.9, "gave up before pool_timeout_ms")
        self.assertLess(elapsed, 5, "waited far longer than pool_timeout_ms")
        # Another shard's pool is not affected.
        k1 = key_on(1)
        other = self.connect(self.sg, autocommit=True)
        self.assertEqual(q(other, "SELECT name FROM items WHERE id = %s", (k1,)),
                         [("row of s1",)])
        holder.commit()
        fresh = self.connect(self.sg, autocommit=True)
        self.assertEqual(q(fresh, "SELECT count(*) FROM notes"), [(0,)])
        if not waiter.closed:
            self.assertEqual(q(waiter, "SELECT count(*) FROM notes"), [(0,)])

    def test_server_left_mid_transaction_by_a_vanished_client_is_not_reused_dirty(self):
        c = self.raw(self.sg)
        c.startup("postgres", cluster.dbname)
        c.query("BEGIN")
        c.query("INSERT INTO notes VALUES (42, 'dirty')")
        c.query("LOCK TABLE notes IN ACCESS EXCLUSIVE MODE")
        c.query("SET LOCAL statement_timeout = '1ms'")
        self.assertEqual(c.tx_status, "T")
        c.abort()                                         # RST, no Terminate, no ROLLBACK
        # pool_size is 1: the next client gets the same server connection, which must be
        # clean (rolled back) or a new one.
        nxt = self.connect(self.sg, autocommit=True)
        self.assertEqual(q(nxt, "SELECT count(*) FROM notes WHERE id = 42"), [(0,)],
                         "the vanished client's uncommitted row is visible: same transaction")
        [(fresh_tx, assigned, timeout)] = q(
            nxt, "SELECT now() = statement_timestamp(), txid_current_if_assigned() IS NULL, "
                 "current_setting('statement_timeout')")
        self.assertTrue(fresh_tx, "the statement ran inside an older transaction")
        self.assertTrue(assigned)
        self.assertEqual(timeout, "0")
        q(nxt, "INSERT INTO notes VALUES (43, 'clean')")
        # On the shard: no transaction left open, no lock left on notes.
        wait_until(lambda: shard_rows(shards[0], "SELECT count(*) FROM pg_stat_activity WHERE "
                                                 "state LIKE 'idle in transaction%'")[0][0] == 0,
                   5, "no idle-in-transaction backend on s0")
        self.assertEqual(shard_rows(shards[0], "SELECT count(*) FROM pg_locks l JOIN pg_class c "
                                               "ON c.oid = l.relation WHERE c.relname = 'notes' "
                                               "AND l.pid <> pg_backend_pid()"), [(0,)])
        self.assertEqual(shard_rows(shards[0], "SELECT id FROM notes ORDER BY id"), [(43,)])
        shard_rows(shards[0], "DELETE FROM notes")


    def test_server_left_mid_extended_batch_is_not_reused_dirty(self):
        # Parse/Bind/Execute without Sync, then the client vanishes (or is thrown out for a
        # protocol violation): the server connection still waits for a Sync, and must not be
        # handed to the next client as is.
        batches = {
            "Parse/Bind/Describe/Execute":
                pgwire.stmt_frames(pgwire.Stmt("SELECT count(*) FROM notes")),
            "a lone Execute": pgwire.frame("E", b"\0\0\0\0\0"),
        }
        for (what, batch), how in itertools.product(batches.items(),
                                                    ("vanish", "protocol violation")):
            with self.subTest(batch=what, how=how):
                c = self.raw(self.sg)
                c.startup("postgres", cluster.dbname)
                c.send_raw(batch)
                if how == "vanish":
                    c.abort()
                else:
                    c.send("Q", b"SELECT 1")                # no terminator: 08P01
                    self.assertTrue(c.wait_closed(5))
                nxt = self.connect(self.sg, autocommit=True)
                t0 = time.monotonic()
                self.assertEqual(q(nxt, "SELECT count(*) FROM notes", timeout=10), [(0,)])
                self.assertLess(time.monotonic() - t0, 3)
                nxt.close()


class ShardDownTest(OpsCase):

    @classmethod
    def setUpClass(cls):
        cls.sg = start_proxy(cls, "ops_shard_down", pool_size=2, connect_timeout_ms=1000,
                             pool_timeout_ms=3000)

    def test_a_stopped_shard_gives_08006_naming_it_and_the_others_still_work(self):
        conn = self.connect(self.sg, autocommit=True)
        for i in range(N):                                # warm every pool
            self.assertEqual(q(conn, "SELECT name FROM items WHERE id = %s", (key_on(i),)),
                             [(f"row of s{i}",)])
        cluster.stop_shard(3)
        self.addCleanup(cluster.start_shard, 3)
        t0 = time.monotonic()
        c = self.raw(self.sg)
        c.startup("postgres", cluster.dbname)
        with self.assertRaises(pgwire.PgError) as cm:
            c.query(f"SELECT name FROM items WHERE id = {key_on(3)}")
        self.assertEqual(cm.exception.sqlstate[:2], "08", cm.exception.fields)
        self.assertIn("s3", cm.exception.message)
        self.assertLess(time.monotonic() - t0, 10)
        # A fan-out read needs s3 too: an error naming it, not a partial answer.
        c2 = self.raw(self.sg)
        c2.startup("postgres", cluster.dbname)
        with self.assertRaises(pgwire.PgError) as cm:
            c2.query("SELECT id, name FROM items")
        self.assertEqual(cm.exception.sqlstate[:2], "08", cm.exception.fields)
        self.assertIn("s3", cm.exception.message)
        # The other shards still work, for a new client and for the clients that saw errors.
        other = self.connect(self.sg, autocommit=True)
        for i in range(3):
            self.assertEqual(q(other, "SELECT name FROM items WHERE id = %s", (key_on(i),)),
                             [(f"row of s{i}",)])
        for rc in (c, c2):
            try:
                self.assertEqual(rc.query(f"SELECT name FROM items WHERE id = {key_on(0)}")
                                 [0].rows, [("row of s0",)])
            except ConnectionError:
                pass                               # closing the client is acceptable
        # Back up: served again (the dead pooled connections are not handed out).
        cluster.start_shard(3)

        def s3_answers():
            try:
                return q(other, "SELECT name FROM items WHERE id = %s", (key_on(3),))
            except psycopg2.Error:
                return None
        self.assertEqual(wait_until(s3_answers, 15, "s3 to be served again", 0.2),
                         [("row of s3",)])


class ConsoleTest(OpsCase):
    """Admin console, cancel, PAUSE/RESUME, TLS refused when not configured."""

    @classmethod
    def setUpClass(cls):
        cls.sg = start_proxy(cls, "ops_console", pool_size=3)

    def test_cancel_reaches_the_running_query(self):
        for shard in (0, 2):
            with self.subTest(shard=shard):
                conn = self.connect(self.sg, autocommit=True)
                sql = (f"SELECT pg_sleep(30), 'cancel-me-{shard}' FROM items "
                       f"WHERE id = {key_on(shard)}")
                t0 = time.monotonic()
                bg = Background(lambda: q(conn, sql, timeout=40))
                [(on_shard, _pid)] = wait_until(
                    lambda: active_queries(f"SELECT pg_sleep(30), 'cancel-me-{shard}'%"), 10,
                    "the query to run on a shard")
                self.assertEqual(on_shard, shard)
                conn.cancel()
                with self.assertRaises(psycopg2.Error) as cm:
                    bg.wait(10)
                self.assertEqual(cm.exception.pgcode, "57014", cm.exception)
                self.assertLess(time.monotonic() - t0, 15)
                self.assertEqual(q(conn, "SELECT name FROM items WHERE id = %s",
                                   (key_on(shard),)), [(f"row of s{shard}",)])

    def test_admin_console_commands_return_sensible_rows(self):
        client = self.connect(self.sg, autocommit=True, application_name="ops-client")
        q(client, "SELECT name FROM items WHERE id = %s", (key_on(1),))
        q(client, "SELECT name FROM items WHERE id = %s", (key_on(2),))
        admin = self.sg.admin_connect()
        self.addCleanup(admin.close)

        shards_rows = self.sg.admin("SHOW SHARDS", admin)
        self.assertEqual([r["name"] for r in shards_rows], ["s0", "s1", "s2", "s3"])
        self.assertEqual([int(r["port"]) for r in shards_rows],
                         [s.port for s in cluster.shards])
        self.assertEqual([r["name"] for r in shards_rows if r["default"] == "yes"], ["s0"])

        pools = self.sg.admin("SHOW POOLS", admin)
        mine = {r["shard"]: r for r in pools if r["user"] == "postgres"}
        for s in ("s1", "s2"):
            self.assertIn(s, mine, pools)
            r = mine[s]
            self.assertEqual(int(r["pool_size"]), 3)
            self.assertGreaterEqual(int(r["sv_total"]), 1)
            self.assertLessEqual(int(r["sv_total"]), 3)
            self.assertEqual(int(r["sv_active"]) + int(r["sv_idle"]), int(r["sv_total"]))
            self.assertEqual(int(r["cl_waiting"]), 0)

        clients = self.sg.admin("SHOW CLIENTS", admin)
        ours = [r for r in clients if r["application_name"] == "ops-client"]
        self.assertEqual(len(ours), 1, clients)
        self.assertEqual((ours[0]["user"], ours[0]["database"]), ("postgres", "app"))
        self.assertTrue(ours[0]["addr"].startswith("127.0.0.1"), ours[0])

        servers = self.sg.admin("SHOW SERVERS", admin)
        s1 = [r for r in servers if r["shard"] == "s1"]
        self.assertTrue(s1, servers)
        pids = {p for (p,) in shard_rows(shards[1], "SELECT pid FROM pg_stat_activity")}
        for r in s1:
            self.assertIn(int(r["backend_pid"]), pids, f"SHOW SERVERS lists {r}")

        [version] = self.sg.admin("SHOW VERSION", admin)
        self.assertRegex(list(version.values())[0], r"^shardgate \d")

        commands = " ".join(r["command"] for r in self.sg.admin("SHOW HELP", admin))
        for cmd in ("SHOW POOLS", "SHOW CLIENTS", "SHOW SERVERS", "SHOW SHARDS", "SHOW CONFIG",
                    "SHOW VERSION", "PAUSE", "RESUME", "RELOAD", "SHUTDOWN"):
            self.assertIn(cmd, commands)

        config = {r["key"]: r["value"] for r in self.sg.admin("SHOW CONFIG", admin)}
        self.assertEqual(config["proxy.pool_size"], "3")
        self.assertEqual(config["proxy.port"], str(self.sg.port))
        self.assertEqual(config["sharding.bucket_bits"], "12")

        stats = self.sg.admin("SHOW STATS", admin)
        per_user = [r for r in stats if r["scope"] == "user"]
        self.assertEqual(len(per_user), 1, stats)
        self.assertGreaterEqual(int(per_user[0]["queries"]), 2)
        self.assertEqual(sorted(r["shard"] for r in stats if r["scope"] == "shard"), ["s0", "s1", "s2", "s3"])
        [totals] = self.sg.admin("SHOW TOTALS", admin)
        self.assertGreaterEqual(int(totals["queries"]), 2)
        self.assertGreaterEqual(int(totals["clients_accepted"]), 1)

        with self.assertRaises(psycopg2.Error) as cm:
            self.sg.admin("SHOW NONSENSE", admin)
        self.assertIsNotNone(cm.exception.pgcode)
        self.assertEqual(self.sg.admin("SHOW VERSION", admin), [version])

    def test_non_admin_user_is_refused_on_the_console(self):
        c = self.raw(self.sg)
        with self.assertRaises(pgwire.PgError) as cm:
            c.startup("plain", "shardgate")
        self.assertEqual(cm.exception.severity, "FATAL")
        self.assertIn(cm.exception.sqlstate, {"28000", "42501"}, cm.exception.fields)
        self.assertIn("plain", cm.exception.message)
        with self.assertRaises(psycopg2.OperationalError):
            psycopg2.connect(self.sg.dsn(user="plain", dbname="shardgate"))
        # The same user is fine on the application database.
        conn = self.connect(self.sg, autocommit=True, user="plain")
        self.assertEqual(q(conn, "SELECT current_user"), [("plain",)])

    def test_pause_waits_for_open_transactions_and_holds_new_ones_until_resume(self):
        admin = self.sg.admin_connect()
        self.addCleanup(admin.close)
        self.addCleanup(lambda: self.sg.admin("RESUME"))
        intx = self.connect(self.sg)
        later = self.connect(self.sg, autocommit=True)
        q(intx, "INSERT INTO notes VALUES (7, 'pause')")            # a transaction is open
        pause = Background(lambda: self.sg.admin("PAUSE", admin))
        self.assertFalse(pause.done.wait(0.7), "PAUSE returned while a transaction was open")
        intx.commit()                                               # the open one may finish
        pause.wait(10)
        held = Background(lambda: q(later, "SELECT count(*) FROM notes WHERE id = 7"))
        self.assertFalse(held.done.wait(0.7), "a new transaction ran while paused")
        self.sg.admin("RESUME")
        self.assertEqual(held.wait(10), [(1,)])
        shard_rows(shards[0], "DELETE FROM notes")

    def test_sslmode_require_fails_cleanly_without_tls(self):
        with self.assertRaises(psycopg2.OperationalError) as cm:
            psycopg2.connect(self.sg.dsn(sslmode="require"))
        self.assertIn("SSL", str(cm.exception))
        conn = self.connect(self.sg, autocommit=True, sslmode="prefer")
        self.assertFalse(conn.info.ssl_in_use)
        self.assertEqual(q(conn, "SELECT 1"), [(1,)])


class ReloadTest(OpsCase):

    @classmethod
    def setUpClass(cls):
        cls.sg = start_proxy(cls, "ops_reload", pool_size=2)

    def pool_size_seen(self):
        config = {r["key"]: r["value"] for r in self.sg.admin("SHOW CONFIG")}
        pools = {r["pool_size"] for r in self.sg.admin("SHOW POOLS")}
        return config["proxy.pool_size"], pools

    def test_reload_and_sighup_apply_pool_size_without_dropping_clients(self):
        client = self.connect(self.sg, autocommit=True, application_name="stays")
        q(client, "SELECT name FROM items WHERE id = %s", (key_on(0),))
        [before] = [r["pid"] for r in self.sg.admin("SHOW CLIENTS")
                    if r["application_name"] == "stays"]
        self.assertEqual(self.pool_size_seen(), ("2", {"2"}))

        self.sg.write_config(pool_size=5)
        self.sg.admin("RELOAD")
        self.assertEqual(self.pool_size_seen(), ("5", {"5"}))
        self.assertEqual(q(client, "SELECT name FROM items WHERE id = %s", (key_on(1),)),
                         [("row of s1",)])

        self.sg.write_config(pool_size=7)
        os.kill(self.sg.pid, signal.SIGHUP)
        wait_until(lambda: self.pool_size_seen()[0] == "7", 10, "SIGHUP to apply pool_size 7")
        self.assertEqual(self.pool_size_seen(), ("7", {"7"}))
        self.assertEqual(q(client, "SELECT name FROM items WHERE id = %s", (key_on(2),)),
                         [("row of s2",)])
        self.assertEqual([r["pid"] for r in self.sg.admin("SHOW CLIENTS")
                          if r["application_name"] == "stays"], [before])

        # A broken file is rejected, the running config kept, the proxy alive.
        with open(self.sg.config_path, "a") as f:
            f.write("\n[proxy\nthis is not toml\n")
        with self.assertRaises(psycopg2.Error):
            self.sg.admin("RELOAD")
        os.kill(self.sg.pid, signal.SIGHUP)
        self.assertEqual(self.pool_size_seen(), ("7", {"7"}))
        self.assertTrue(self.sg.alive())
        self.sg.write_config()
        self.assertEqual(q(client, "SELECT 1"), [(1,)])


class SigtermTest(OpsCase):

    def test_sigterm_closes_idle_clients_and_lets_transactions_finish(self):
        sg = Proxy(cluster, "ops_sigterm", tables=TABLES, users=USERS,
                   proxy={"shutdown_timeout_s": 10}).start()
        self.addCleanup(sg.stop)
        idle = self.connect(sg, autocommit=True)
        q(idle, "SELECT 1")
        intx = self.connect(sg)
        q(intx, "INSERT INTO notes VALUES (100, 'in flight')")
        self.addCleanup(lambda: shard_rows(shards[0], "DELETE FROM notes"))
        proc = sg.proc.proc
        t0 = time.monotonic()
        os.kill(sg.pid, signal.SIGTERM)
        self.assertTrue(wait_readable(idle, 5), "the idle client was not closed")
        with self.assertRaises(psycopg2.Error):
            q(idle, "SELECT 1", timeout=5)
        # No new clients while draining.
        with self.assertRaises(psycopg2.OperationalError):
            psycopg2.connect(sg.dsn(connect_timeout=3))
        # The transaction may finish.
        q(intx, "INSERT INTO notes VALUES (101, 'in flight too')")
        intx.commit()
        self.assertEqual(shard_rows(shards[0], "SELECT id FROM notes ORDER BY id"),
                         [(100,), (101,)])
        # With no transaction left, the proxy exits well before shutdown_timeout_s.
        proc.wait(8)
        self.assertLess(time.monotonic() - t0, 9)
        self.assertEqual(proc.returncode, 0, sg.log_tail())

    def test_sigterm_ends_a_transaction_that_outlasts_shutdown_timeout(self):
        sg = Proxy(cluster, "ops_sigterm_timeout", tables=TABLES, users=USERS,
                   proxy={"shutdown_timeout_s": 1}).start()
        self.addCleanup(sg.stop)
        intx = self.connect(sg)
        q(intx, "INSERT INTO notes VALUES (200, 'never committed')")
        # A statement still running on a shard when the loop stops: its session's coroutine is
        # destroyed suspended, holding a server connection (once a use-after-free at exit).
        sleeper = self.connect(sg)
        running = Background(lambda: q(sleeper, "SELECT pg_sleep(30)", timeout=40))
        wait_until(lambda: shard_rows(shards[0], "SELECT count(*) FROM pg_stat_activity WHERE "
                                                 "query = 'SELECT pg_sleep(30)'")[0][0] >= 1,
                   5, "the sleeping statement to start")
        proc = sg.proc.proc
        t0 = time.monotonic()
        os.kill(sg.pid, signal.SIGTERM)
        proc.wait(10)
        self.assertGreaterEqual(time.monotonic() - t0, 0.9)
        self.assertLess(time.monotonic() - t0, 6)
        # A clean exit: no sanitizer report, no unhandled exception.
        self.assertEqual(proc.returncode, 0, sg.log_tail())
        with open(sg.log_path) as f:
            log = f.read()
        for bad in ("AddressSanitizer", "runtime error", "unhandled exception"):
            self.assertNotIn(bad, log)
        with self.assertRaises(psycopg2.Error):
            running.wait(10)
        with self.assertRaises(psycopg2.Error):
            q(intx, "SELECT 1", timeout=5)
        wait_until(lambda: shard_rows(shards[0], "SELECT count(*) FROM pg_stat_activity WHERE "
                                                 "state LIKE 'idle in transaction%'")[0][0] == 0,
                   5, "the abandoned transaction to end on s0")
        self.assertEqual(shard_rows(shards[0], "SELECT count(*) FROM notes WHERE id = 200"),
                         [(0,)])


class LimitsTest(OpsCase):

    def test_max_client_conn_exceeded_gives_53300(self):
        sg = Proxy(cluster, "ops_max_clients", tables=TABLES, users=USERS,
                   proxy={"max_client_conn": 3}).start()
        self.addCleanup(sg.stop)
        conns = [self.connect(sg, autocommit=True) for _ in range(3)]
        for c in conns:
            self.assertEqual(q(c, "SELECT 1"), [(1,)])
        c = self.raw(sg)
        with self.assertRaises(pgwire.PgError) as cm:
            c.startup("postgres", cluster.dbname)
        self.assertEqual(cm.exception.sqlstate, "53300", cm.exception.fields)
        self.assertEqual(cm.exception.severity, "FATAL")
        with self.assertRaises(psycopg2.OperationalError):
            psycopg2.connect(sg.dsn())
        conns[0].close()

        def fourth():
            try:
                return sg.connect(autocommit=True)
            except psycopg2.OperationalError:
                return None
        c4 = wait_until(fourth, 5, "a slot to free up after a client left")
        self.addCleanup(c4.close)
        self.assertEqual(q(c4, "SELECT 2"), [(2,)])

    def test_login_timeout_and_idle_client_timeout(self):
        sg = Proxy(cluster, "ops_timeouts", tables=TABLES, users=USERS,
                   proxy={"login_timeout_ms": 1000, "idle_client_timeout_s": 2}).start()
        self.addCleanup(sg.stop)
        # Clients that stay silent before or during login are closed after ~1 s.
        silent = self.raw(sg)
        half = self.raw(sg)
        half.send_raw(pgwire.startup_packet({"user": "app", "database": "app"}))
        self.assertEqual(half.recv_msg()[0], "R")          # asked for a password; none comes
        t0 = time.monotonic()
        self.assertTrue(silent.wait_closed(6), "a silent client outlived login_timeout_ms")
        self.assertTrue(half.wait_closed(6), "a client stuck in auth outlived login_timeout_ms")
        self.assertLess(time.monotonic() - t0, 6)
        # Idle outside a transaction: closed after ~2 s; inside one: left alone.
        idle = self.connect(sg, autocommit=True)
        q(idle, "SELECT 1")
        intx = self.connect(sg)
        q(intx, "SELECT count(*) FROM notes")
        t0 = time.monotonic()
        self.assertTrue(wait_readable(idle, 10), "an idle client outlived idle_client_timeout_s")
        self.assertGreaterEqual(time.monotonic() - t0, 1.5, "closed before the idle timeout")
        with self.assertRaises(psycopg2.Error):
            q(idle, "SELECT 1", timeout=5)
        self.assertEqual(q(intx, "SELECT 3"), [(3,)])
        intx.commit()
        # A client that keeps talking is never idle.
        busy = self.connect(sg, autocommit=True)
        for _ in range(5):
            self.assertEqual(q(busy, "SELECT 4"), [(4,)])
            time.sleep(0.5)


class TlsTest(OpsCase):

    @classmethod
    def setUpClass(cls):
        d = cluster.workdir
        cls.cert = os.path.join(d, "proxy.crt")
        cls.key = os.path.join(d, "proxy.key")
        r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                            "-keyout", cls.key, "-out", cls.cert],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError(f"openssl failed: {r.stderr}")
        cls.sg = start_proxy(cls, "ops_tls", tls_cert=cls.cert, tls_key=cls.key)

    def test_sslmode_require_uses_tls(self):
        conn = self.connect(self.sg, autocommit=True, sslmode="require")
        self.assertTrue(conn.info.ssl_in_use)
        self.assertEqual(conn.info.ssl_attribute("protocol")[:4], "TLSv")
        self.assertEqual(q(conn, "SELECT name FROM items WHERE id = %s", (key_on(2),)),
                         [("row of s2",)])

    def test_the_proxy_presents_its_certificate(self):
        conn = self.connect(self.sg, autocommit=True, sslmode="verify-full",
                            sslrootcert=self.cert)
        self.assertTrue(conn.info.ssl_in_use)
        self.assertEqual(q(conn, "SELECT 5"), [(5,)])

    def test_plain_text_is_still_allowed(self):
        conn = self.connect(self.sg, autocommit=True, sslmode="disable")
        self.assertFalse(conn.info.ssl_in_use)
        self.assertEqual(q(conn, "SELECT 6"), [(6,)])

    def test_plain_text_bytes_pipelined_after_ssl_request_are_refused(self):
        c = self.raw(self.sg)
        c.send_raw(struct.pack(">ii", 8, pgwire.SSL_REQUEST) +
                   pgwire.startup_packet({"user": "postgres", "database": "app"}))
        first = c.recv_byte(5)
        self.assertIn(first, (b"S", b"N", b"E", None))
        if first == b"E":
            c.buf = b"E" + c.buf
        try:
            closed = c.wait_closed(5)
            got = [t for t, _ in c.last_messages]
        except ValueError:                         # TLS alert bytes, not PG messages
            closed, got = True, []
        self.assertNotIn("R", got, "a startup sent before the TLS handshake was obeyed")
        self.assertTrue(closed, "the connection stayed open")
        conn = self.connect(self.sg, autocommit=True, sslmode="require")
        self.assertEqual(q(conn, "SELECT 7"), [(7,)])


class SessionParamsTest(OpsCase):

    @classmethod
    def setUpClass(cls):
        cls.sg = start_proxy(cls, "ops_session_params", pool_size=2)

    SETTINGS = [("Europe/Berlin", "ISO, MDY"), ("Asia/Tokyo", "SQL, DMY"),
                ("America/New_York", "German, DMY"), ("Australia/Sydney", "ISO, DMY"),
                ("Africa/Cairo", "Postgres, MDY"), ("UTC", "SQL, MDY")]

    def test_session_parameters_follow_each_client_across_pooled_connections(self):
        clients = []
        for i, (tz, ds) in enumerate(self.SETTINGS):
            c = self.connect(self.sg, autocommit=True, application_name=f"startup-{i}")
            q(c, f"SET application_name = 'client-{i}'")
            q(c, f"SET search_path = schema_{i}, public")
            q(c, f"SET TimeZone = '{tz}'")
            q(c, f"SET DateStyle = '{ds}'")
            clients.append(c)
        want = [(f"client-{i}", f"schema_{i}, public", tz, ds)
                for i, (tz, ds) in enumerate(self.SETTINGS)]
        probe = ("SELECT pg_backend_pid(), current_setting('application_name'), "
                 "current_setting('search_path'), current_setting('TimeZone'), "
                 "current_setting('DateStyle')")
        served_by = {}
        n = len(clients)
        for rnd in range(3):
            for i in range(n):
                # Client j holds one of the two server connections in a transaction while
                # client i is served by the other; then j checks its own inside its
                # transaction.
                j = (i + 1 + rnd) % n
                if j == i:
                    j = (i + 1) % n
                q(clients[j], "BEGIN")
                pid_j, *got_j = q(clients[j], probe)[0]
                pid_i, *got_i = q(clients[i], probe)[0]
                self.assertEqual(tuple(got_i), want[i], f"round {rnd}: client {i}")
                self.assertEqual(tuple(got_j), want[j], f"round {rnd}: client {j} in a tx")
                self.assertNotEqual(pid_i, pid_j)
                q(clients[j], "COMMIT")
                served_by.setdefault(pid_i, set()).add(i)
                served_by.setdefault(pid_j, set()).add(j)
        self.assertLessEqual(len(served_by), 2, "pool_size 2 used more server connections")
        self.assertTrue(any(len(v) > 1 for v in served_by.values()),
                        f"no server connection served two clients: {served_by}")
        # SET LOCAL lasts for its transaction only, and does not leak to other clients.
        q(clients[0], "BEGIN")
        q(clients[0], "SET LOCAL TimeZone = 'Pacific/Auckland'")
        self.assertEqual(q(clients[0], "SHOW TimeZone"), [("Pacific/Auckland",)])
        q(clients[0], "COMMIT")
        self.assertEqual(q(clients[0], "SHOW TimeZone"), [("Europe/Berlin",)])
        for i in range(1, n):
            self.assertEqual(q(clients[i], "SHOW TimeZone"), [(self.SETTINGS[i][0],)])
        # RESET returns to the value the client started with.
        q(clients[1], "RESET application_name")
        q(clients[2], "BEGIN")
        q(clients[2], "SELECT 1")
        self.assertEqual(q(clients[1], "SHOW application_name"), [("startup-1",)])
        q(clients[2], "COMMIT")
        self.assertEqual(q(clients[3], "SHOW application_name"), [("client-3",)])


if __name__ == "__main__":
    unittest.main()
