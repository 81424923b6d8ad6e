"""The live report page of [admin] http_listen (issue 20), rendered by headless Chromium.

Three real shards behind a real proxy; shard 2's `work(x)` sleeps (a PL/pgSQL function with
pg_sleep created that way only there). The workload: a single-shard statement calling work()
on every shard's keys, a fan-out statement calling it on every row (the costliest statement by
a wide margin: each call sleeps for each of the slow shard's ~10 rows, 10 x 100 ms against the
single-shard statement's ~10 x 10 ms), an N+1 loop, and refused joins. Then Chromium loads
`/` with the [admin] http_auth credentials, runs the page's script (virtual time past the
page's 10 s self-refresh, so the refresh's authenticated fetch runs too), and the rendered DOM
must show the costliest statement first, the slow shard as the straggler, the N+1 finding and
the refused construct; a sort asked for in the address must order the statements table; a
screenshot must come out. Without credentials (or with wrong ones) / and /report.json are 401
with a Basic challenge, while /metrics, /healthz and /readyz stay open.

Chromium is a test dependency (scripts/deps.sh installs the Debian package `chromium`): when it
is missing the module fails, it does not skip.
"""

import base64
import html.parser
import json
import os
import shutil
import signal
import subprocess
import tempfile
import unittest
import urllib.error
import urllib.request

import psycopg2
import psycopg2.errors

import pgcluster
import shardgate_proc
from sgfixture import Proxy, shard_conn

N = 3
SLOW = 2
SLEEP_S = 0.01
KEYS = 30
FANOUTS = 10
LOOP = 20
REFUSED = 3
USER, PASSWORD = "viewer", "live-s3cret"
CHROMIUM_TIMEOUT_S = 90

TABLES = [{"name": "items", "shard_key": "id", "key_type": "bigint"}]
SCHEMA = "CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL);"
FAST_WORK = "CREATE FUNCTION work(x bigint) RETURNS bigint LANGUAGE sql AS $$ SELECT x $$;"
SLOW_WORK = (f"CREATE FUNCTION work(x bigint) RETURNS bigint LANGUAGE plpgsql AS "
             f"$$ BEGIN PERFORM pg_sleep({SLEEP_S}); RETURN x; END $$;")

SINGLE = "SELECT work(id) FROM items WHERE id = $1"
FANOUT = "SELECT id FROM items WHERE work(id) > $1"
LOOPED = "SELECT name FROM items WHERE id = $1"
JOIN_CONSTRUCT = "join not on the shard keys"

cluster = None
proxy = None
http_port = None
names = []
chromium = None


def setUpModule():
    global cluster, proxy, http_port, names, chromium
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise AssertionError("chromium is not installed: run scripts/deps.sh (the Debian package `chromium`)")
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
    proxy = Proxy(cluster, "live_page", tables=TABLES,
                  admin={"http_listen": f"127.0.0.1:{http_port}", "http_auth": f"{USER}:{PASSWORD}"},
                  stats={"enabled": True, "max_fingerprints": 1000, "slow_query_ms": 1000}).start()
    unittest.addModuleCleanup(proxy.stop)
    names = [r["name"] for r in sorted(proxy.admin("SHOW SHARDS"), key=lambda r: int(r["index"]))]
    run_workload()


def run_workload():
    conn = proxy.connect(autocommit=True)
    try:
        with conn.cursor() as cur:
            for i in range(1, KEYS + 1):
                cur.execute("INSERT INTO items (id, name) VALUES (%s, %s)", (i, f"item {i}"))
            proxy.admin("RESET QUERIES")
            for i in range(1, KEYS + 1):
                cur.execute("SELECT work(id) FROM items WHERE id = %s", (i,))
            for _ in range(FANOUTS):
                cur.execute("SELECT id FROM items WHERE work(id) > %s", (0,))
                assert len(cur.fetchall()) == KEYS
            # The ORM loop: one list, then a lookup per element.
            cur.execute("SELECT count(*) FROM items WHERE id = %s", (1,))
            for i in range(1, LOOP + 1):
                cur.execute("SELECT name FROM items WHERE id = %s", (i,))
            for _ in range(REFUSED):
                try:
                    cur.execute("SELECT a.id FROM items a JOIN items b ON a.name = b.name WHERE a.id > %s", (0,))
                except psycopg2.errors.FeatureNotSupported:
                    continue
                raise AssertionError("the join was not refused")
    finally:
        conn.close()


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def http_get(path, authorization=None):
    """(status, headers, body) of GET path."""
    req = urllib.request.Request(f"http://127.0.0.1:{http_port}{path}")
    if authorization:
        req.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def run_chromium(args, workdir):
    """Runs headless Chromium (as root it needs --no-sandbox) with a private profile; kills its
    process group by PID if it hangs. Returns stdout."""
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--no-first-run", "--disable-extensions", "--disable-background-networking",
           f"--user-data-dir={os.path.join(workdir, 'profile')}", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=CHROMIUM_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise AssertionError(f"chromium did not finish in {CHROMIUM_TIMEOUT_S} s: {' '.join(cmd)}")
    if proc.returncode != 0:
        raise AssertionError(f"chromium failed ({proc.returncode}): {err[-2000:]}")
    return out


class Dom(html.parser.HTMLParser):
    """The parts of a rendered page the assertions read: each table's body rows (cell texts),
    the text of each finding, and element texts and attributes by id."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.tables, self.findings, self.by_id, self.header_titles = {}, [], {}, []
        self._table = None
        self._row = None
        self._cell = None
        self._in_tbody = False
        self._finding_depth = 0
        self._finding = None
        self._open_ids = []  # (id, depth)
        self._depth = 0
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self._depth += 1
        if "id" in a:
            self._open_ids.append((a["id"], self._depth))
            self.by_id.setdefault(a["id"], "")
        if tag == "table":
            self._table = a.get("id", "")
            self.tables[self._table] = []
        elif tag == "tbody":
            self._in_tbody = True
        elif tag == "tr" and self._in_tbody:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = ""
        if tag == "th" and "title" in a:
            self.header_titles.append(a["title"])
        if tag == "div" and "finding" in a.get("class", ""):
            self._finding = ""
            self._finding_depth = self._depth
        if tag == "br" or tag == "meta":
            self._depth -= 1  # void elements have no end tag

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(self._cell.strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "tbody":
            self._in_tbody = False
        elif tag == "table":
            self._table = None
        if self._finding is not None and tag == "div" and self._depth == self._finding_depth:
            self.findings.append(self._finding)
            self._finding = None
        while self._open_ids and self._open_ids[-1][1] >= self._depth:
            self._open_ids.pop()
        self._depth -= 1

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data
        if self._finding is not None:
            self._finding += data
        for i, _ in self._open_ids:
            self.by_id[i] += data


class LivePageTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="live_page_")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)

    def url(self, fragment=""):
        return f"http://{USER}:{PASSWORD}@127.0.0.1:{http_port}/{fragment}"

    def test_report_json_has_the_same_findings(self):
        status, _, body = http_get("/report.json", basic(USER, PASSWORD))
        self.assertEqual(status, 200, body)
        data = json.loads(body)
        self.assertEqual(data["statements"][0]["query"], FANOUT,
                         [(s["query"], s["calls"], s["total_ms"]) for s in data["statements"]])
        self.assertIn((FANOUT, names[SLOW]), {(s["query"], s["shard"]) for s in data["stragglers"]})
        self.assertTrue(any(f["kind"] == "N+1" and f["query"] == LOOPED for f in data["findings"]),
                        data["findings"])
        self.assertTrue(any(r["construct"] == JOIN_CONSTRUCT and r["count"] == REFUSED for r in data["refusals"]))
        # The reset happened in this run (not at the epoch): the period starts then.
        self.assertGreater(data["period"]["reset_at"], "2020")
        self.assertEqual(data["period"]["from"], data["period"]["reset_at"])
        self.assertLess(data["period"]["reset_at"], data["period"]["to"])
        self.assertEqual(data["period"]["window_seconds"], 60)
        # Every call since the reset is in the kept intervals (one, or two across a minute).
        self.assertIn(len(data["intervals"]), (1, 2))
        self.assertEqual(sum(i["calls"] for i in data["intervals"]), data["summary"]["calls"])
        self.assertIn("compared", data)

    def test_credentials_are_required_for_the_report_only(self):
        for path in ("/", "/report.json", "/?x=1"):
            for auth in (None, basic(USER, "wrong"), basic("nobody", PASSWORD), "Bearer x"):
                status, headers, body = http_get(path, auth)
                self.assertEqual(status, 401, (path, auth))
                self.assertIn('Basic realm="shardgate"', headers.get("WWW-Authenticate", ""))
                self.assertNotIn("SELECT", body)
        for path in ("/metrics", "/healthz", "/readyz"):
            status, _, _ = http_get(path)
            self.assertEqual(status, 200, path)
        status, headers, body = http_get("/", basic(USER, PASSWORD))
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("text/html"))
        self.assertEqual(headers["Cache-Control"], "no-store")
        # Self-contained: no scripts, styles or images from anywhere else.
        self.assertNotIn("src=", body)
        self.assertNotIn("<link", body)
        status, _, _ = http_get("/nope", basic(USER, PASSWORD))
        self.assertEqual(status, 404)

    def test_page_renders_in_chromium(self):
        # 15 s of virtual time: the page's 10 s refresh fetches / again (with the credentials
        # the browser holds) and swaps the report in.
        dom = Dom(run_chromium(["--virtual-time-budget=15000", "--dump-dom", self.url()], self.tmp))
        statements = dom.tables.get("statements")
        self.assertTrue(statements, "no statements table in the rendered page")
        self.assertIn(FANOUT, statements[0][-1], "the costliest statement is not first")
        stragglers = dom.tables.get("stragglers")
        self.assertTrue(stragglers, "no stragglers table")
        self.assertTrue(any(r[0] == names[SLOW] and FANOUT in r[-1] for r in stragglers), stragglers)
        self.assertTrue(any(f.startswith("N+1") and LOOPED in f for f in dom.findings), dom.findings)
        refused = dom.tables.get("refusals")
        self.assertTrue(refused and refused[0][0] == JOIN_CONSTRUCT and refused[0][1] == str(REFUSED), refused)
        self.assertIn("shard-chart", dom.by_id)
        self.assertIn("window-chart", dom.by_id)
        self.assertIn("statistics last reset at", dom.by_id["period"])
        # The script ran (headers wired for sorting) and its refresh succeeded.
        self.assertIn("sort by calls", dom.header_titles)
        self.assertIn("updated", dom.by_id["live-status"])

    def test_sort_asked_for_in_the_address(self):
        # Column 3 of the statements table is "calls"; ascending.
        dom = Dom(run_chromium(["--virtual-time-budget=3000", "--dump-dom", self.url("#sort=statements.3.a")],
                               self.tmp))
        calls = [int(r[3]) for r in dom.tables["statements"]]
        self.assertGreater(len(calls), 3)
        self.assertEqual(calls, sorted(calls))
        self.assertNotEqual(calls, sorted(calls, reverse=True))
        dom = Dom(run_chromium(["--virtual-time-budget=3000", "--dump-dom", self.url("#sort=statements.3.d")],
                               self.tmp))
        self.assertEqual([int(r[3]) for r in dom.tables["statements"]], sorted(calls, reverse=True))

    def test_screenshot(self):
        png = os.path.join(self.tmp, "live.png")
        run_chromium(["--virtual-time-budget=3000", "--window-size=1280,2400", f"--screenshot={png}",
                      self.url()], self.tmp)
        self.assertTrue(os.path.exists(png), "no screenshot written")
        with open(png, "rb") as f:
            data = f.read()
        self.assertEqual(data[:8], b"\x89PNG\r\n\x1a\n")
        # A blank 1280x2400 page compresses to a few kilobytes; the report's text and charts do not.
        self.assertGreater(len(data), 40_000)
        keep = os.environ.get("SHARDGATE_LIVE_PAGE_PNG")
        if keep:
            shutil.copyfile(png, keep)


if __name__ == "__main__":
    unittest.main()
