"""Which shard is slow, and what the proxy refuses (issue 20), through a real proxy on 3 real
shards, one of them made deliberately slow.

Shard 2's `work(x)` sleeps (a PL/pgSQL function with pg_sleep, created that way only there;
the other shards' `work` returns at once). A single-shard statement calling it on every shard's
keys and a fan-out statement calling it on every shard's rows must name shard 2 as the straggler
in SHOW SHARD STATS and in `shardgate report`; every fan-out leg counts on its shard (calls and
bytes move on every shard); refused statements are counted by construct in SHOW REFUSALS, SHOW
QUERIES and /metrics; time held by PAUSE BUCKETS is reported as held time, not proxy time, and
the held statement does not lead the report's ranking unless asked (--include-held).
"""

import json
import re
import subprocess
import threading
import time
import unittest
import urllib.request

import psycopg2
import psycopg2.errors

import pgcluster
import shardgate_proc
from sgfixture import Proxy, shard_conn, keys_on_distinct_shards

N = 3
SLOW = 2                    # the slow shard's index
SLEEP_S = 0.004             # per call of work() on the slow shard
KEYS = 30
FANOUT_CALLS = 8
REFUSED_JOINS = 3

TABLES = [{"name": "items", "shard_key": "id", "key_type": "bigint"}]
SCHEMA = "CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL);"
FAST_WORK = "CREATE FUNCTION work(x bigint) RETURNS bigint LANGUAGE sql AS $$ SELECT x $$;"
SLOW_WORK = (f"CREATE FUNCTION work(x bigint) RETURNS bigint LANGUAGE plpgsql AS "
             f"$$ BEGIN PERFORM pg_sleep({SLEEP_S}); RETURN x; END $$;")

SINGLE = "SELECT work(id) FROM items WHERE id = $1"
FANOUT = "SELECT id FROM items WHERE work(id) > $1"
JOIN = "SELECT a.id FROM items a JOIN items b ON a.name = b.name WHERE a.id > $1"

cluster = None
proxy = None
http_port = None
names = []


def setUpModule():
    global cluster, proxy, http_port, names
    shardgate_proc.shardgate_bin()
    cluster = pgcluster.Cluster(N).start()
    unittest.addModuleCleanup(cluster.stop)
    for i in range(N):
        c = shard_conn(cluster, i)
        with c.cursor() as cur:
            cur.execute(SCHEMA)
            cur.execute(SLOW_WORK if i == SLOW else FAST_WORK)
        c.close()
    http_port = pgcluster.free_port()
    proxy = Proxy(cluster, "stats_shards", tables=TABLES,
                  admin={"http_listen": f"127.0.0.1:{http_port}"},
                  stats={"enabled": True, "max_fingerprints": 1000, "slow_query_ms": 100}).start()
    unittest.addModuleCleanup(proxy.stop)
    names = [r["name"] for r in sorted(proxy.admin("SHOW SHARDS"), key=lambda r: int(r["index"]))]
    run_workload()


def shard_stats():
    return proxy.admin("SHOW SHARD STATS")


def all_rows():
    return {r["shard"]: r for r in shard_stats() if r["fingerprint"] == "all"}


def run_workload():
    conn = proxy.connect(autocommit=True)
    try:
        with conn.cursor() as cur:
            for i in range(1, KEYS + 1):
                cur.execute("INSERT INTO items (id, name) VALUES (%s, %s)", (i, f"item {i}"))
            proxy.admin("RESET QUERIES")
            for i in range(1, KEYS + 1):
                cur.execute("SELECT work(id) FROM items WHERE id = %s", (i,))
            for _ in range(REFUSED_JOINS):
                with_error(cur, psycopg2.errors.FeatureNotSupported,
                           "SELECT a.id FROM items a JOIN items b ON a.name = b.name WHERE a.id > %s", (0,))
    finally:
        conn.close()


def run_fanouts(n):
    conn = proxy.connect(autocommit=True)
    try:
        with conn.cursor() as cur:
            for _ in range(n):
                cur.execute("SELECT id FROM items WHERE work(id) > %s", (0,))
                assert len(cur.fetchall()) == KEYS
    finally:
        conn.close()


def with_error(cur, cls, sql, params):
    try:
        cur.execute(sql, params)
    except cls:
        return
    raise AssertionError(f"expected {cls.__name__} from {sql}")


def http_get(path):
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}{path}", timeout=10) as r:
        return r.read().decode()


def metric(body, name, **labels):
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in body.splitlines():
        if line.startswith(f"{name}{{{want}}} ") or (not labels and line.startswith(f"{name} ")):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no sample {name}{{{want}}} in /metrics")


def report(*args):
    dsn = proxy.dsn(dbname="shardgate")
    out = subprocess.run([shardgate_proc.shardgate_bin(), "report", "--dsn", dsn, *args],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise AssertionError(f"report failed: {out.stderr}")
    return out.stdout


class ShardLegsTest(unittest.TestCase):

    def test_every_fanout_leg_counts_on_its_shard(self):
        before = all_rows()
        metrics_before = http_get("/metrics")
        run_fanouts(FANOUT_CALLS)
        after = all_rows()
        metrics_after = http_get("/metrics")
        for name in names:
            self.assertEqual(int(after[name]["calls"]) - int(before[name]["calls"]), FANOUT_CALLS, name)
            self.assertGreater(int(after[name]["bytes_received"]), int(before[name]["bytes_received"]), name)
            self.assertGreater(int(after[name]["bytes_sent"]), int(before[name]["bytes_sent"]), name)
            moved = (metric(metrics_after, "shardgate_shard_queries_total", shard=name) -
                     metric(metrics_before, "shardgate_shard_queries_total", shard=name))
            self.assertEqual(moved, FANOUT_CALLS, name)
            self.assertGreater(metric(metrics_after, "shardgate_shard_received_bytes_total", shard=name), 0)
        # The fan-out's rows add up to the table, shard by shard.
        legs = [r for r in shard_stats() if r["query"] == FANOUT]
        self.assertEqual(sorted(r["shard"] for r in legs), sorted(names))
        self.assertEqual(sum(int(r["rows"]) for r in legs), KEYS * int(legs[0]["calls"]))

    def test_slow_shard_is_the_straggler(self):
        run_fanouts(2)
        for query in (SINGLE, FANOUT):
            rows = [r for r in shard_stats() if r["query"] == query]
            self.assertEqual(len(rows), N, query)
            marked = [r["shard"] for r in rows if r["straggler"] == "yes"]
            self.assertEqual(marked, [names[SLOW]], rows)
            slow = next(r for r in rows if r["shard"] == names[SLOW])
            self.assertGreater(float(slow["over_median_ms"]), SLEEP_S * 1000 * 0.8, query)
            fast = [float(r["p50_ms"]) for r in rows if r["shard"] != names[SLOW]]
            self.assertGreater(float(slow["p50_ms"]), max(fast), query)

    def test_report_names_the_straggler(self):
        run_fanouts(2)
        text = report("--format", "text")
        self.assertIn("Shards (every statement leg", text)
        self.assertRegex(text, rf"shard {re.escape(names[SLOW])}: \+[0-9.]+ ms .*{re.escape(FANOUT)}")
        data = json.loads(report("--format", "json"))
        stragglers = {(s["query"], s["shard"]) for s in data["stragglers"]}
        self.assertIn((SINGLE, names[SLOW]), stragglers)
        self.assertIn((FANOUT, names[SLOW]), stragglers)
        self.assertEqual(sorted(s["shard"] for s in data["shards"]), sorted(names))
        self.assertTrue(any(f["kind"] == "slow shard" for f in data["findings"]))
        html = report("--format", "html")
        self.assertIn('id="shard-chart"', html)
        self.assertIn(f'straggler">{names[SLOW]}<', html)


class RefusalsTest(unittest.TestCase):

    def test_refusals_by_construct(self):
        rows = proxy.admin("SHOW REFUSALS")
        by = {(r["construct"], r["query"]): r for r in rows}
        join = by.get(("join not on the shard keys", JOIN))
        self.assertIsNotNone(join, rows)
        self.assertEqual(int(join["count"]), REFUSED_JOINS)
        self.assertTrue(join["way_around"])

    def test_refusals_in_show_queries_and_metrics(self):
        q = [r for r in proxy.admin("SHOW QUERIES") if r["query"] == JOIN]
        self.assertEqual(len(q), 1)
        self.assertEqual(int(q[0]["errors"]), REFUSED_JOINS)
        self.assertEqual(q[0]["errors_by_sqlstate"], f"0A000={REFUSED_JOINS}")
        body = http_get("/metrics")
        self.assertEqual(metric(body, "shardgate_refused_statements_total",
                                construct="join not on the shard keys"), REFUSED_JOINS)

    def test_report_section(self):
        text = report("--format", "text")
        self.assertIn("Refused statements, by construct, with a way around each", text)
        self.assertIn(f"join not on the shard keys ({REFUSED_JOINS} refused)", text)
        data = json.loads(report("--format", "json"))
        self.assertTrue(any(r["construct"] == "join not on the shard keys" and r["count"] == REFUSED_JOINS
                            for r in data["refusals"]))


class PauseHeldTest(unittest.TestCase):

    def test_held_time_is_its_own_component(self):
        buckets = int(proxy.admin("SHOW MAP")[0]["buckets"])
        proxy.admin(f"PAUSE BUCKETS 0-{buckets - 1}")
        done = threading.Event()

        def held_statement():
            c = proxy.connect(autocommit=True)
            try:
                with c.cursor() as cur:
                    cur.execute("SELECT name, 'held' FROM items WHERE id = %s", (1,))
            finally:
                c.close()
                done.set()

        t = threading.Thread(target=held_statement)
        t.start()
        time.sleep(1.0)
        self.assertFalse(done.is_set(), "the statement was not held")
        proxy.admin("RESUME BUCKETS")
        t.join(10)
        self.assertTrue(done.is_set())
        row = next(r for r in proxy.admin("SHOW QUERIES") if r["query"].startswith("SELECT name, $1 FROM items"))
        self.assertGreater(float(row["held_ms"]), 900)
        # Held time is not the proxy's (the hold was 1 s; a loaded ASan proxy takes milliseconds).
        self.assertLess(float(row["proxy_ms"]), 500)
        text = report("--format", "text", "--top", "1")
        self.assertNotIn("'held'", text.split("Findings")[0])
        self.assertNotIn("SELECT name, $1 FROM items", text.split("Findings")[0])
        self.assertIn("SELECT name, $1 FROM items", report("--format", "text", "--top", "1",
                                                           "--include-held").split("Findings")[0])


class WindowsTest(unittest.TestCase):

    def test_window_comparison_finds_a_statement_made_slower(self):
        # 2 s intervals; a window of 2 (the one in progress and the one before: 2 to 4 s) is
        # compared with the 2 before it. The slow phase (1 s) ends right before the console is
        # asked, so it lies in the current window whatever the phase of the intervals, and the
        # previous window (2 to 8 s back) saw only the fast phase (7 s).
        proxy.admin("SET WINDOW_SECONDS 2")
        adm = proxy.admin_connect()
        conn = proxy.connect(autocommit=True)
        try:
            with conn.cursor() as cur:
                # Fast calls 0.1 s apart, then slow ones (0.2 s) back to back: a loaded machine
                # may delay a fast call by tens of milliseconds, never by 0.2 s at p95.
                for pause, spacing, seconds in ((0.001, 0.1, 7.0), (0.2, 0.0, 1.0)):
                    end = time.monotonic() + seconds
                    while time.monotonic() < end:
                        cur.execute("SELECT pg_sleep(%s), 'window'", (pause,))
                        time.sleep(spacing)
            now = [r for r in proxy.admin("SHOW WINDOW 2", conn=adm) if r["query"] == "SELECT pg_sleep($1), $2"]
            before = [r for r in proxy.admin("SHOW WINDOW 2 OFFSET 2", conn=adm)
                      if r["query"] == "SELECT pg_sleep($1), $2"]
        finally:
            conn.close()
            adm.close()
        self.assertEqual((len(now), len(before)), (1, 1))
        self.assertGreater(float(now[0]["p95_ms"]), 150)
        self.assertLess(float(before[0]["p95_ms"]), 150)  # 1 ms calls; slow ones take 200 ms
        # The report over the same windows (a second later: which calls fall in which window
        # moves with it, so only its shape is checked here; windows_test.cpp checks the comparison).
        data = json.loads(report("--format", "json", "--window", "4s"))
        self.assertEqual(data["period"]["scope"], "the last 4s")
        self.assertTrue(data["period"]["reset_at"])
        self.assertIn("slower", data)
        self.assertGreaterEqual(len(data["intervals"]), 4)
        text = report("--format", "text", "--since", "4s")
        self.assertIn("covers ", text)
        self.assertIn("statistics last reset at", text)
        self.assertIn("p50_ms", text)
        with self.assertRaises(AssertionError):
            report("--since", "soon")
        proxy.admin("SET WINDOW_SECONDS 60")


# What pgbouncer_exporter (prometheus-community) reads from a pgbouncer console: per command,
# its label columns, and the metric columns it parses as numbers when present (the ones listed
# in `required` must be there for the dashboards to have data).
EXPORTER = {
    "DATABASES": {"labels": ["name", "host", "port", "database", "force_user", "pool_mode"],
                  "metrics": ["pool_size", "reserve_pool", "max_connections", "current_connections", "paused",
                              "disabled"],
                  "required": ["pool_size", "current_connections", "paused"]},
    "STATS_TOTALS": {"labels": ["database"],
                     "metrics": ["query_count", "query_time", "bytes_received", "requests", "bytes_sent",
                                 "wait_time", "xact_count", "xact_time", "client_parse_count",
                                 "server_parse_count", "bind_count"],
                     "required": ["query_count", "query_time", "bytes_received", "bytes_sent", "wait_time",
                                  "xact_count"]},
    "POOLS": {"labels": ["database", "user"],
              "metrics": ["cl_active", "cl_active_cancel_req", "cl_waiting", "cl_waiting_cancel_req", "sv_active",
                          "sv_active_cancel", "sv_being_canceled", "sv_idle", "sv_used", "sv_tested", "sv_login",
                          "maxwait"],
              "required": ["cl_active", "cl_waiting", "sv_active", "sv_idle", "sv_login"]},
}
LISTS = {"databases", "users", "pools", "free_clients", "used_clients", "login_clients", "free_servers",
         "used_servers", "dns_names", "dns_zones", "dns_queries", "dns_pending"}


def console_query(sql):
    """Columns and rows as a client of the console reads them (psycopg2, simple protocol)."""
    conn = proxy.admin_connect()
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return [d[0] for d in cur.description], cur.fetchall()
    finally:
        conn.close()


class PgbouncerConsoleTest(unittest.TestCase):

    def test_exporter_queries(self):
        cols, rows = console_query("SHOW STATS")  # the exporter's ping
        cols, rows = console_query("SHOW VERSION;")
        self.assertEqual(cols, ["version"])
        cols, rows = console_query("SHOW LISTS;")
        self.assertEqual(len(cols), 2)
        self.assertEqual({r[0] for r in rows}, LISTS)
        for name, items in rows:
            float(items)
        lists = {r[0]: int(r[1]) for r in rows}
        self.assertEqual(lists["databases"], N)
        cols, rows = console_query("SHOW CONFIG;")
        self.assertIn(len(cols), (3, 4))
        config = {r[0]: r[1] for r in rows}
        float(config["max_client_conn"])
        for command, want in EXPORTER.items():
            cols, rows = console_query(f"show {command.lower()};")
            for label in want["labels"]:
                self.assertIn(label, cols, command)
            for metric in want["required"]:
                self.assertIn(metric, cols, command)
            self.assertTrue(rows, command)
            for r in rows:
                for metric in want["metrics"]:
                    if metric in cols:
                        float(r[cols.index(metric)])  # parses as a number, as the exporter needs

    def test_stats_totals_agree_with_show_queries(self):
        cols, rows = console_query("SHOW STATS_TOTALS")
        totals = {r[0]: dict(zip(cols, r)) for r in rows}
        db = cluster.dbname
        # Lifetime figures, as SHOW STATS has them per (database, user): milliseconds there.
        ours = [r for r in proxy.admin("SHOW STATS") if r["scope"] == "user" and r["database"] == db]
        self.assertEqual(int(totals[db]["query_count"]), sum(int(r["queries"]) for r in ours))
        shard_us = sum(float(r["shard_ms"]) * 1000 for r in ours)
        self.assertAlmostEqual(int(totals[db]["query_time"]), shard_us, delta=len(ours) + 2)
        self.assertGreater(int(totals[db]["query_time"]), 0)
        users = console_query("SHOW USERS")
        self.assertIn("postgres", [r[0] for r in users[1]])
        dbs = console_query("SHOW DATABASES")
        self.assertEqual(sorted(r[0] for r in dbs[1]), sorted(names))

    def test_kill_and_reconnect(self):
        conn = proxy.connect(autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT name FROM items WHERE id = 1")
            before = {r["id"] for r in proxy.admin("SHOW SERVERS")}
            self.assertTrue(before)
            with self.assertRaises(psycopg2.Error) as e:
                proxy.admin("KILL nosuchshard")
            self.assertEqual(e.exception.pgcode, "42601")
            for name in names:
                proxy.admin(f"KILL {name}")
            self.assertEqual([r for r in proxy.admin("SHOW SERVERS") if r["id"] in before], [])
            with conn.cursor() as cur:  # new connections are opened as needed
                cur.execute("SELECT name FROM items WHERE id = 1")
                self.assertEqual(cur.fetchall(), [("item 1",)])
            before = {r["id"] for r in proxy.admin("SHOW SERVERS")}
            self.assertTrue(before)
            proxy.admin("RECONNECT")
            self.assertEqual([r for r in proxy.admin("SHOW SERVERS") if r["id"] in before], [])
        finally:
            conn.close()

    def test_one_client_id_across_show_clients_and_show_slow(self):
        conn = proxy.connect(autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_sleep(0.15), 'one id'")
            pid = conn.get_backend_pid()  # the BackendKeyData pid the proxy issued
            clients = [r for r in proxy.admin("SHOW CLIENTS") if int(r["pid"]) == pid]
            self.assertEqual(len(clients), 1)
            slow = [r for r in proxy.admin("SHOW SLOW") if "pg_sleep" in r["query"]]
            self.assertTrue(slow)
            self.assertEqual(int(slow[0]["client_id"]), pid)
        finally:
            conn.close()


if __name__ == "__main__":
    unittest.main()
