"""Replicas, read routing and failover (issue 19), against real PostgreSQL 15 streaming
standbys made by the harness (pg_basebackup -R) and the real proxy.

Two shards: s0 (the default shard, no standby) and s1 with one standby. The tests run in
order: routing, then replay lag (pause/resume on the standby), then failover (the primary of
s1 is crashed under load and the standby promoted), which ends the standby's life as one.
Figures are printed with a "FIGURE" prefix (ctest -V shows them).
"""

import itertools
import os
import re
import threading
import time
import unittest
import urllib.request

import psycopg2

import pgcluster
from sgfixture import Deadline, Proxy, shard_of

N = 2
REPLICATED = 1
WATCHDOG_S = 300
MAX_LAG_MS = 1000
RYW_MS = 1500
TABLES = [{"name": "items", "shard_key": "id", "key_type": "bigint"}]
SCHEMA = "CREATE TABLE items (id bigint PRIMARY KEY, name text);"
IN_RECOVERY = "SELECT pg_is_in_recovery()"

cluster = None
standby = None
sg = None
metrics_port = None


def keys_on(shard, n, start=1):
    return list(itertools.islice((k for k in itertools.count(start) if shard_of(k, "bigint", N) == shard), n))


def setUpModule():
    global cluster, standby, sg, metrics_port
    cluster, (standby,) = pgcluster.start_module_cluster(N, SCHEMA, WATCHDOG_S, standbys_of=[REPLICATED])
    metrics_port = pgcluster.free_port()
    sg = Proxy(cluster, "replicas", tables=TABLES,
               proxy={"read_from": "replica", "max_replica_lag_ms": MAX_LAG_MS,
                      "read_your_writes_ms": RYW_MS, "pool_size": 8},
               admin={"http_listen": f"127.0.0.1:{metrics_port}"},
               health={"check_interval_ms": 200, "check_timeout_ms": 500},
               # Two-phase-commit recovery every second, foreign leftovers after one second.
               extra_toml="[transactions]\nrecovery_interval_s = 1\nrecovery_grace_s = 1\n"
                          "step_timeout_ms = 400")
    sg.start()
    unittest.addModuleCleanup(sg.stop)


def q(conn, sql, params=None, timeout=20):
    with Deadline(conn, timeout, sql[:80]), conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall() if cur.description else []


def on_s1(sql):
    return f"/* shardgate.shard=s{REPLICATED} */ {sql}"


def endpoints():
    row = next(r for r in sg.admin("SHOW SHARDS") if r["name"] == f"s{REPLICATED}")
    return row["endpoints"]


def metrics():
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as r:
        return r.read().decode()


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError(f"not within {timeout}s: {what}; endpoints: {endpoints()}\n{sg.log_tail()}")


def standby_state():
    m = re.search(rf"{standby.host}:{standby.port} standby (\S+)", endpoints())
    return m.group(1) if m else None


class T1Routing(unittest.TestCase):
    def test_reads_on_the_standby_writes_on_the_primary(self):
        wait_for(lambda: standby_state() == "standby", 20, "the standby is eligible for reads")
        c = sg.connect(autocommit=True)
        try:
            # A plain read with read_from = replica: the standby answers.
            self.assertEqual(q(c, on_s1(IN_RECOVERY)), [(True,)])
            # Its server connection is listed with the standby's address and role.
            servers = [s for s in sg.admin("SHOW SERVERS") if s["role"] == "standby"]
            self.assertTrue(servers)
            self.assertTrue(all(s["addr"] == f"{standby.host}:{standby.port}" for s in servers))
            # The shard without a standby reads from its primary.
            self.assertEqual(q(c, f"/* shardgate.shard=s0 */ {IN_RECOVERY}"), [(False,)])
            # What must stay on the primary (a row to lock first; then past read-your-writes).
            k = keys_on(REPLICATED, 1)[0]
            q(c, f"INSERT INTO items VALUES ({k}, 'x') ON CONFLICT DO NOTHING")
            time.sleep(RYW_MS / 1000 + 0.1)
            for sql in (on_s1("/* shardgate.read_from=primary */ " + IN_RECOVERY),
                        f"SELECT pg_is_in_recovery() FROM items WHERE id = {k} FOR UPDATE",
                        on_s1("SELECT pg_is_in_recovery() FROM (SELECT txid_current()) t")):
                self.assertEqual(q(c, sql), [(False,)], sql)
            # Those count as writes: the next plain read follows them to the primary.
            self.assertEqual(q(c, on_s1(IN_RECOVERY)), [(False,)])
            time.sleep(RYW_MS / 1000 + 0.1)
            self.assertEqual(q(c, on_s1(IN_RECOVERY)), [(True,)])
            c.autocommit = False
            self.assertEqual(q(c, on_s1(IN_RECOVERY)), [(False,)])  # inside a transaction
            c.rollback()
        finally:
            c.close()

    def test_writes_land_on_the_primary_and_are_read_back(self):
        c = sg.connect(autocommit=True)
        try:
            k = keys_on(REPLICATED, 2)[1]
            q(c, f"INSERT INTO items VALUES ({k}, 'written') ON CONFLICT (id) DO UPDATE SET name = 'written'")
            direct = cluster.psql(REPLICATED, f"SELECT name FROM items WHERE id = {k}")
            self.assertEqual(direct, [("written",)])
            # Right after its write the client reads from the primary (read_your_writes_ms) ...
            self.assertEqual(q(c, f"SELECT name, pg_is_in_recovery() FROM items WHERE id = {k}"),
                             [("written", False)])
            # ... and later from the standby, which has the row by then.
            time.sleep(RYW_MS / 1000 + 0.1)
            self.assertEqual(q(c, f"SELECT name, pg_is_in_recovery() FROM items WHERE id = {k}"),
                             [("written", True)])
            # Another client that did not write reads from the standby at once.
            d = sg.connect(autocommit=True)
            try:
                self.assertEqual(q(d, on_s1(IN_RECOVERY)), [(True,)])
            finally:
                d.close()
        finally:
            c.close()

    def test_bad_hint_is_refused(self):
        c = sg.connect(autocommit=True)
        try:
            with self.assertRaises(psycopg2.Error) as e:
                q(c, on_s1("/* shardgate.read_from=standby */ SELECT 1"))
            self.assertEqual(e.exception.pgcode, "22023")
        finally:
            c.close()


class T2Lag(unittest.TestCase):
    def test_reads_leave_a_lagging_standby_and_come_back(self):
        wait_for(lambda: standby_state() == "standby", 20, "the standby is eligible for reads")
        reader = sg.connect(autocommit=True)
        try:
            self.assertEqual(q(reader, on_s1(IN_RECOVERY)), [(True,)])
            t0 = time.monotonic()
            cluster.psql_at(standby, "SELECT pg_wal_replay_pause()")
            try:
                paused_at = time.monotonic()
                k = keys_on(REPLICATED, 3)[2]
                cluster.psql(REPLICATED, f"INSERT INTO items VALUES ({k}, 'lag') ON CONFLICT DO NOTHING")
                print(f"FIGURE lag: pause took {paused_at - t0:.2f}s, the write {time.monotonic() - paused_at:.2f}s",
                      flush=True)
                # The standby's lag passes the bound: reads move to the primary.
                wait_for(lambda: q(reader, on_s1(IN_RECOVERY)) == [(False,)], 10,
                         "reads move off the lagging standby")
                moved = time.monotonic() - paused_at
                print(f"FIGURE lag: reads left the paused standby {moved:.2f}s after the write "
                      f"(max_replica_lag_ms={MAX_LAG_MS})", flush=True)
                self.assertEqual(standby_state(), "lagging")
                m = re.search(r'shardgate_replica_lag_seconds\{[^}]*role="standby"\} (\S+)', metrics())
                self.assertTrue(m and float(m.group(1)) > MAX_LAG_MS / 1000, metrics())
                # The row is not on the standby: the proxy never served a read from it meanwhile.
                self.assertEqual(cluster.psql_at(standby, f"SELECT count(*) FROM items WHERE id = {k}"), [("0",)])
            finally:
                cluster.psql_at(standby, "SELECT pg_wal_replay_resume()")
            resumed = time.monotonic()
            wait_for(lambda: q(reader, on_s1(IN_RECOVERY)) == [(True,)], 10, "reads come back")
            print(f"FIGURE lag: reads back on the standby {time.monotonic() - resumed:.2f}s after "
                  f"pg_wal_replay_resume()", flush=True)
            self.assertEqual(q(reader, on_s1(f"SELECT count(*) FROM items WHERE id = {k}")), [(1,)])
        finally:
            reader.close()


class Load:
    """A client thread running `step(conn, i)` in a loop until stopped, recording
    (monotonic time, ok, sqlstate, message) per statement; reconnects after a lost connection."""

    def __init__(self, name, step, **conn_params):
        self.name = name
        self.step = step
        self.conn_params = conn_params
        self.events = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        conn = None
        i = 0
        while not self.stop.is_set():
            i += 1
            try:
                if conn is None or conn.closed:
                    conn = sg.connect(autocommit=True, **self.conn_params)
                result = self.step(conn, i)
                self.events.append((time.monotonic(), True, None, result))
            except Exception as e:  # noqa: BLE001 - every failure is recorded
                self.events.append((time.monotonic(), False, getattr(e, "pgcode", None), str(e).strip()))
                if conn is not None and conn.closed:
                    conn = None
                time.sleep(0.01)
        if conn is not None:
            conn.close()

    def errors(self, start=0, end=float("inf")):
        return [e for e in self.events if not e[1] and start <= e[0] < end]

    def successes(self, start=0, end=float("inf")):
        return [e for e in self.events if e[1] and start <= e[0] < end]


class T3Failover(unittest.TestCase):
    def test_failover_under_load(self):
        wait_for(lambda: standby_state() == "standby", 20, "the standby is eligible for reads")
        s1_keys = (k for k in itertools.count(1000) if shard_of(k, "bigint", N) == REPLICATED)
        s0_keys = keys_on(0, 50)
        lock = threading.Lock()

        def write_s1(conn, i):
            with lock:
                k = next(s1_keys)
            q(conn, f"INSERT INTO items VALUES ({k}, 'load')", timeout=10)
            return k

        def read_s1(conn, i):
            return q(conn, on_s1("SELECT count(*) FROM items"), timeout=10)[0][0]

        def s0_client(conn, i):
            k = s0_keys[i % len(s0_keys)]
            q(conn, f"INSERT INTO items VALUES ({k}, 'a') ON CONFLICT (id) DO UPDATE SET name = 'b'", timeout=10)
            return q(conn, f"SELECT name FROM items WHERE id = {k}", timeout=10)

        writers = [Load(f"w{i}", write_s1) for i in range(2)]
        readers = [Load(f"r{i}", read_s1) for i in range(2)]
        other = [Load("s0", s0_client)]
        # read_from = any for the readers: the user's default is replica, the hint overrides it.
        for r in readers:
            r.step = lambda conn, i: q(conn, on_s1("/* shardgate.read_from=any */ SELECT count(*) FROM items"),
                                       timeout=10)[0][0]
        loads = writers + readers + other
        for t in loads:
            t.thread.start()
        try:
            time.sleep(1.5)
            crashed = time.monotonic()
            cluster.crash(cluster.shards[REPLICATED])
            time.sleep(1.0)
            cluster.promote(standby)
            promoted = time.monotonic()
            time.sleep(3.0)
        finally:
            for t in loads:
                t.stop.set()
            for t in loads:
                t.thread.join(30)
        w_ok_after = sorted(e[0] for w in writers for e in w.successes(promoted))
        self.assertTrue(w_ok_after, [w.errors()[-3:] for w in writers])
        resume = w_ok_after[0] - promoted
        w_errors = sorted((e for w in writers for e in w.errors()), key=lambda e: e[0])
        window = (w_errors[-1][0] - w_errors[0][0]) if w_errors else 0.0
        reads_during = sum(len(r.successes(crashed, promoted)) for r in readers)
        read_errors = [e for r in readers for e in r.errors()]
        print(f"FIGURE failover: write error window {window:.3f}s ({len(w_errors)} failed writes, "
              f"first {w_errors[0][0] - crashed:.3f}s after the crash, last {w_errors[-1][0] - promoted:+.3f}s "
              f"from the promotion)" if w_errors else "FIGURE failover: no write failed", flush=True)
        print(f"FIGURE failover: writes resumed {resume:.3f}s after pg_ctl promote returned; "
              f"{reads_during} reads succeeded between crash and promotion, {len(read_errors)} read errors; "
              f"s0 statements {len(other[0].successes())}, errors {len(other[0].errors())}", flush=True)
        self.assertLessEqual(resume, 1.0)
        # No write was ever sent to a host in recovery (PostgreSQL would answer 25006).
        self.assertFalse([e for w in writers for e in w.errors() if e[2] == "25006"])
        # Writes failed only around the outage, with a clear error.
        for e in w_errors:
            self.assertGreaterEqual(e[0], crashed)
            self.assertLess(e[0], promoted + 1.0)
            self.assertTrue(e[2] in ("08006", "57P01", "08001", None) and e[3], e)
        self.assertGreater(reads_during, 0)
        self.assertEqual(other[0].errors(), [])
        self.assertGreater(len(other[0].successes()), 10)
        # Every acknowledged write is on the new primary.
        acked = [e[3] for w in writers for e in w.successes()]
        rows = cluster.psql_at(standby, "SELECT count(*) FROM items WHERE name = 'load' AND id = ANY('{"
                               + ",".join(map(str, acked)) + "}')")
        # Writes acknowledged by the old primary just before the crash may not have reached
        # the standby (asynchronous replication): only those after the promotion must be there.
        after = [e[3] for w in writers for e in w.successes(promoted)]
        rows_after = cluster.psql_at(standby, "SELECT count(*) FROM items WHERE id = ANY('{"
                                     + ",".join(map(str, after)) + "}')")
        self.assertEqual(int(rows_after[0][0]), len(after))
        print(f"FIGURE failover: {rows[0][0]} of {len(acked)} acknowledged writes are on the promoted standby "
              f"(asynchronous replication may lose the last ones before the crash)", flush=True)
        # Visible: the shard's primary is the promoted standby, one failover counted.
        row = next(r for r in sg.admin("SHOW SHARDS") if r["name"] == f"s{REPLICATED}")
        self.assertEqual(row["primary"], f"{standby.host}:{standby.port}")
        self.assertEqual(row["failovers"], "1")
        self.assertIn(f'shardgate_failovers_total{{shard="s{REPLICATED}"}} 1', metrics())
        with open(sg.log_path) as f:
            self.assertIn("failover: primary", f.read())
        # Two-phase-commit recovery follows the shard to its new primary: a prepared leftover of
        # a dead proxy there (no decision row on its coordinator, this shard) is rolled back.
        gid = f"sgx_deadproxy-1_{REPLICATED}_1_{os.getpid()}"
        cluster.psql_at(standby, f"BEGIN; INSERT INTO items VALUES ({10 ** 9 + 7}, 'leftover'); "
                                 f"PREPARE TRANSACTION '{gid}'")
        wait_for(lambda: cluster.psql_at(standby, f"SELECT count(*) FROM pg_prepared_xacts WHERE gid = '{gid}'")
                 == [("0",)] or None, 10, "recovery resolves a prepared leftover on the promoted standby")
        self.assertEqual(cluster.psql_at(standby, f"SELECT count(*) FROM items WHERE id = {10 ** 9 + 7}"), [("0",)])



class T4SplitBrain(unittest.TestCase):
    def test_two_primaries_stop_the_shards_writes(self):
        row = next(r for r in sg.admin("SHOW SHARDS") if r["name"] == f"s{REPLICATED}")
        if row["primary"] != f"{standby.host}:{standby.port}":
            self.skipTest("needs the failover of T3Failover (run the whole module)")
        k = next(k for k in itertools.count(10 ** 6) if shard_of(k, "bigint", N) == REPLICATED)
        k0 = keys_on(0, 1)[0]
        write = f"INSERT INTO items VALUES ({k}, 'sb') ON CONFLICT (id) DO UPDATE SET name = 'sb'"
        conn = [sg.connect(autocommit=True)]
        cut = []
        try:
            q(conn[0], write)
            # The old primary comes back as it was: a second primary (split brain).
            cluster.start_shard(REPLICATED)
            try:
                def refused():
                    try:
                        q(conn[0], write)
                    except psycopg2.Error as e:
                        if conn[0].closed:
                            # A write in flight when the split brain was seen has its shard
                            # connection cut (it may or may not have committed), and with it
                            # the client's; later writes are refused on a new connection.
                            cut.append(str(e))
                            conn[0] = sg.connect(autocommit=True)
                            return None
                        return e
                    return None
                e = wait_for(refused, 10, "writes refused while two endpoints are primary")
                self.assertEqual(e.pgcode, "08006", f"{type(e).__name__}: {e}")
                self.assertIn("split brain", str(e))
                self.assertIn(f"{standby.host}:{standby.port}", str(e))
                self.assertLessEqual(len(cut), 1, cut)
                # The other shard is untouched.
                q(conn[0], f"INSERT INTO items VALUES ({k0}, 'sb') ON CONFLICT (id) DO UPDATE SET name = 'sb'")
                self.assertIn("split brain", endpoints() + str(sg.admin("SHOW SHARDS")))
            finally:
                cluster.crash(cluster.shards[REPLICATED])
            # One primary again: writes go on, to the promoted standby.
            wait_for(lambda: (n := len(cut), refused() is None and len(cut) == n)[1], 10,
                     "writes resume once one primary is left")
            self.assertEqual(cluster.psql_at(standby, f"SELECT name FROM items WHERE id = {k}"), [("sb",)])
        finally:
            conn[0].close()


if __name__ == "__main__":
    unittest.main()
