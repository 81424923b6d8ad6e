"""Pauses that expire and are visible; the checkout-time map check (issue 22), on real shards.

- An abandoned PAUSE lapses within its lease: the held statement then runs; while it is held,
  SHOW CLIENTS shows it `paused` with its waiting time, SHOW POOLS counts it in cl_waiting,
  /metrics in shardgate_clients_paused; the lapse is one log line and one count in
  shardgate_pause_expired_total; a RESUME naming the lapsed pause is refused (55000).
- PAUSE BUCKETS ... TIMEOUT holds at most its lease; renewing a pause does not hold a client
  past [proxy] max_pause_ms: it gets 57014 naming the pause; a TIMEOUT above the bound is
  refused. SHOW PAUSES / SHOW MAP name the owner and the expiry; /readyz reports a pause kept
  past the bound.
- A proxy whose server connection meets a shard stamped with a newer map refuses at checkout
  (55000 naming both versions) instead of routing by its old map.
- `rebalance run` killed (-9) mid-switch: the proxies release the switched buckets within the
  lease (a held read then runs) and `rebalance abort` cleans up; SIGINT mid-switch resumes the
  buckets at once and rolls the switch back; `rebalance abort` then ends the run cleanly.
Timing bounds come from the leases the test itself sets.
"""

import os
import re
import signal
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

import psycopg2

import pgcluster
import sgfixture
from sgfixture import Proxy, bucket_of, shard_conn, shard_rows

TABLES = [{"name": "items", "kind": "sharded", "shard_key": "id", "key_type": "bigint"}]
DDL = "CREATE TABLE items (id bigint PRIMARY KEY, val text NOT NULL)"
MAX_PAUSE_MS = 2500


class Held:
    """A statement run in a thread; records its result or error and how long it took."""

    def __init__(self, proxy, sql, params=None):
        self.conn = proxy.connect(autocommit=True)
        self.result = self.error = None
        self.started = time.monotonic()
        self.seconds = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(sql, params), daemon=True)
        self.thread.start()

    def _run(self, sql, params):
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql, params)
                self.result = cur.fetchall() if cur.description else cur.rowcount
        except psycopg2.Error as e:
            self.error = e
        finally:
            self.seconds = time.monotonic() - self.started
            self.done.set()

    def wait(self, timeout):
        assert self.done.wait(timeout), "the held statement never finished"
        self.conn.close()
        return self


def metrics(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        m = re.match(r"^(shardgate_[a-z_]+)(\{[^}]*\})? (\S+)$", line)
        if m and m.group(2) is None:
            out[m.group(1)] = float(m.group(3))
    return out


def readyz(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def wait_until(what, pred, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class PauseLeases(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = pgcluster.Cluster(2).start()
        for i in range(2):
            c = shard_conn(cls.cluster, i)
            shard_rows(c, DDL)
            c.close()
        cls.http_port = pgcluster.free_port()
        cls.proxy = Proxy(cls.cluster, "pause-lease", tables=TABLES,
                          proxy={"max_pause_ms": MAX_PAUSE_MS},
                          admin={"http_listen": f"127.0.0.1:{cls.http_port}"}).start()
        c = cls.proxy.connect(autocommit=True)
        with c.cursor() as cur:
            for i in range(1, 41):
                cur.execute("INSERT INTO items VALUES (%s, %s)", (i, f"v{i}"))
        c.close()

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        cls.cluster.stop()

    def tearDown(self):
        self.proxy.admin("RESUME")
        self.proxy.admin("RESUME BUCKETS")

    def lapse_lines(self):
        with open(self.proxy.log_path) as f:
            return [l for l in f.read().splitlines() if "lapsed: no RESUME" in l]

    def test_abandoned_pause_lapses_within_its_lease_and_the_held_statement_runs(self):
        before = metrics(self.http_port)
        lines_before = len(self.lapse_lines())
        admin = self.proxy.admin_connect()
        row = self.proxy.admin("PAUSE TIMEOUT 1500", admin)[0]
        pause_id, lease = int(row["id"]), int(row["lease_ms"])
        self.assertEqual(lease, 1500)
        admin.close()  # the operator walks away without RESUME
        t0 = time.monotonic()
        held = Held(self.proxy, "SELECT val FROM items WHERE id = 7")
        # Visible while held: SHOW CLIENTS, SHOW POOLS, SHOW PAUSES, /metrics.
        clients = wait_until("a paused client", lambda: [
            r for r in self.proxy.admin("SHOW CLIENTS") if r["state"] == "paused"])
        self.assertEqual(int(clients[0]["pause_id"]), pause_id)
        self.assertRegex(clients[0]["waiting_since"], r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$")
        self.assertGreaterEqual(int(clients[0]["wait_ms"]), 0)
        pools = self.proxy.admin("SHOW POOLS")
        self.assertGreaterEqual(sum(int(p["cl_waiting"]) for p in pools), 1, pools)
        pauses = self.proxy.admin("SHOW PAUSES")
        self.assertEqual([(p["kind"], int(p["id"])) for p in pauses], [("proxy", pause_id)])
        self.assertIn("postgres@127.0.0.1", pauses[0]["owner"])
        self.assertLessEqual(int(pauses[0]["expires_in_ms"]), 1500)
        self.assertEqual(int(pauses[0]["held_clients"]), 1)
        m = metrics(self.http_port)
        self.assertEqual(m["shardgate_clients_paused"], 1)
        self.assertEqual(m["shardgate_pauses_active"], 1)
        self.assertFalse(held.done.is_set(), "the statement ran during the pause")

        held.wait(10)
        elapsed = time.monotonic() - t0
        self.assertIsNone(held.error, held.error)
        self.assertEqual(held.result, [("v7",)])
        self.assertLess(elapsed, 1.5 + 1.0, "held longer than the lease")
        self.assertGreater(held.seconds, 1.0)
        self.assertEqual(self.proxy.admin("SHOW PAUSES"), [])
        after = metrics(self.http_port)
        self.assertEqual(after["shardgate_pause_expired_total"], before["shardgate_pause_expired_total"] + 1)
        self.assertEqual(after["shardgate_clients_paused"], 0)
        lines = self.lapse_lines()[lines_before:]
        self.assertEqual(len(lines), 1, lines)
        self.assertIn(f"pause {pause_id} (PAUSE by", lines[0])
        # Resuming the lapsed pause by id says so.
        with self.assertRaises(psycopg2.Error) as e:
            self.proxy.admin(f"RESUME ID {pause_id}")
        self.assertEqual(e.exception.pgcode, "55000")
        self.assertIn("lapsed", e.exception.pgerror)

    def test_pause_buckets_timeout_holds_at_most_the_lease(self):
        with self.assertRaises(psycopg2.Error) as e:
            self.proxy.admin(f"PAUSE BUCKETS 0-4095 TIMEOUT {MAX_PAUSE_MS + 1}")
        self.assertEqual(e.exception.pgcode, "42601")
        self.assertIn("max_pause_ms", e.exception.pgerror)
        row = self.proxy.admin("PAUSE BUCKETS 0-4095 TIMEOUT 800")[0]
        self.assertEqual(int(row["lease_ms"]), 800)
        m = self.proxy.admin("SHOW MAP")[0]
        self.assertEqual(int(m["paused_buckets"]), 4096)
        self.assertIn("postgres@", m["pause_owner"])
        held = Held(self.proxy, "UPDATE items SET val = 'held' WHERE id = 9")
        wait_until("a paused client", lambda: any(
            r["state"] == "paused" for r in self.proxy.admin("SHOW CLIENTS")))
        held.wait(10)
        self.assertIsNone(held.error, held.error)
        self.assertEqual(held.result, 1)
        self.assertLess(held.seconds, 0.8 + 1.0)
        self.assertGreater(held.seconds, 0.5)

    def test_a_renewed_pause_holds_no_client_past_max_pause_ms(self):
        admin = self.proxy.admin_connect()
        self.addCleanup(admin.close)
        pause_id = int(self.proxy.admin("PAUSE BUCKETS 0-4095 TIMEOUT 700", admin)[0]["id"])
        held = Held(self.proxy, "SELECT val FROM items WHERE id = 11")
        # The owner keeps renewing: the pause stays, but the client is held at most the bound.
        end = time.monotonic() + MAX_PAUSE_MS / 1000 + 1.5
        stuck_seen = None
        while time.monotonic() < end and not held.done.is_set():
            self.proxy.admin(f"RENEW BUCKETS ID {pause_id}", admin)
            status, body = readyz(self.http_port)
            if status == 503 and "stuck" in body:
                stuck_seen = body
            time.sleep(0.2)
        held.wait(5)
        self.assertIsNotNone(held.error, "the statement ran while the pause was in force")
        self.assertEqual(held.error.pgcode, "57014")
        self.assertIn(f"pause {pause_id}", held.error.pgerror)
        self.assertIn("max_pause_ms", held.error.pgerror)
        self.assertGreater(held.seconds, MAX_PAUSE_MS / 1000 - 0.2)
        self.assertLess(held.seconds, MAX_PAUSE_MS / 1000 + 1.0)
        # Still renewed past the bound: /readyz reports it (load balancers act on readyz).
        for _ in range(10):
            if stuck_seen:
                break
            self.proxy.admin(f"RENEW BUCKETS ID {pause_id}", admin)
            status, body = readyz(self.http_port)
            if status == 503 and "stuck" in body:
                stuck_seen = body
            time.sleep(0.1)
        self.assertIsNotNone(stuck_seen, "/readyz did not report the pause kept past max_pause_ms")
        self.assertIn(f"pause {pause_id}", stuck_seen)
        self.proxy.admin(f"RESUME BUCKETS ID {pause_id}", admin)
        self.assertEqual(readyz(self.http_port)[0], 200)
        with self.assertRaises(psycopg2.Error) as e:
            self.proxy.admin(f"RENEW BUCKETS ID {pause_id}", admin)
        self.assertEqual(e.exception.pgcode, "55000")


class CheckoutStampCheck(unittest.TestCase):
    """The stamp watcher is slowed to 10 minutes: only the checkout check can catch it."""

    def setUp(self):
        self.cluster = pgcluster.Cluster(2).start()
        self.addCleanup(self.cluster.stop)
        for i in range(2):
            c = shard_conn(self.cluster, i)
            shard_rows(c, DDL)
            c.close()
        self.proxy = Proxy(self.cluster, "checkout-stamp", tables=TABLES,
                           proxy={"stamp_poll_ms": 600000}).start()
        self.addCleanup(self.proxy.stop)

    def test_a_shard_stamped_past_the_proxys_map_is_refused_at_checkout(self):
        c = self.proxy.connect(autocommit=True)
        with c.cursor() as cur:
            cur.execute("INSERT INTO items VALUES (1, 'one'), (2, 'two'), (3, 'three')")
        c.close()
        version = int(self.proxy.admin("SHOW MAP")[0]["version"])
        # Another party moved the cluster on: every shard now carries version + 3.
        for i in range(2):
            s = shard_conn(self.cluster, i)
            shard_rows(s, "UPDATE shardgate.map_stamp SET version = version + 3, content_hash = 'feedfacefeedface'")
            s.close()
        # New server connections have not confirmed the map: the first checkout asks the shard.
        self.proxy.admin("RECONNECT")
        c = self.proxy.connect(autocommit=True)
        with c.cursor() as cur:
            with self.assertRaises(psycopg2.Error) as e:
                cur.execute("SELECT val FROM items WHERE id = 2")
        c.close()
        self.assertEqual(e.exception.pgcode, "55000")
        msg = e.exception.pgerror
        self.assertIn(f"routes by shard map version {version}", msg)
        self.assertIn(f"carries version {version + 3} (hash feedfacefeedface)", msg)
        # From then on the map is fenced: every sharded statement is refused, not just that shard's.
        m = self.proxy.admin("SHOW MAP")[0]
        self.assertNotEqual(m["refused"], "", m)

    def test_after_a_map_change_connections_check_again_and_agreeing_stamps_pass(self):
        c = self.proxy.connect(autocommit=True)
        with c.cursor() as cur:
            cur.execute("INSERT INTO items VALUES (5, 'five')")
            cur.execute("SELECT val FROM items WHERE id = 5")
            self.assertEqual(cur.fetchall(), [("five",)])
        # RELOAD MAP (same file) changes the map generation: connections check again and pass.
        self.proxy.admin("RELOAD MAP")
        with c.cursor() as cur:
            for _ in range(3):
                cur.execute("SELECT val FROM items WHERE id = 5")
                self.assertEqual(cur.fetchall(), [("five",)])
        # A shard stamped past the map after the reload: the next checkout refuses.
        for i in range(2):
            s = shard_conn(self.cluster, i)
            shard_rows(s, "UPDATE shardgate.map_stamp SET version = version + 1")
            s.close()
        self.proxy.admin("RELOAD MAP")
        with c.cursor() as cur:
            with self.assertRaises(psycopg2.Error) as e:
                cur.execute("SELECT val FROM items WHERE id = 5")
        self.assertEqual(e.exception.pgcode, "55000")
        c.close()


class Rebalancer:
    """`shardgate rebalance ARGS` in the background; its output goes to files (no pipe to fill)."""

    def __init__(self, config, *args, env_extra=None):
        env = dict(os.environ)
        env.pop("SHARDGATE_REBALANCE_CRASH_AT", None)
        env.pop("SHARDGATE_REBALANCE_STALL_AT", None)
        env.update(env_extra or {})
        self.out = tempfile.TemporaryFile("w+")
        self.err = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen([sgfixture.shardgate_proc.shardgate_bin(), "rebalance", *args, "-c", config],
                                     env=env, stdout=self.out, stderr=self.err, stdin=subprocess.DEVNULL)

    def wait(self, timeout=300):
        """Waits for the end; returns (returncode, stdout, stderr)."""
        rc = self.proc.wait(timeout)
        texts = []
        for f in (self.out, self.err):
            f.seek(0)
            texts.append(f.read())
            f.close()
        return rc, texts[0], texts[1]

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def parse_runs(runs):
    out = []
    for part in runs.split(","):
        a, _, b = part.partition("-")
        out.extend(range(int(a), int(b or a) + 1))
    return out


class RebalanceSwitchLease(unittest.TestCase):
    """2 shards with rows, a 3rd joins; the rebalancer dies or is interrupted mid-switch."""

    ROWS = 3000

    def setUp(self):
        self.cluster = pgcluster.Cluster(3).start()
        self.addCleanup(self.cluster.stop)
        for i in range(3):
            c = shard_conn(self.cluster, i)
            shard_rows(c, DDL)
            c.close()
        self.proxy = Proxy(self.cluster, f"lease-{self._testMethodName}", tables=TABLES, shards=[0, 1],
                           proxy={"pool_size": 4}).start()
        c = self.proxy.connect(autocommit=True)
        with c.cursor() as cur:
            for first in range(1, self.ROWS + 1, 500):
                ids = range(first, min(first + 500, self.ROWS + 1))
                cur.execute("INSERT INTO items VALUES " + ", ".join(f"({i}, 'v{i}')" for i in ids))
        c.close()
        self.proxy.stop()
        self.proxy.shards = None  # the third shard is listed; it owns nothing yet
        self.proxy.start()
        self.addCleanup(self.proxy.stop)
        self.config = self.proxy.config_path

    def paused_now(self):
        return [p for p in self.proxy.admin("SHOW PAUSES") if p["kind"] == "buckets"]

    def key_in(self, buckets):
        wanted = set(buckets)
        return next(i for i in range(1, self.ROWS + 1) if bucket_of(i, "bigint") in wanted)

    def leftovers(self):
        out = []
        for s in range(3):
            c = shard_conn(self.cluster, s)
            out += shard_rows(c, "SELECT gid FROM pg_prepared_xacts UNION ALL "
                                 "SELECT slot_name::text FROM pg_replication_slots")
            c.close()
        return out

    def prepared(self):
        out = []
        for s in range(3):
            c = shard_conn(self.cluster, s)
            out += shard_rows(c, "SELECT gid FROM pg_prepared_xacts")
            c.close()
        return out

    def total_rows(self):
        n = 0
        for s in range(3):
            c = shard_conn(self.cluster, s)
            n += shard_rows(c, "SELECT count(*) FROM items")[0][0]
            c.close()
        return n

    def test_kill_9_mid_switch_releases_within_the_lease_and_abort_cleans_up(self):
        p = Rebalancer(self.config, "run", "--max-pause-ms", "250", "--pause-lease-ms", "1500",
                       env_extra={"SHARDGATE_REBALANCE_CRASH_AT": "switch-prepared"})
        rc, out, err = p.wait()
        self.assertEqual(rc, -9, err[-3000:])
        killed = time.monotonic()
        paused = self.paused_now()
        self.assertEqual(len(paused), 1, "the killed switch's pause should still be in force")
        self.assertIn("shardgate rebalance", paused[0]["owner"])
        key = self.key_in(parse_runs(paused[0]["buckets"]))
        held = Held(self.proxy, "SELECT val FROM items WHERE id = %s", (key,)).wait(10)
        self.assertIsNone(held.error, held.error)
        self.assertEqual(held.result, [(f"v{key}",)])  # the old owner serves
        self.assertLess(time.monotonic() - killed, 1.5 + 1.0, "not released within the lease")
        self.assertEqual(self.paused_now(), [])
        with open(self.proxy.log_path) as f:
            log = f.read()
        self.assertTrue(any("lapsed: no RESUME" in l and "shardgate rebalance" in l for l in log.splitlines()),
                        self.proxy.log_tail())
        rc, out, err = Rebalancer(self.config, "abort").wait()
        self.assertEqual(rc, 0, out + err[-3000:])
        self.assertEqual(self.leftovers(), [])
        self.assertEqual(self.total_rows(), self.ROWS)
        c = self.proxy.connect(autocommit=True)
        with c.cursor() as cur:
            cur.execute("UPDATE items SET val = 'after' WHERE id = %s", (key,))
            self.assertEqual(cur.rowcount, 1)
        c.close()

    def test_sigint_mid_switch_resumes_at_once_and_abort_ends_the_run(self):
        p = Rebalancer(self.config, "run", "--max-pause-ms", "250", "--pause-lease-ms", "30000",
                       env_extra={"SHARDGATE_REBALANCE_STALL_AT": "switch-prepared"})
        self.addCleanup(p.kill)
        paused = wait_until("the stalled switch's pause", self.paused_now, timeout=120)
        key = self.key_in(parse_runs(paused[0]["buckets"]))
        held = Held(self.proxy, "SELECT val FROM items WHERE id = %s", (key,))
        wait_until("a paused client", lambda: any(
            r["state"] == "paused" for r in self.proxy.admin("SHOW CLIENTS")))
        t0 = time.monotonic()
        p.proc.send_signal(signal.SIGINT)
        held.wait(10)
        self.assertIsNone(held.error, held.error)
        self.assertEqual(held.result, [(f"v{key}",)])
        self.assertLess(time.monotonic() - t0, 3.0, "SIGINT did not resume the buckets at once (lease 30 s)")
        rc, out, err = p.wait(60)
        self.assertNotEqual(rc, 0)
        self.assertIn("interrupted by signal 2", out + err)
        self.assertEqual(self.paused_now(), [])
        self.assertEqual(self.prepared(), [])  # the switch was rolled back (its slot stays for the rerun)
        self.assertEqual(self.total_rows(), self.ROWS)
        # The interrupted run ends cleanly: no slot, publication or prepared switch left.
        rc, out, err = Rebalancer(self.config, "abort").wait()
        self.assertEqual(rc, 0, out + err[-3000:])
        self.assertEqual(self.leftovers(), [])
        self.assertEqual(self.total_rows(), self.ROWS)
        rc, out, err = Rebalancer(self.config, "verify").wait()
        self.assertEqual(rc, 0, out + err[-3000:])


if __name__ == "__main__":
    unittest.main()
