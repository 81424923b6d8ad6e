"""Reads on replicas (issue 19, second part), against real PostgreSQL 15 streaming standbys
(pg_basebackup -R by the harness) and the real proxy.

Two shards, each with one standby. The proxy's checks log in as `checker`, an ordinary role
without pg_read_all_stats (as an application's role usually is), and clients as `app`.
Figures are printed with a "FIGURE" prefix (ctest -V shows them).
"""

import itertools
import os
import re
import signal
import threading
import time
import unittest
import urllib.request

import psycopg
import psycopg2

import pgcluster
import pgwire
from sgfixture import Deadline, Proxy, shard_of

N = 2
WATCHDOG_S = 240
TABLES = [{"name": "items", "shard_key": "id", "key_type": "bigint"}]
SCHEMA = ("CREATE ROLE checker LOGIN; CREATE ROLE checker2 LOGIN; CREATE ROLE app LOGIN; "
          "CREATE TABLE items (id bigint PRIMARY KEY, name text); GRANT ALL ON items TO app;")
USERS = [{"name": "checker", "password": "", "auth": "trust"},
         {"name": "app", "password": "", "auth": "trust"},
         {"name": "postgres", "password": "", "auth": "trust", "admin": True}]
IN_RECOVERY = "SELECT pg_is_in_recovery()"

cluster = None
standbys = []
sg = None


def keys_on(shard, n, start=1):
    return list(itertools.islice((k for k in itertools.count(start) if shard_of(k, "bigint", N) == shard), n))


def setUpModule():
    global cluster, standbys, sg
    cluster, standbys = pgcluster.start_module_cluster(N, SCHEMA, WATCHDOG_S, standbys_of=range(N))
    sg = Proxy(cluster, "replica_reads", tables=TABLES, users=USERS, user="app",
               proxy={"read_from": "replica", "max_replica_lag_ms": 1000, "read_your_writes_ms": 1000,
                      "pool_size": 8},
               health={"check_interval_ms": 200, "check_timeout_ms": 1000})
    sg.start()
    unittest.addModuleCleanup(sg.stop)


def admin(proxy, sql):
    c = proxy.admin_connect(user="postgres")
    try:
        return proxy.admin(sql, conn=c)
    finally:
        c.close()


def q(conn, sql, params=None, timeout=20):
    with Deadline(conn, timeout, sql[:80]), conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall() if cur.description else []


def endpoint_state(proxy, shard, server):
    row = next(r for r in admin(proxy, "SHOW SHARDS") if r["name"] == f"s{shard}")
    m = re.search(rf"{server.host}:{server.port} \S+ (\S+)", row["endpoints"])
    return m.group(1) if m else None


def wait_for(pred, timeout, what, proxy=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.02)
    p = proxy or sg
    raise AssertionError(f"not within {timeout}s: {what}; shards: {admin(p, 'SHOW SHARDS')}\n{p.log_tail()}")


def metric(port, name, shard):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    m = re.search(rf'^{name}{{shard="s{shard}"[^}}]*}} (\S+)$', text, re.M)
    return float(m.group(1)) if m else None


class T1UnprivilegedChecks(unittest.TestCase):
    def test_standbys_serve_reads_when_the_check_login_cannot_see_the_receiver_status(self):
        # pg_stat_wal_receiver hides its status from `checker`: the standbys must still be
        # judged streaming (they were banned as "detached" before).
        for i in range(N):
            wait_for(lambda: endpoint_state(sg, i, standbys[i]) == "standby", 20, f"s{i}'s standby is eligible")
        c = sg.connect(autocommit=True)
        try:
            for i in range(N):
                self.assertEqual(q(c, f"/* shardgate.shard=s{i} */ {IN_RECOVERY}"), [(True,)])
        finally:
            c.close()


class T2SlowCheck(unittest.TestCase):
    def test_a_stalled_check_does_not_open_the_breaker_of_a_serving_shard(self):
        # One failed check opens the breaker (breaker_failures = 1). The check's own backend is
        # stopped while the shard goes on answering a client's statements: the failure is the
        # check's, not the shard's, and nothing may fail.
        mport = pgcluster.free_port()
        # Its checks log in as `checker2`: nothing else does (the module's proxy uses `checker`).
        users = [{"name": "checker2", "password": "", "auth": "trust"}] + USERS[1:]
        p = Proxy(cluster, "slow_check", tables=TABLES, users=users, user="app", proxy={"pool_size": 4},
                  admin={"http_listen": f"127.0.0.1:{mport}"},
                  health={"breaker_failures": 1, "check_interval_ms": 100, "check_timeout_ms": 300})
        p.start()
        self.addCleanup(p.stop)
        k = keys_on(0, 1)[0]
        stop = threading.Event()
        errors, done = [], [0]

        def reader():
            c = p.connect(autocommit=True)
            try:
                while not stop.is_set():
                    try:
                        q(c, "SELECT name FROM items WHERE id = %s", (k,), timeout=10)
                        done[0] += 1
                    except psycopg2.Error as e:
                        errors.append(str(e).strip())
                        time.sleep(0.01)
            finally:
                c.close()

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        self.addCleanup(t.join, 15)
        self.addCleanup(stop.set)
        # The health check's connection: `checker`'s, its last query the empty one (the role
        # checks ask pg_is_in_recovery(), the map-stamp watcher reads its table).
        check_sql = "SELECT pid FROM pg_stat_activity WHERE usename = 'checker2' AND query = '' AND state = 'idle'"
        pid = int(wait_for(lambda: cluster.psql(0, check_sql), 10, "the health check's backend", p)[0][0])
        os.kill(pid, signal.SIGSTOP)
        try:
            wait_for(lambda: (metric(mport, "shardgate_shard_checks_overruled_total", 0) or 0) >= 1, 5,
                     "a failed check overruled by the client's answered statements", p)
            time.sleep(0.5)
        finally:
            os.kill(pid, signal.SIGCONT)
        stop.set()
        t.join(15)
        self.assertEqual(errors, [])
        self.assertGreater(done[0], 0)
        self.assertEqual(metric(mport, "shardgate_shard_breaker_opens_total", 0), 0)
        self.assertEqual(metric(mport, "shardgate_shard_up", 0), 1)


def standby_queries(proxy):
    """Statements run so far on each shard's standby connections (SHOW SERVERS), by shard name."""
    out = {}
    for r in admin(proxy, "SHOW SERVERS"):
        if r["role"] == "standby":
            out[r["shard"]] = out.get(r["shard"], 0) + int(r["queries"])
    return out


def primaries_count():
    return sum(int(cluster.psql(i, "SELECT count(*) FROM items")[0][0]) for i in range(N))


def replayed_everything(i):
    lsn = cluster.psql(i, "SELECT pg_current_wal_lsn()")[0][0]
    return cluster.psql_at(standbys[i], f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'")[0][0] == "t"


class T3FanOut(unittest.TestCase):
    def test_fan_out_reads_use_each_shards_standby_by_the_single_shard_rules(self):
        for i in range(N):
            for k in keys_on(i, 20, start=1000):
                cluster.psql(i, f"INSERT INTO items VALUES ({k}, 'fan') ON CONFLICT DO NOTHING")
            wait_for(lambda: replayed_everything(i), 20, f"s{i}'s standby replayed the rows")
            wait_for(lambda: endpoint_state(sg, i, standbys[i]) == "standby", 20, f"s{i}'s standby is eligible")
        c = sg.connect(autocommit=True)
        try:
            ids = sorted(int(r[0]) for i in range(N) for r in cluster.psql(i, "SELECT id FROM items"))
            # The standbys' snapshots may trail their replay position briefly on a loaded
            # machine (a fresh-clone run once read 39 of 40 rows right after the replay check):
            # wait, bounded, until the fan-out over the standbys sees every row, then compare.
            wait_for(lambda: q(c, "SELECT count(*) FROM items") == [(primaries_count(),)], 10,
                     "the fan-out over the standbys sees every row")
            before = standby_queries(sg)
            for _ in range(5):
                self.assertEqual(q(c, "SELECT count(*) FROM items"), [(primaries_count(),)])
                self.assertEqual([r[0] for r in q(c, "SELECT id FROM items ORDER BY id")], ids)
            after = standby_queries(sg)
            for i in range(N):  # every shard's standby served the legs (10 statements each)
                self.assertGreaterEqual(after.get(f"s{i}", 0) - before.get(f"s{i}", 0), 10, (before, after))

            # s1's standby stops replaying and rows arrive on s1: once it is past the lag bound
            # the fan-out's s1 leg reads the primary, the s0 leg still its standby.
            cluster.psql_at(standbys[1], "SELECT pg_wal_replay_pause()")
            try:
                for k in keys_on(1, 5, start=5000):
                    cluster.psql(1, f"INSERT INTO items VALUES ({k}, 'late')")
                wait_for(lambda: endpoint_state(sg, 1, standbys[1]) == "lagging", 10, "s1's standby is lagging")
                before = standby_queries(sg)
                self.assertEqual(q(c, "SELECT count(*) FROM items"), [(primaries_count(),)])
                self.assertEqual(q(c, "SELECT count(*) FROM items WHERE name = 'late'"), [(5,)])
                after = standby_queries(sg)
                self.assertEqual(after.get("s1", 0), before.get("s1", 0), (before, after))
                self.assertGreaterEqual(after.get("s0", 0) - before.get("s0", 0), 2, (before, after))

                # Read your writes: the client's own write is seen by its next fan-out read
                # (every leg on the primaries), even before s1's standby could have it.
                k = keys_on(1, 1, start=9000)[0]
                q(c, f"INSERT INTO items VALUES ({k}, 'mine')")
                before = standby_queries(sg)
                self.assertEqual(q(c, "SELECT count(*) FROM items WHERE name = 'mine'"), [(1,)])
                self.assertEqual(q(c, "SELECT count(*) FROM items"), [(primaries_count(),)])
                self.assertEqual(standby_queries(sg), before)
            finally:
                cluster.psql_at(standbys[1], "SELECT pg_wal_replay_resume()")
            wait_for(lambda: endpoint_state(sg, 1, standbys[1]) == "standby", 10, "s1's standby is back")
            time.sleep(1.1)  # past read_your_writes_ms
            before = standby_queries(sg)
            self.assertEqual(q(c, "SELECT count(*) FROM items"), [(primaries_count(),)])
            after = standby_queries(sg)
            for i in range(N):
                self.assertGreater(after.get(f"s{i}", 0), before.get(f"s{i}", 0), (before, after))
            # Inside a transaction a fan-out read stays on the primaries.
            c.autocommit = False
            before = standby_queries(sg)
            self.assertEqual(q(c, "SELECT count(*) FROM items"), [(primaries_count(),)])
            c.rollback()
            self.assertEqual(standby_queries(sg), before)
        finally:
            c.close()


class T3ExtendedFanOut(unittest.TestCase):
    """Extended-protocol reads on several shards (psycopg 3, server-side prepared statements)
    pick each shard's endpoint by the simple protocol's rules. Each row says where it was read
    (pg_is_in_recovery() is on the read-only allow-list)."""

    def test_prepared_multi_shard_reads_use_the_standbys(self):
        rows = {i: keys_on(i, 6, start=20000) for i in range(N)}
        for i in range(N):
            cluster.psql(i, "INSERT INTO items VALUES " + ", ".join(f"({k}, 'ext')" for k in rows[i]) +
                         " ON CONFLICT DO NOTHING")
        for i in range(N):
            wait_for(lambda: replayed_everything(i), 20, f"s{i}'s standby replayed the rows")
            wait_for(lambda: endpoint_state(sg, i, standbys[i]) == "standby", 20, f"s{i}'s standby is eligible")
        # As one PostgreSQL holding every row would answer (the primaries' rows, merged).
        expected = sorted((int(r[0]), r[1]) for i in range(N)
                          for r in cluster.psql(i, "SELECT id, name FROM items WHERE name = 'ext'"))
        self.assertEqual(len(expected), 6 * N)
        merged = "SELECT id, name, pg_is_in_recovery() AS standby FROM items WHERE name = %s ORDER BY id"
        plain = "SELECT id, name, pg_is_in_recovery() AS standby FROM items WHERE name = %s"
        counted = "SELECT count(*) AS n FROM items WHERE name = %s AND pg_is_in_recovery()"
        with psycopg.connect(sg.dsn(), autocommit=True, prepare_threshold=0) as c:
            def run(sql, params=("ext",)):
                with Deadline(c, 20, sql[:60]), c.cursor() as cur:
                    cur.execute(sql, params, prepare=True)
                    if cur.description is None:
                        return None, []
                    return [d.name for d in cur.description], cur.fetchall()

            # The standbys' snapshots may trail their replay position briefly: bounded wait.
            wait_for(lambda: run(counted)[1] == [(6 * N,)], 10, "every leg reads a standby that sees the rows")
            for _ in range(3):
                names, got = run(merged)
                self.assertEqual(names, ["id", "name", "standby"])
                self.assertEqual([(r[0], r[1]) for r in got], expected)
                self.assertTrue(all(r[2] for r in got), got)  # every leg on its standby
                names, got = run(plain)
                self.assertEqual(sorted((r[0], r[1]) for r in got), expected)
                self.assertTrue(all(r[2] for r in got), got)
                self.assertEqual(run(counted), (["n"], [(6 * N,)]))
            # FOR UPDATE takes row locks only a primary can hold: the primaries.
            got = run("SELECT id, pg_is_in_recovery() FROM items WHERE name = %s FOR UPDATE")[1]
            self.assertEqual(sorted(r[0] for r in got), [k for k, _ in expected])
            self.assertFalse(any(r[1] for r in got), got)
            # Inside a transaction: the primaries.
            c.autocommit = False
            names, got = run(merged)
            self.assertEqual([(r[0], r[1]) for r in got], expected)
            self.assertFalse(any(r[2] for r in got), got)
            c.rollback()
            c.autocommit = True
            # Read your writes: after the client's own (prepared) write, its fan-out reads the
            # primaries for read_your_writes_ms (1 s here), and sees the row.
            k = keys_on(0, 1, start=30000)[0]
            run("INSERT INTO items VALUES (%s, %s)", (k, "ext"))
            names, got = run(merged)
            self.assertEqual([(r[0], r[1]) for r in got], sorted(expected + [(k, "ext")]))
            self.assertFalse(any(r[2] for r in got), got)
            run("DELETE FROM items WHERE id = %s", (k,))


class Reader(threading.Thread):
    """A client reading one key in a loop until stopped; errors and answers kept with times."""

    def __init__(self, proxy, sql, params=None):
        super().__init__(daemon=True)
        self.proxy, self.sql, self.params = proxy, sql, params
        self.stop_event = threading.Event()
        self.errors, self.answers = [], []

    def run(self):
        c = self.proxy.connect(autocommit=True)
        try:
            while not self.stop_event.is_set():
                try:
                    rows = q(c, self.sql, self.params, timeout=10)
                    self.answers.append((time.monotonic(), rows))
                except psycopg2.Error as e:
                    self.errors.append((time.monotonic(), str(e).strip()))
                    if c.closed:
                        c = self.proxy.connect(autocommit=True)
                    time.sleep(0.005)
        finally:
            c.close()

    def finish(self):
        self.stop_event.set()
        self.join(15)


class T4Reload(unittest.TestCase):
    def test_reload_adds_changes_and_removes_a_standby(self):
        p = Proxy(cluster, "reload_replicas", tables=TABLES, users=USERS, user="app", replicas=False,
                  proxy={"read_from": "replica", "pool_size": 4}, health={"check_interval_ms": 100})
        p.start()
        self.addCleanup(p.stop)
        where = f"/* shardgate.shard=s0 */ {IN_RECOVERY}"
        r = Reader(p, where)
        r.start()
        self.addCleanup(r.finish)

        def reading(value):
            n = len(r.answers)
            wait_for(lambda: len(r.answers) > n + 5, 10, "the reader goes on", p)
            return all(a[1] == [(value,)] for a in r.answers[n + 1:])

        self.assertTrue(reading(False))  # no standby listed: the primary
        # A standby listed at a wrong address: it is down, reads stay on the primary.
        bogus = pgcluster.free_port()
        p.replicas = True
        p.write_config()
        with open(p.config_path) as f:
            text = f.read()
        with open(p.config_path, "w") as f:
            f.write(text.replace(f"port = {standbys[0].port} }}", f"port = {bogus} }}"))
        admin(p, "RELOAD")
        wait_for(lambda: "down" in next(x for x in admin(p, "SHOW SHARDS") if x["name"] == "s0")["endpoints"], 10,
                 "the standby at the wrong address is down", p)
        self.assertTrue(reading(False))
        # Its address corrected: it serves the reads.
        p.write_config()
        admin(p, "RELOAD")
        wait_for(lambda: endpoint_state(p, 0, standbys[0]) == "standby", 10, "the corrected standby is eligible", p)
        self.assertTrue(reading(True))
        self.assertTrue(any(s["role"] == "standby" and s["shard"] == "s0" for s in admin(p, "SHOW SERVERS")))
        # Removed again: reads leave it and its connections close.
        p.replicas = False
        p.write_config()
        admin(p, "RELOAD")
        self.assertTrue(reading(False))
        wait_for(lambda: not any(s["role"] == "standby" and s["shard"] == "s0" for s in admin(p, "SHOW SERVERS")),
                 5, "the removed standby's connections close", p)
        r.finish()
        self.assertEqual(r.errors, [])
        self.assertGreater(len(r.answers), 20)


def backend_running(server, marker, timeout=10):
    """The pid of the backend of `server` running a statement that contains `marker`."""
    sql = (f"SELECT pid FROM pg_stat_activity WHERE query LIKE '%{marker}%' "
           "AND query NOT LIKE '%pg_stat_activity%' AND state = 'active'")
    return int(wait_for(lambda: (cluster.psql_at(server, sql) or [[None]])[0][0], timeout,
                        f"a backend of {server.host}:{server.port} runs {marker}"))


def read_retries(port, shard, reason):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    m = re.search(rf'^shardgate_shard_read_retries_total{{shard="s{shard}",[^}}]*reason="{reason}"}} (\S+)$', text, re.M)
    return float(m.group(1)) if m else None


class T5LostReadRetry(unittest.TestCase):
    """A read whose server connection is lost after it was sent, before any byte of its answer
    reached the client, is sent once to another endpoint; a write in that situation fails."""

    def test_a_read_lost_before_its_answer_goes_to_another_endpoint(self):
        mport = pgcluster.free_port()
        p = Proxy(cluster, "lost_read", tables=TABLES, users=USERS, user="app",
                  proxy={"read_from": "replica", "pool_size": 4, "read_your_writes_ms": 0},
                  admin={"http_listen": f"127.0.0.1:{mport}"},
                  health={"check_interval_ms": 200, "check_timeout_ms": 1000})
        p.start()
        self.addCleanup(p.stop)
        k = keys_on(0, 1, start=40000)[0]
        cluster.psql(0, f"INSERT INTO items VALUES ({k}, 'slow') ON CONFLICT DO NOTHING")
        wait_for(lambda: replayed_everything(0), 20, "s0's standby replayed the row")
        wait_for(lambda: endpoint_state(p, 0, standbys[0]) == "standby", 20, "s0's standby is eligible", p)
        # pg_sleep is on the read-only allow-list: the read goes to the standby (read_from = replica).
        slow = "SELECT name, pg_is_in_recovery(), pg_sleep({s})::text FROM items WHERE id = %s"
        c = p.connect(autocommit=True)
        self.addCleanup(c.close)
        self.assertEqual(q(c, slow.format(s=0), (k,)), [("slow", True, "")])

        def lost_on_standby(conn, sql, kill, run=None):
            """Runs `sql` on `conn` in a thread; kills its standby backend while it sleeps."""
            out = {}

            def go():
                try:
                    out["rows"] = run() if run else q(conn, sql, (k,))
                except Exception as e:  # noqa: BLE001 (reported below)
                    out["error"] = e
            t = threading.Thread(target=go, daemon=True)
            t.start()
            pid = backend_running(standbys[0], "pg_sleep(1.5", 10)
            kill(pid)
            t.join(20)
            self.assertFalse(t.is_alive())
            return out

        before = read_retries(mport, 0, "lost")
        # Terminated (57P01 FATAL from the standby, held and dropped): answered by the primary,
        # the other endpoint, on the same client connection.
        out = lost_on_standby(c, slow.format(s=1.5),
                              lambda pid: cluster.psql_at(standbys[0], f"SELECT pg_terminate_backend({pid})"))
        self.assertEqual(out, {"rows": [("slow", False, "")]})
        # The same through the extended protocol (psycopg 3, a server-side prepared statement).
        with psycopg.connect(p.dsn(), autocommit=True, prepare_threshold=0) as c3:
            def run3():
                with Deadline(c3, 20, "prepared slow read"), c3.cursor() as cur:
                    cur.execute(slow.format(s=1.5), (k,), prepare=True)
                    return cur.fetchall()
            out = lost_on_standby(c3, None,
                                  lambda pid: cluster.psql_at(standbys[0], f"SELECT pg_terminate_backend({pid})"),
                                  run=run3)
            self.assertEqual(out, {"rows": [("slow", False, "")]})
        # Killed outright (SIGKILL: no last words; the standby restarts).
        out = lost_on_standby(c, slow.format(s=1.5), lambda pid: os.kill(pid, signal.SIGKILL))
        self.assertEqual(out, {"rows": [("slow", False, "")]})
        self.assertEqual(read_retries(mport, 0, "lost") - before, 3)
        self.assertEqual(q(c, "SELECT name FROM items WHERE id = %s", (k,)), [("slow",)])  # the session goes on

        # A write in the same situation is never retried: what the shard said (57P01), then
        # 08006, as before; no CommandComplete.
        w = pgwire.WireConn("127.0.0.1", p.port, timeout=20)
        self.addCleanup(w.close)
        w.startup("app", cluster.dbname)
        w.send("Q", f"UPDATE items SET name = 'slow' WHERE id = {k} AND pg_sleep(1.5)::text = ''".encode() + b"\0")
        pid = backend_running(cluster.shards[0], "pg_sleep(", 10)
        cluster.psql(0, f"SELECT pg_terminate_backend({pid})")
        msgs = w.recv_until_closed(20)
        errors = [pgwire.parse_error_fields(m[1]).get("C") for m in msgs if m[0] == "E"]
        self.assertEqual(errors, ["57P01", "08006"], msgs)
        self.assertNotIn("C", [m[0] for m in msgs])
        self.assertEqual(read_retries(mport, 0, "lost") - before, 3)
        print("FIGURE lost read retry: 3 reads lost on s0's standby (terminated twice, simple and extended "
              "protocol; SIGKILL once) answered by the primary; a write lost the same way got 57P01 then 08006",
              flush=True)
        wait_for(lambda: endpoint_state(p, 0, standbys[0]) == "standby", 30, "s0's standby is back", p)


class T9PrimaryCrash(unittest.TestCase):
    """Last: s1's primary is crashed (the module's cluster is left without it)."""

    def test_reads_are_retried_on_the_standby_when_the_primary_dies(self):
        mport = pgcluster.free_port()
        p = Proxy(cluster, "read_retry", tables=TABLES, users=USERS, user="app",
                  proxy={"read_from": "any", "pool_size": 8, "connect_timeout_ms": 1000},
                  admin={"http_listen": f"127.0.0.1:{mport}"},
                  health={"check_interval_ms": 200, "check_timeout_ms": 500})
        p.start()
        self.addCleanup(p.stop)
        k = keys_on(1, 1, start=1000)[0]
        wait_for(lambda: endpoint_state(p, 1, standbys[1]) == "standby", 10, "s1's standby is eligible", p)
        readers = [Reader(p, "SELECT name FROM items WHERE id = %s", (k,)) for _ in range(4)]
        for r in readers:
            r.start()
            self.addCleanup(r.finish)
        time.sleep(0.5)
        crashed_at = time.monotonic()
        cluster.crash(cluster.shards[1])
        time.sleep(1.5)
        for r in readers:
            r.finish()
        errors = [e for r in readers for e in r.errors]
        after = sum(1 for r in readers for a in r.answers if a[0] > crashed_at)
        unreachable, lost = read_retries(mport, 1, "unreachable"), read_retries(mport, 1, "lost")
        print(f"FIGURE read retry: primary of s1 crashed under 4 readers (read_from = any): {len(errors)} read "
              f"error(s), {after} reads answered in the 1.5 s after, reads retried on another endpoint: "
              f"{unreachable:.0f} unreachable, {lost:.0f} lost after sending; errors: {errors[:4]}", flush=True)
        self.assertGreater(after, 20)
        self.assertTrue(all(a[1] == [("fan",)] for r in readers for a in r.answers))
        # No read fails: one that finds its endpoint unreachable (connect failure, breaker open,
        # its new connection lost during the map stamp check) goes to the standby, and so does
        # one already sent to the primary when it died (the client had seen nothing of it: the
        # proxy held its answer's start and the primary's last words).
        self.assertEqual(errors, [])


if __name__ == "__main__":
    unittest.main()
