"""The front door under storms (issue 19): max_client_conn counts connections still logging
in, its refusal reaches clients that start with SSLRequest (libpq's sslmode=prefer), the accept
loop backs off instead of spinning when the proxy is out of file descriptors, and the login
timeout and SIGTERM drain send an ErrorResponse before closing.
"""

import faulthandler
import os
import shutil
import signal
import socket
import struct
import subprocess
import time
import unittest

import psycopg2

import pgcluster
import pgwire
from sgfixture import Proxy

WATCHDOG_S = 180
USERS = [{"name": "postgres", "password": "", "auth": "trust", "admin": True}]

cluster = None


def setUpModule():
    global cluster
    faulthandler.dump_traceback_later(WATCHDOG_S, exit=True)
    unittest.addModuleCleanup(faulthandler.cancel_dump_traceback_later)
    cluster = pgcluster.Cluster(1)
    cluster.start()
    unittest.addModuleCleanup(cluster.stop)


def fatal_fields(messages):
    errors = [pgwire.parse_error_fields(p) for t, p in messages if t == "E"]
    return errors[0] if errors else None


def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class FrontDoorTest(unittest.TestCase):
    def start(self, name, **proxy):
        sg = Proxy(cluster, name, users=USERS, proxy=proxy).start()
        self.addCleanup(sg.stop)
        return sg

    def silent_sockets(self, sg, n):
        """n connections that never send their startup packet (still logging in)."""
        socks = []
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", sg.port), timeout=5)
            socks.append(s)
            self.addCleanup(s.close)
        return socks

    def test_max_client_conn_counts_logins_and_reaches_ssl_clients(self):
        sg = self.start("fd_limit", max_client_conn=5, login_timeout_ms=20000)
        self.silent_sockets(sg, 5)
        time.sleep(0.2)
        for sslmode in ("disable", "prefer"):
            with self.subTest(sslmode=sslmode):
                with self.assertRaises(psycopg2.OperationalError) as cm:
                    psycopg2.connect(sg.dsn(sslmode=sslmode, connect_timeout=5))
                msg = str(cm.exception)
                self.assertIn("too many client connections (max_client_conn=5)", msg)
                self.assertNotIn("SSL exchange", msg)
        # A raw SSLRequest gets 'N', then (after the startup packet) the FATAL 53300.
        with pgwire.WireConn("127.0.0.1", sg.port, timeout=5) as c:
            c.send_raw(struct.pack(">ii", 8, pgwire.SSL_REQUEST))
            self.assertEqual(c.recv_byte(), b"N")
            c.send_raw(pgwire.startup_packet({"user": "postgres", "database": cluster.dbname}))
            err = fatal_fields(c.recv_until_closed())
            self.assertEqual(err["C"], "53300")

    def test_login_timeout_sends_an_error(self):
        sg = self.start("fd_login_timeout", login_timeout_ms=300)
        with pgwire.WireConn("127.0.0.1", sg.port, timeout=5) as c:
            t0 = time.monotonic()
            msgs = c.recv_until_closed(timeout=5)
            self.assertLess(time.monotonic() - t0, 2.0)
        err = fatal_fields(msgs)
        self.assertIsNotNone(err, msgs)
        self.assertEqual(err["C"], "08P01")
        self.assertIn("timeout", err["M"])

    def test_sigterm_drain_sends_an_error(self):
        sg = self.start("fd_sigterm", shutdown_timeout_s=5)
        with pgwire.WireConn("127.0.0.1", sg.port, timeout=10) as c:
            c.startup("postgres", cluster.dbname)
            c.query("SELECT 1")
            os.kill(sg.pid, signal.SIGTERM)
            msgs = c.recv_until_closed(timeout=5)
        err = fatal_fields(msgs)
        self.assertIsNotNone(err, msgs)
        self.assertEqual(err["C"], "57P01")
        self.assertIn("shutting down", err["M"])

    # Runs under the sanitizer build: UBSan's vptr check proves memory readable with pipe(),
    # which fails out of descriptors and used to stop the proxy with a false "invalid vptr" in
    # readiness.cpp (fixed there). A first query before the limit warms the other type caches.
    @unittest.skipUnless(shutil.which("prlimit"), "prlimit (util-linux) is not installed")
    def test_accept_backs_off_when_out_of_descriptors(self):
        sg = self.start("fd_emfile", max_client_conn=10000)
        conn = psycopg2.connect(sg.dsn(connect_timeout=3))
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
        conn.close()
        # Room for what the proxy has open now plus a few clients.
        in_use = len(os.listdir(f"/proc/{sg.pid}/fd"))
        limit = in_use + 5
        with open(f"/proc/{sg.pid}/limits") as f:
            soft = next(l.split()[3] for l in f if l.startswith("Max open files"))
        # Only the soft limit: raising it back needs no privilege.
        subprocess.run(["prlimit", f"--pid={sg.pid}", f"--nofile={limit}:"], check=True, timeout=10)
        socks = self.silent_sockets(sg, 20)  # more than the proxy can accept
        time.sleep(0.3)
        cpu0 = proc_cpu_seconds(sg.pid)
        time.sleep(1.5)
        cpu = proc_cpu_seconds(sg.pid) - cpu0
        self.assertLess(cpu, 0.3, f"the proxy used {cpu:.2f}s of CPU in 1.5s while out of descriptors")
        with open(sg.log_path) as f:
            lines = [l for l in f if "accept failed" in l]
        self.assertGreaterEqual(len(lines), 1)
        self.assertLess(len(lines), 20, "one log line per pause would flood the log")
        for s in socks:
            s.close()
        subprocess.run(["prlimit", f"--pid={sg.pid}", f"--nofile={soft}:"], check=True, timeout=10)
        # Serving again once descriptors are free. (The background check could not open a
        # socket meanwhile either, so the shard's breaker may be open until its next check.)
        deadline = time.monotonic() + 5
        while True:
            try:
                conn = psycopg2.connect(sg.dsn(connect_timeout=3))
                try:
                    with conn.cursor() as cur:
                        cur.execute("SELECT 1")
                        self.assertEqual(cur.fetchone(), (1,))
                    break
                finally:
                    conn.close()
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

if __name__ == "__main__":
    unittest.main()
