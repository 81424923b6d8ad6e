"""Query cost statistics through a real proxy on 2 real shards (issue 5).

A known workload runs once through shardgate — exactly 1000 calls of one statement with a
known pg_sleep, statements differing only in constants, an N+1 loop and a fan-out N+1 loop, a
fan-out query on a sharded table, errors of known SQLSTATE, one slow statement — and then every
figure is checked where an operator reads it: SHOW QUERIES / SHOW NPLUSONE / SHOW SLOW / SHOW
STATS on the admin console, GET /metrics, `shardgate report --format text|json|html`, and a
real Prometheus server (Debian's `prometheus`) scraping the proxy and answering a query.

Latency figures are checked against the histogram's stated error (1/128 relative) and against
what the client itself measured (the proxy sees less than the client: never more).
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

import psycopg2
import psycopg2.errors

import pgcluster
import shardgate_proc
from sgfixture import Proxy, shard_conn

N = 2
SLEEP_S = 0.002             # the known sleep of the 1000-call statement
CALLS = 1000
SLOW_S = 0.3                # above slow_query_ms
SLOW_QUERY_MS = 200
N_PLUS_ONE_MIN = 5
LOOP = 10                   # iterations of each N+1 loop
FANOUT_CALLS = 20
REL_ERROR = 1 / 128         # LogHistogram::kRelativeError

TABLES = [{"name": "items", "shard_key": "id", "key_type": "bigint"}]
SCHEMA = """
CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL);
CREATE TABLE customers (id int PRIMARY KEY, name text);
"""

cluster = None
proxy = None
http_port = None
client_seconds = {}         # statement -> client-measured seconds, summed


def setUpModule():
    global cluster, proxy, http_port
    shardgate_proc.shardgate_bin()
    cluster = pgcluster.Cluster(N).start()
    unittest.addModuleCleanup(cluster.stop)
    for i in range(N):
        c = shard_conn(cluster, i)
        with c.cursor() as cur:
            cur.execute(SCHEMA)
        c.close()
    http_port = pgcluster.free_port()
    proxy = Proxy(cluster, "stats", tables=TABLES,
                  admin={"http_listen": f"127.0.0.1:{http_port}"},
                  stats={"enabled": True, "slow_query_ms": SLOW_QUERY_MS,
                         "n_plus_one_min": N_PLUS_ONE_MIN, "log_parameters": True,
                         "max_fingerprints": 1000, "top_k_metrics": 10}).start()
    unittest.addModuleCleanup(proxy.stop)
    proxy.admin("RESET QUERIES")
    run_workload()


def timed(cur, key, sql, params=None):
    t0 = time.monotonic()
    cur.execute(sql, params)
    client_seconds[key] = client_seconds.get(key, 0.0) + time.monotonic() - t0
    return cur.fetchall() if cur.description else None


def run_workload():
    conn = proxy.connect(autocommit=True)
    try:
        with conn.cursor() as cur:
            for i in range(1, 41):
                cur.execute("INSERT INTO items (id, name) VALUES (%s, %s)", (i, f"item {i}"))
            cur.execute("INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 10) g")
            # Exactly 1000 calls of one statement with a known sleep.
            for _ in range(CALLS):
                timed(cur, "sleep", "SELECT pg_sleep(%s)", (SLEEP_S,))
            # Constants differ, the fingerprint does not.
            cur.execute("SELECT name FROM items WHERE id = 1")
            cur.execute("SELECT name FROM items WHERE id = 2")
            # An N+1: a list, then one statement per element, back to back.
            ids = [r[0] for r in timed(cur, "list", "SELECT id FROM customers ORDER BY id")]
            for i in ids[:LOOP]:
                cur.execute("SELECT name FROM items WHERE id = %s", (i,))
            # A fan-out N+1: no shard key, so every repeat runs on every shard.
            cur.execute("SELECT name FROM customers WHERE id < 20 ORDER BY id")
            for i in range(LOOP):
                cur.execute("SELECT id FROM items WHERE name = %s", (f"item {i}",))
            # A fan-out query on the sharded table.
            for _ in range(FANOUT_CALLS):
                cur.execute("SELECT id FROM items WHERE id > 0")
            # Errors of known SQLSTATE.
            for _ in range(3):
                with expect_error(psycopg2.errors.DivisionByZero):
                    cur.execute("SELECT 1 / 0")
            for _ in range(2):
                with expect_error(psycopg2.errors.UniqueViolation):
                    cur.execute("INSERT INTO items (id, name) VALUES (%s, %s)", (1, "dup"))
            # One slow statement.
            timed(cur, "slow", "SELECT pg_sleep(%s), 'slow'", (SLOW_S,))
    finally:
        conn.close()


class expect_error:
    """Expects exactly this error class from the block (and swallows it)."""

    def __init__(self, cls):
        self.cls = cls

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            raise AssertionError(f"expected {self.cls.__name__}")
        return issubclass(exc_type, self.cls)


def queries():
    return proxy.admin("SHOW QUERIES")


def query_row(normalized):
    rows = [r for r in queries() if r["query"] == normalized]
    if len(rows) != 1:
        raise AssertionError(f"{len(rows)} SHOW QUERIES rows for {normalized!r}: "
                             f"{[r['query'] for r in queries()]}")
    return rows[0]


def http_get(path):
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}{path}", timeout=10) as r:
        return r.status, r.headers.get("Content-Type"), r.read().decode()


def admin_dsn():
    return proxy.dsn(dbname="shardgate")


class ShowQueriesTest(unittest.TestCase):

    def test_exact_call_count_and_latency_within_the_histogram_bound(self):
        r = query_row("SELECT pg_sleep($1)")
        self.assertEqual(int(r["calls"]), CALLS)
        self.assertEqual(int(r["errors"]), 0)
        self.assertEqual(int(r["rows"]), CALLS)
        floor_ms = SLEEP_S * 1000
        self.assertGreaterEqual(float(r["min_ms"]), floor_ms)
        for p in ("p50_ms", "p95_ms", "p99_ms"):
            self.assertGreaterEqual(float(r[p]), floor_ms * (1 - REL_ERROR), p)
            self.assertLessEqual(float(r[p]), float(r["max_ms"]) * (1 + REL_ERROR), p)
        self.assertLessEqual(float(r["p50_ms"]), float(r["p95_ms"]))
        self.assertLessEqual(float(r["p95_ms"]), float(r["p99_ms"]))
        total = float(r["total_ms"])
        self.assertAlmostEqual(float(r["mean_ms"]), total / CALLS, delta=0.002)
        # The proxy measures from request to ReadyForQuery: inside what the client saw.
        self.assertGreaterEqual(total, CALLS * floor_ms)
        self.assertLessEqual(total, client_seconds["sleep"] * 1000)
        shard, proxy_ms = float(r["shard_ms"]), float(r["proxy_ms"])
        self.assertGreaterEqual(shard, CALLS * floor_ms)
        self.assertAlmostEqual(shard + proxy_ms, total, delta=1.0)
        self.assertEqual(int(r["single_shard_calls"]), CALLS)
        self.assertEqual(int(r["fanout_calls"]), 0)
        self.assertEqual(len(r["fingerprint"]), 16)

    def test_constants_merge_into_one_fingerprint(self):
        r = query_row("SELECT name FROM items WHERE id = $1")
        self.assertEqual(int(r["calls"]), 2 + LOOP)

    def test_fan_out_is_counted(self):
        r = query_row("SELECT id FROM items WHERE id > $1")
        self.assertEqual(int(r["calls"]), FANOUT_CALLS)
        self.assertEqual(int(r["fanout_calls"]), FANOUT_CALLS)
        self.assertEqual(int(r["max_shards"]), N)
        self.assertEqual(float(r["avg_shards"]), float(N))
        self.assertEqual(int(r["rows"]), FANOUT_CALLS * 40)  # every item, once per call

    def test_errors_by_sqlstate(self):
        r = query_row("SELECT $1 / $2")
        self.assertEqual((int(r["calls"]), int(r["errors"])), (3, 3))
        self.assertEqual(r["errors_by_sqlstate"], "22012=3")
        r = query_row("INSERT INTO items (id, name) VALUES ($1, $2)")
        self.assertEqual(int(r["calls"]), 40 + 2)
        self.assertEqual(r["errors_by_sqlstate"], "23505=2")

    def test_order_by_and_limit(self):
        rows = proxy.admin("SHOW QUERIES ORDER BY calls LIMIT 1")
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0]["query"], "SELECT pg_sleep($1)")
        rows = proxy.admin("SHOW QUERIES ORDER BY errors LIMIT 2")
        self.assertEqual([r["query"] for r in rows], ["SELECT $1 / $2", "INSERT INTO items (id, name) VALUES ($1, $2)"])
        rows = proxy.admin("SHOW QUERIES ORDER BY mean LIMIT 1")
        self.assertEqual(rows[0]["query"], "SELECT pg_sleep($1), $2")
        totals = [float(r["total_ms"]) for r in queries()]
        self.assertEqual(totals, sorted(totals, reverse=True))
        conn = proxy.admin_connect()
        try:
            with self.assertRaises(psycopg2.Error) as e:
                with conn.cursor() as cur:
                    cur.execute("SHOW QUERIES ORDER BY nonsense")
            self.assertEqual(e.exception.pgcode, "42601")
        finally:
            conn.close()

    def test_show_stats_totals_add_up(self):
        rows = [r for r in proxy.admin("SHOW STATS") if r.get("scope") == "user"]
        mine = [r for r in rows if r["database"] == cluster.dbname and r["user"] == "postgres"]
        self.assertEqual(len(mine), 1)
        self.assertEqual(int(mine[0]["queries"]), sum(int(r["calls"]) for r in queries()
                                                        if r["user"] == "postgres"))


class NPlusOneTest(unittest.TestCase):

    def findings(self):
        return proxy.admin("SHOW NPLUSONE")

    def test_loop_after_a_list_is_flagged_with_the_suggestion(self):
        rows = [r for r in self.findings()
                if r["repeated_query"] == "SELECT name FROM items WHERE id = $1"]
        self.assertEqual(len(rows), 1, self.findings())
        r = rows[0]
        self.assertEqual(r["kind"], "N+1")
        self.assertEqual(r["source_query"], "SELECT id FROM customers ORDER BY id")
        self.assertEqual(int(r["bursts"]), 1)
        self.assertEqual(int(r["repeats"]), LOOP)
        self.assertIn("fetch them in one statement with = ANY($1) or a join", r["suggestion"])

    def test_fan_out_loop_is_flagged_as_worse(self):
        rows = [r for r in self.findings()
                if r["repeated_query"] == "SELECT id FROM items WHERE name = $1"]
        self.assertEqual(len(rows), 1, self.findings())
        self.assertEqual(rows[0]["kind"], "fan-out N+1")
        self.assertEqual(int(rows[0]["repeats"]), LOOP)
        self.assertEqual(self.findings()[0]["kind"], "fan-out N+1")   # worse ones first

    def test_repeats_with_the_same_parameters_are_not_findings(self):
        repeated = {r["repeated_query"] for r in self.findings()}
        self.assertNotIn("SELECT pg_sleep($1)", repeated)
        self.assertNotIn("SELECT id FROM items WHERE id > $1", repeated)


class SlowLogTest(unittest.TestCase):

    def test_slow_statement_is_kept_once_with_parameters(self):
        rows = [r for r in proxy.admin("SHOW SLOW") if r["query"] == "SELECT pg_sleep($1), $2"]
        self.assertEqual(len(rows), 1)
        r = rows[0]
        self.assertGreaterEqual(float(r["duration_ms"]), SLOW_S * 1000)
        self.assertLessEqual(float(r["duration_ms"]), client_seconds["slow"] * 1000)
        self.assertEqual(r["shards"], "1")
        self.assertEqual(r["rows"], "1")
        self.assertIn("0.3", r["params"])
        fast = [r for r in proxy.admin("SHOW SLOW") if r["query"] == "SELECT pg_sleep($1)"]
        self.assertEqual(fast, [])

    def test_slow_statement_is_logged_once(self):
        with open(proxy.log_path) as f:
            lines = [l for l in f if "slow query" in l and "pg_sleep($1), $2" in l]
        self.assertEqual(len(lines), 1, lines)
        self.assertIn(query_row("SELECT pg_sleep($1), $2")["fingerprint"], lines[0])


class MetricsEndpointTest(unittest.TestCase):

    def test_metrics_exposition(self):
        status, ctype, body = http_get("/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(ctype.startswith("text/plain; version=0.0.4"), ctype)
        samples = {}
        for line in body.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                samples[name] = float(value)
        labels = f'database="{cluster.dbname}",user="postgres"'
        total = samples[f"shardgate_queries_total{{{labels}}}"]
        self.assertGreaterEqual(total, CALLS + FANOUT_CALLS)
        self.assertEqual(samples[f'shardgate_query_duration_seconds_bucket{{{labels},le="+Inf"}}'], total)
        self.assertEqual(samples[f"shardgate_query_duration_seconds_count{{{labels}}}"], total)
        self.assertEqual(samples[f'shardgate_query_errors_total{{{labels},sqlstate="22012"}}'], 3)
        self.assertIn("# TYPE shardgate_query_duration_seconds histogram", body)
        fp = query_row("SELECT pg_sleep($1)")["fingerprint"]
        self.assertEqual(samples[f'shardgate_fingerprint_duration_seconds_count{{fingerprint="{fp}",{labels}}}'],
                         CALLS)
        self.assertTrue(any(k.startswith("shardgate_pool_") for k in samples), "no pool metrics")

    def test_healthz_and_unknown_paths(self):
        self.assertEqual(http_get("/healthz")[2], "ok\n")
        with self.assertRaises(urllib.error.HTTPError) as e:
            http_get("/nope")
        self.assertEqual(e.exception.code, 404)


class ReportTest(unittest.TestCase):

    def report(self, fmt):
        r = shardgate_proc.run_shardgate("report", "--dsn", admin_dsn(), "--format", fmt, "--top", "5")
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def test_text(self):
        out = self.report("text")
        self.assertIn("shardgate query cost report", out)
        self.assertIn("SELECT pg_sleep($1)", out)
        self.assertIn("[fan-out N+1]", out)
        self.assertIn("= ANY($1) or a join", out)
        self.assertIn("22012=3", out)

    def test_json(self):
        doc = json.loads(self.report("json"))
        self.assertEqual(len(doc["statements"]), 5)
        sleep = [s for s in doc["statements"] if s["query"] == "SELECT pg_sleep($1)"]
        self.assertEqual(sleep[0]["calls"], CALLS)
        kinds = {f["kind"] for f in doc["findings"]}
        self.assertTrue({"N+1", "fan-out N+1", "errors"} <= kinds, kinds)
        self.assertTrue(any(s["query"] == "SELECT pg_sleep($1), $2" for s in doc["slow"]))
        pct = sum(s["pct_total"] for s in doc["statements"])
        self.assertLessEqual(pct, 100.0001)

    def test_html_is_self_contained(self):
        page = self.report("html")
        self.assertTrue(page.startswith("<!DOCTYPE html>"))
        self.assertIn("<svg", page)
        self.assertIn("SELECT pg_sleep($1)", page)
        self.assertNotIn("<script", page)
        self.assertNotIn("<link", page)
        self.assertNotIn("https://", page)

    def test_bad_dsn_fails_cleanly(self):
        r = shardgate_proc.run_shardgate("report", "--dsn", "host=127.0.0.1 port=1 connect_timeout=2",
                                         "--format", "text", "--top", "5")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("cannot connect", r.stderr)


class PrometheusScrapeTest(unittest.TestCase):
    """A real Prometheus (Debian package `prometheus`) scrapes /metrics; the series is queryable."""

    def test_scraped_series_is_queryable(self):
        binary = shutil.which("prometheus") or "/usr/bin/prometheus"
        self.assertTrue(os.access(binary, os.X_OK), "install the Debian package prometheus")
        work = tempfile.mkdtemp(prefix="sg-prometheus-")
        self.addCleanup(shutil.rmtree, work, True)
        with open(os.path.join(work, "prometheus.yml"), "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: shardgate\n    static_configs:\n"
                    f"      - targets: ['127.0.0.1:{http_port}']\n")
        port = pgcluster.free_port()
        log = open(os.path.join(work, "prometheus.log"), "w")
        self.addCleanup(log.close)
        proc = subprocess.Popen(
            [binary, f"--config.file={work}/prometheus.yml", f"--storage.tsdb.path={work}/data",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=pgcluster.child_setup(signal.SIGTERM))
        self.addCleanup(lambda: (proc.terminate(), proc.wait(20)))
        query = urllib.parse.quote('shardgate_queries_total{job="shardgate"}')
        deadline = time.monotonic() + 90
        result, health = [], None
        while time.monotonic() < deadline and not result:
            time.sleep(1)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/query?query={query}",
                                            timeout=5) as r:
                    result = json.load(r)["data"]["result"]
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/targets",
                                            timeout=5) as r:
                    health = [t.get("health") for t in json.load(r)["data"]["activeTargets"]]
            except (urllib.error.URLError, ConnectionError, OSError):
                continue
        self.assertTrue(result, f"no shardgate series in Prometheus (targets: {health}); "
                                f"see {work}/prometheus.log")
        self.assertEqual(health, ["up"])
        self.assertGreaterEqual(float(result[0]["value"][1]), CALLS)


if __name__ == "__main__":
    unittest.main()
