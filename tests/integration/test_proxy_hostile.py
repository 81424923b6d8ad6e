"""Hostile clients on raw sockets: malformed, truncated and oversized frames, unknown message
types, startup garbage, unsupported protocol versions, bytes after SSLRequest, clients that
vanish mid-message, and wrong passwords.

After each case the proxy must still run, hold no more memory than before (a length field
claiming gigabytes is refused without allocating it), and serve a normal psycopg2 client.
A wrong password gets 28P01 and opens nothing on the shard.
"""

import faulthandler
import hashlib
import os
import random
import shutil
import socket
import struct
import time
import unittest

import psycopg2

import pgcluster
import pgwire
from pgwire import PROTOCOL_3, SSL_REQUEST, GSSENC_REQUEST, CANCEL_REQUEST, frame, \
    startup_packet
from sgfixture import Proxy, log_dir, shard_conn, shard_rows

WATCHDOG_S = 240
REFUSE_S = 5                 # how long the proxy may take to answer/close a hostile client

cluster = None
sg = None
shard = None
baseline = None
crash_count = 0

USERS = [
    {"name": "postgres", "password": "", "auth": "trust", "admin": True},
    {"name": "scram_user", "password": "scram-pw", "auth": "scram-sha-256"},
    {"name": "md5_user", "password": "md5-pw", "auth": "md5"},
    {"name": "guard_user", "password": "guard-pw", "auth": "scram-sha-256"},
]


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if v.strip().endswith("kB"):
                out[k] = int(v.split()[0])
    return out


def setUpModule():
    global cluster, sg, shard, baseline
    faulthandler.dump_traceback_later(WATCHDOG_S, exit=True)
    unittest.addModuleCleanup(faulthandler.cancel_dump_traceback_later)
    cluster = pgcluster.Cluster(1, roles={"scram_user": "scram-pw", "md5_user": "md5-pw",
                                          "guard_user": "guard-pw"})
    cluster.start()
    unittest.addModuleCleanup(cluster.stop)
    cluster.psql(0, "CREATE TABLE notes (id int, body text); "
                    "INSERT INTO notes VALUES (1, 'one'), (2, 'two');"
                    "GRANT ALL ON notes TO scram_user, md5_user, guard_user")
    sg = Proxy(cluster, "test_proxy_hostile", users=USERS,
               proxy={"pool_size": 4, "login_timeout_ms": 10000,
                      "max_message_bytes": 67108864}).start()
    unittest.addModuleCleanup(sg.stop)
    shard = shard_conn(cluster, 0)
    unittest.addModuleCleanup(shard.close)
    # Warm up (pools, first allocations), then take the memory baseline.
    for _ in range(3):
        c = sg.connect(autocommit=True)
        with c.cursor() as cur:
            cur.execute("SELECT count(*) FROM notes")
        c.close()
    baseline = proc_status(sg.pid)


def restart_proxy():
    """After a crash: a fresh proxy on the same port, so one bug fails one test only."""
    global baseline
    sg.stop()
    sg.start()
    baseline = proc_status(sg.pid)


def probe_ok():
    try:
        with pgwire.WireConn("127.0.0.1", sg.port, timeout=3) as c:
            c.startup("postgres", cluster.dbname)
            return c.query("SELECT 1")[0].rows == [("1",)]
    except Exception:
        return False


def crashed():
    """None while the proxy answers a fresh client; otherwise the tail of its log (after
    letting a dying process finish), and the proxy is restarted."""
    if sg.alive() and probe_ok():
        return None
    deadline = time.monotonic() + 3
    while sg.alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    if sg.alive():
        state = "still running but not answering a new client"
    else:
        state = f"exited with {sg.proc.proc.returncode}"
    global crash_count
    crash_count += 1
    kept = os.path.join(log_dir(), f"test_proxy_hostile.crash{crash_count}.log")
    shutil.copyfile(sg.log_path, kept)
    tail = f"[{state}; full log {kept}] " + " | ".join(sg.log_tail(4).splitlines()[-2:])
    restart_proxy()
    return tail


class HostileCase(unittest.TestCase):
    maxDiff = None

    def raw(self, timeout=REFUSE_S):
        c = pgwire.WireConn("127.0.0.1", sg.port, timeout=timeout)
        self.addCleanup(c.close)
        return c

    def logged_in(self):
        c = self.raw(timeout=10)
        c.startup("postgres", cluster.dbname)
        return c

    def assertRefused(self, c, sqlstates=None, severity=None, message=None,
                      allow_silent_close=True):
        """The proxy answers with at most an ErrorResponse and closes the connection within
        REFUSE_S. Returns the error fields (or None when it closed silently)."""
        closed = c.wait_closed(REFUSE_S)
        self.assertTrue(closed, "the proxy kept a hostile connection open")
        msgs = [m for m in c.last_messages if m[0] != "N"]
        self.assertTrue(all(t == "E" for t, _ in msgs),
                        f"only an ErrorResponse may precede the close, got {msgs!r}")
        if not msgs:
            self.assertTrue(allow_silent_close, "expected an ErrorResponse before the close")
            return None
        fields = pgwire.parse_error_fields(msgs[0][1])
        if sqlstates:
            self.assertIn(fields.get("C"), sqlstates, fields)
        if severity:
            self.assertEqual(fields.get("V") or fields.get("S"), severity, fields)
        if message:
            self.assertRegex(fields.get("M", ""), message)
        return fields

    def assertHealthy(self):
        tail = crashed()
        if tail is not None:
            self.fail(f"the proxy crashed or stopped serving (restarted for the next tests); "
                      f"log:\n{tail}")
        c = sg.connect(autocommit=True, application_name="health-check")
        try:
            with c.cursor() as cur:
                cur.execute("SELECT id, body FROM notes ORDER BY id")
                self.assertEqual(cur.fetchall(), [(1, "one"), (2, "two")])
        finally:
            c.close()

    def assertMemorySmall(self, before):
        """RSS must not have grown by anything like a claimed frame, nor the virtual size by
        a reservation of one (VmPeak catches an allocation whose pages were never touched)."""
        st = proc_status(sg.pid)
        self.assertLess(st["VmHWM"] - before["VmHWM"], 64 * 1024,
                        f"proxy RSS peak grew from {before['VmHWM']} kB to {st['VmHWM']} kB")
        self.assertLess(st["VmPeak"] - before["VmPeak"], 512 * 1024,
                        f"proxy VmPeak grew from {before['VmPeak']} kB to {st['VmPeak']} kB")

    def survived(self, what):
        """Inside a loop of cases: a crash fails this case (with its trigger) and the proxy is
        restarted, so the remaining cases still run."""
        tail = crashed()
        if tail is not None:
            self.fail(f"the proxy crashed or stopped serving after {what}; log:\n{tail}")

    def tearDown(self):
        self.assertHealthy()


class StartupGarbageTest(HostileCase):

    def test_http_request_instead_of_startup(self):
        c = self.raw()
        c.send_raw(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        self.assertRefused(c)

    def test_startup_lengths_too_small_negative_or_huge(self):
        before = proc_status(sg.pid)
        for length in (0, 4, 7, -1, -8, 0x7FFFFFFF, 0x40000000, 10_000_000):
            with self.subTest(length=length):
                c = self.raw()
                c.send_raw(struct.pack(">ii", length, PROTOCOL_3))
                t0 = time.monotonic()
                self.assertRefused(c)
                self.assertLess(time.monotonic() - t0, REFUSE_S)
        self.assertMemorySmall(before)

    def test_startup_packet_without_terminators(self):
        body = struct.pack(">i", PROTOCOL_3) + b"user\0postgres\0database\0app"   # no NULs
        c = self.raw()
        c.send_raw(struct.pack(">i", len(body) + 4) + body)
        self.assertRefused(c, sqlstates={"08P01"})

    def test_startup_without_a_user(self):
        c = self.raw()
        c.send_raw(startup_packet({"database": "app"}))
        self.assertRefused(c, sqlstates={"28000", "08P01"}, severity="FATAL",
                           allow_silent_close=False)

    def test_unsupported_protocol_versions_get_a_clear_fatal(self):
        for major, minor in ((2, 0), (1, 0), (4, 0), (1234, 5681)):   # 1234.5679 = SSL
            with self.subTest(version=f"{major}.{minor}"):
                c = self.raw()
                c.send_raw(startup_packet({"user": "postgres", "database": "app"},
                                          version=(major << 16) | minor))
                f = self.assertRefused(c, severity="FATAL", allow_silent_close=False,
                                       message=r"(?i)protocol")
                self.assertIn(f.get("C"), {"0A000", "08P01"}, f)

    def test_newer_minor_version_is_negotiated_or_refused_clearly(self):
        c = self.raw()
        c.send_raw(startup_packet({"user": "postgres", "database": "app"},
                                  version=(3 << 16) | 7))
        m = c.recv_msg()
        self.assertIsNotNone(m, "closed without a word")
        if m[0] == "E":
            f = pgwire.parse_error_fields(m[1])
            self.assertRegex(f.get("M", ""), r"(?i)protocol")
            return
        types = [m[0]]
        while types[-1] != "Z":
            m = c.recv_msg()
            self.assertIsNotNone(m)
            types.append(m[0])
        self.assertIn("R", types)
        self.assertEqual(c.query("SELECT 1")[0].rows, [("1",)])

    def test_truncated_startup_then_disconnect(self):
        pkt = startup_packet({"user": "postgres", "database": "app"})
        for cut in (1, 3, 4, 7, len(pkt) // 2, len(pkt) - 1):
            c = self.raw()
            c.send_raw(pkt[:cut])
            c.abort()

    def test_many_silent_connections_then_vanish(self):
        socks = [socket.create_connection(("127.0.0.1", sg.port), timeout=5) for _ in range(40)]
        self.assertHealthy()
        for s in socks:
            s.close()

    def test_cancel_request_with_a_bogus_key(self):
        c = self.raw()
        c.send_raw(struct.pack(">iiii", 16, CANCEL_REQUEST, 12345, 67890))
        self.assertRefused(c, allow_silent_close=True)
        self.assertEqual(c.last_messages, [], "a CancelRequest gets no reply")
        c = self.raw()
        c.send_raw(struct.pack(">iii", 12, CANCEL_REQUEST, 1))          # too short
        self.assertRefused(c)

    def test_gssenc_request_is_declined(self):
        c = self.raw()
        c.send_raw(struct.pack(">ii", 8, GSSENC_REQUEST))
        self.assertEqual(c.recv_byte(), b"N")
        c.startup("postgres", "app")
        self.assertEqual(c.query("SELECT 2")[0].rows, [("2",)])

    def test_ssl_request_without_tls_answers_n_then_plain_startup_works(self):
        c = self.raw()
        c.send_raw(struct.pack(">ii", 8, SSL_REQUEST))
        self.assertEqual(c.recv_byte(), b"N")
        c.startup("postgres", "app")
        self.assertEqual(c.query("SELECT 3")[0].rows, [("3",)])

    def test_bytes_sent_right_after_ssl_request_are_refused(self):
        # A startup packet pipelined behind SSLRequest, before the proxy answered: it was
        # sent before any TLS handshake could happen (a man-in-the-middle injection shape);
        # PostgreSQL answers FATAL 08P01 "received unencrypted data after SSL request".
        c = self.raw()
        c.send_raw(struct.pack(">ii", 8, SSL_REQUEST) +
                   startup_packet({"user": "postgres", "database": "app"}))
        first = c.recv_byte()
        self.assertIn(first, (b"N", b"E", None), "an SSLRequest is answered by one byte")
        if first == b"E":
            c.buf = b"E" + c.buf
        closed = first is None or c.wait_closed(REFUSE_S)
        types = [t for t, _ in getattr(c, "last_messages", [])]
        self.assertNotIn("R", types, "the proxy went on with a startup packet that was sent "
                                     "before its SSLRequest was answered")
        self.assertTrue(closed, f"the connection stayed open (got {types})")

    def test_double_ssl_request_and_garbage_after_ssl_request(self):
        # A second SSLRequest after 'N': PostgreSQL refuses it (FATAL); answering 'N' again is
        # tolerable. Either way the proxy must not hang or die.
        c = self.raw()
        c.send_raw(struct.pack(">ii", 8, SSL_REQUEST))
        self.assertEqual(c.recv_byte(), b"N")
        c.send_raw(struct.pack(">ii", 8, SSL_REQUEST))
        again = c.recv_byte()
        if again == b"N":
            c.startup("postgres", "app")
            self.assertEqual(c.query("SELECT 4")[0].rows, [("4",)])
        elif again is not None:
            c.buf = again + c.buf
            self.assertRefused(c)
        # A TLS ClientHello after 'N' is garbage for a plain-text startup.
        c = self.raw()
        c.send_raw(struct.pack(">ii", 8, SSL_REQUEST))
        self.assertEqual(c.recv_byte(), b"N")
        c.send_raw(b"\x16\x03\x01\x02\x00" + b"\x01" * 40)   # a TLS ClientHello anyway
        self.assertRefused(c)


class AfterLoginTest(HostileCase):

    def test_unknown_message_types(self):
        for t in (b"z", b"\x00", b"\xff", b"A", b"Y"):
            with self.subTest(type=t):
                c = self.logged_in()
                c.send_raw(t + struct.pack(">i", 4))
                c.wait_closed(REFUSE_S)
                self.survived(f"message type {t!r}")
                c.buf = b"".join(mt.encode("latin-1") + struct.pack(">i", len(p) + 4) + p
                                 for mt, p in c.last_messages)
                self.assertRefused(c, sqlstates={"08P01"}, allow_silent_close=False)

    def test_wrong_lengths(self):
        for length in (0, 3, -1, -100):
            with self.subTest(length=length):
                c = self.logged_in()
                c.send_raw(b"Q" + struct.pack(">i", length) + b"SELECT 1\0")
                self.assertRefused(c, sqlstates={"08P01"})

    def test_length_claiming_gigabytes_is_refused_without_allocation(self):
        before = proc_status(sg.pid)
        for length in (0x7FFFFFFF, 0x7FFFFFF0, 100 * 1024 * 1024):
            for mtype in (b"Q", b"P", b"d", b"p"):
                with self.subTest(length=length, type=mtype):
                    c = self.logged_in()
                    t0 = time.monotonic()
                    c.send_raw(mtype + struct.pack(">i", length) + b"SELECT ")
                    self.assertRefused(c, sqlstates={"08P01", "54000"})
                    self.assertLess(time.monotonic() - t0, REFUSE_S,
                                    "must be refused on the header, not after the body")
        self.assertMemorySmall(before)
        self.assertMemorySmall(baseline)

    def test_a_big_but_allowed_message_works(self):
        c = self.logged_in()
        big = "x" * 2_000_000
        [r] = c.query(f"SELECT length('{big}')")
        self.assertEqual(r.rows, [("2000000",)])

    def test_query_without_terminator(self):
        c = self.logged_in()
        c.send(b"Q", b"SELECT 1")
        self.assertRefused(c, sqlstates={"08P01"})

    def test_truncated_frame_then_disconnect(self):
        for cut in (1, 3, 5, 12):
            c = self.logged_in()
            c.send_raw((b"Q" + struct.pack(">i", 100) + b"SELECT 1 + " + b"1" * 90)[:cut])
            c.abort()
        # The vanished clients are gone from SHOW CLIENTS (bounded wait).
        deadline = time.monotonic() + 5
        while True:
            others = [r for r in sg.admin("SHOW CLIENTS") if r["database"] == "app"]
            if not others or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(others, [], "clients that vanished mid-message are still listed")

    def test_malformed_extended_protocol_messages(self):
        bad = [
            frame("P", b"s1\0SELECT $1\0" + struct.pack(">h", 5)),          # 5 types, none
            frame("P", b"s1\0SELECT 1"),                                     # no terminator
            frame("B", b"\0\0" + struct.pack(">hh", 0, 3)),                  # 3 params, none
            frame("B", b"\0\0" + struct.pack(">h", -2)),                     # negative count
            frame("B", b"\0\0" + struct.pack(">hhi", 0, 1, 1_000_000) + b"ab"),  # short value
            frame("E", b"\0"),                                               # no row limit
            frame("D", b"X"),                                                # bad describe kind
            frame("C", b"Z" + b"name\0"),                                    # bad close kind
        ]
        for msg in bad:
            with self.subTest(msg=msg[:24]):
                c = self.logged_in()
                c.send_raw(frame("P", b"\0SELECT 1\0\0\0") + msg + frame("S"))
                # An ErrorResponse; then either ReadyForQuery (session usable) or a close.
                seen = []
                while True:
                    m = c.recv_msg()
                    if m is None:
                        break
                    seen.append(m[0])
                    if m[0] == "Z":
                        break
                self.assertIn("E", seen, f"no error for a malformed message; got {seen}")
                if seen[-1] == "Z":
                    self.assertEqual(c.query("SELECT 5")[0].rows, [("5",)])

    def test_extended_protocol_errors_keep_the_session(self):
        c = self.logged_in()
        c.send_raw(frame("B", b"\0no_such_stmt\0" + struct.pack(">hhh", 0, 0, 0)) +
                   frame("E", b"\0" + struct.pack(">i", 0)) + frame("S"))
        rs = c._collect(raise_error=False)
        self.assertEqual(rs[0].error.sqlstate, "26000")
        c.send_raw(frame("E", b"no_such_portal\0" + struct.pack(">i", 0)) + frame("S"))
        rs = c._collect(raise_error=False)
        self.assertEqual(rs[0].error.sqlstate, "34000")
        self.assertEqual(c.tx_status, "I")
        self.assertEqual(c.query("SELECT 6")[0].rows, [("6",)])

    def test_copy_messages_outside_copy(self):
        c = self.logged_in()
        c.send_raw(frame("d", b"1\tstray\n") + frame("c") + frame("f", b"why\0"))
        # PostgreSQL ignores these outside COPY; the proxy may too, or refuse with 08P01.
        try:
            [r] = c.query("SELECT 7")
            self.assertEqual(r.rows, [("7",)])
        except (pgwire.PgError, ConnectionError) as e:
            if isinstance(e, pgwire.PgError):
                self.assertEqual(e.sqlstate, "08P01")

    def test_copy_in_aborted_by_vanishing_client(self):
        c = self.logged_in()
        c.send("Q", b"COPY notes FROM STDIN\0")
        m = c.recv_msg()
        self.assertEqual(m[0], "G")
        c.send("d", b"3\tpartial\n4\tpar")
        c.abort()
        # The shard's copy was not committed.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            n = shard_rows(shard, "SELECT count(*) FROM pg_stat_activity "
                                  "WHERE query LIKE 'COPY notes%' AND state <> 'idle'")[0][0]
            if n == 0:
                break
            time.sleep(0.05)
        self.assertEqual(shard_rows(shard, "SELECT count(*) FROM notes"), [(2,)])

    def test_found_by_fuzzing(self):
        # Inputs the random test once found harmful, kept as fixed cases.
        cases = {
            "two garbage Executes then a Query without terminator":
                b"E\x00\x00\x00\x1e\xd0\xf1\xe5HX\xe6\x88\xdd\x96\xf8'\xa1>\xb5\x93"
                b"\xf1-\rx\xde\xee\x1b\x99\x87\n\xafE\x00\x00\x00+\x95\xf56\x14\xb3\xe9"
                b"\xce\rsqu\xe8\x95t%\x83\xf4q\xdd\xe6\xe0#{\x94$\xb5\xf1\r\xcd\x9d\xa7,F"
                b"\xd3^\xb7 \x0f*Q\x00\x00\x00\n`M\xe1JY5",
            "CopyDone outside COPY, garbage Execute, bad Query, bad Close":
                b"c\x00\x00\x00\x1c\xbdF\xf7\xcd\xe3/\xd9z\xcf\xa6\x83\xb1\x06\xf1\xd4>"
                b"\x01`|/\x87\xc3\xdf\x89E\x00\x00\x00'\xf6\xc4\x0c\x89\xe9\xfak<\xac\xd4"
                b"\xde\x8bA\xe92K\xf5\xbe\x85\"_\xe3>\xc3\xf91,cJS\xba\x12=\xd8\x00Q\x00"
                b"\x00\x00\x1f\x8a\x9e\x1e8b#\xd7\x96\x9e\x91\x13\xd1k\xd0CG\x8d\xccQ7\xed"
                b"\xdb\xf8\x12\xa9\x1a\xcbC\x00\x00\x00%\xec17\xdd\xbc\xcb%y\xef\x19t\xe4"
                b"\x97\x98\x84k\xad`\x04\xc7\xc7q*:_\xe8\xa8\xa7\xfa \xf7\x8e\x18",
            "message type NUL": b"\x00\x00\x00\x00\x04",
        }
        for name, data in cases.items():
            with self.subTest(case=name):
                c = self.logged_in()
                c.send_raw(data)
                c.wait_closed(REFUSE_S)
                c.abort()
                self.survived(name)

    def test_random_frames_after_login(self):
        rng = random.Random(20240229)
        crashes = []
        for i in range(40):
            c = self.logged_in()
            n = rng.randint(1, 4)
            data = b""
            for _ in range(n):
                t = bytes([rng.choice(b"QPBDESHCdcfpXzF\x00\xff")])
                body = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 40)))
                length = len(body) + 4 if rng.random() < 0.8 else rng.randint(-10, 1 << 31)
                length = max(min(length, 0x7FFFFFFF), -0x80000000)
                data += t + struct.pack(">i", length) + body
            c.send_raw(data)
            try:
                c.recv_until_closed(0.1)
            except (socket.timeout, ValueError, OSError):
                pass
            c.abort()
            tail = crashed()
            if tail is not None:
                crashes.append(f"{data!r}: {tail}")
                with open(os.path.join(log_dir(), f"test_proxy_hostile.crash{crash_count}.bin"),
                          "wb") as f:
                    f.write(data)
        self.assertEqual(crashes, [], "the proxy died on these bytes after login")


class SlowReaderTest(HostileCase):

    def test_a_reply_larger_than_the_socket_takes_reaches_a_slow_reader_whole(self):
        """A client that reads only after a pause, with a small receive buffer: the proxy
        writes what the socket takes and the rest as the client reads (the partial-write path
        of a relay), in both protocols; every row arrives, in order, and the session goes on."""
        n = 20000
        sql = f"SELECT g, repeat(md5(g::text), 16) FROM generate_series(1, {n}) g"
        want = hashlib.sha256("".join(f"{g}:{hashlib.md5(str(g).encode()).hexdigest() * 16};"
                                      for g in range(1, n + 1)).encode()).hexdigest()
        for protocol in ("simple", "extended"):
            c = self.logged_in()
            # Small, but above the loopback MSS (a window below it stalls TCP itself).
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 256 * 1024)
            if protocol == "simple":
                c.send("Q", sql.encode() + b"\0")
            else:
                c.send_raw(pgwire.stmt_frames(pgwire.Stmt(sql)) + frame("S"))
            time.sleep(1.0)  # the reply (about 10 MB) piles up in the proxy meanwhile
            result = c._collect()[0]
            self.assertEqual(len(result.rows), n, protocol)
            got = hashlib.sha256("".join(f"{a}:{b};" for a, b in result.rows).encode()).hexdigest()
            self.assertEqual(got, want, f"{protocol}: the rows arrived damaged or out of order")
            self.assertEqual(c.query("SELECT 41 + 1")[0].rows, [("42",)], protocol)
            c.terminate()
        self.assertIsNone(crashed())


class DeepStatementTest(HostileCase):

    def test_a_statement_nested_60000_levels_deep_is_an_error_not_a_crash(self):
        """Parsing recurses: 60000 levels used to overflow the proxy's stack (every client
        lost). Now the client gets 54001 (stack depth exceeded, from the proxy or PostgreSQL)
        and the session goes on, in both protocols."""
        deep = "SELECT " + "+".join(["1"] * 60000) + " FROM notes"
        c = sg.connect(autocommit=True)
        for params in (None, (1,)):
            with c.cursor() as cur:
                with self.assertRaises(psycopg2.Error) as caught:
                    cur.execute(deep + (" WHERE id = %s" if params else ""), params)
                self.assertEqual(caught.exception.pgcode, "54001", caught.exception.pgerror)
                cur.execute("SELECT count(*) FROM notes")
                self.assertEqual(cur.fetchone()[0], 2)
        c.close()
        self.assertIsNone(crashed())


class WrongPasswordTest(HostileCase):

    def backends(self, user):
        # The proxy's own stamp reader (rebalance/stamps.cpp) is not a client's login.
        return shard_rows(shard, "SELECT count(*) FROM pg_stat_activity WHERE usename = %s "
                          "AND application_name <> 'shardgate-map-stamps'", (user,))[0][0]

    def test_wrong_password_is_28p01_and_reaches_no_shard(self):
        for user, good in (("scram_user", "scram-pw"), ("md5_user", "md5-pw")):
            with self.subTest(user=user):
                # The proxy's background health check (proxy/health) may hold one connection
                # as this user: what counts is that failed logins add none.
                before = self.backends(user)
                self.assertLessEqual(before, 1)
                for attempt in ("wrong", "", good + "x"):
                    c = self.raw(timeout=10)
                    with self.assertRaises(pgwire.PgError) as cm:
                        c.startup(user, cluster.dbname, password=attempt)
                    self.assertEqual(cm.exception.sqlstate, "28P01", cm.exception.fields)
                    self.assertEqual(cm.exception.severity, "FATAL")
                    self.assertTrue(c.wait_closed(REFUSE_S))
                with self.assertRaises(psycopg2.OperationalError) as cm:
                    psycopg2.connect(sg.dsn(user=user, password="nope"))
                self.assertIn("password authentication failed", str(cm.exception))
                self.assertEqual(self.backends(user), before,
                                 f"a failed login of {user} opened a shard connection")
                pools = [r for r in sg.admin("SHOW POOLS") if r["user"] == user]
                self.assertTrue(all(int(r["sv_total"]) == 0 for r in pools), pools)
                # The right password works (and only now reaches the shard).
                c = self.raw(timeout=10)
                c.startup(user, cluster.dbname, password=good)
                self.assertEqual(c.query("SELECT current_user")[0].rows, [(user,)])
                self.assertGreaterEqual(self.backends(user), 1)

    def test_unknown_user_is_refused(self):
        c = self.raw(timeout=10)
        with self.assertRaises(pgwire.PgError) as cm:
            c.startup("nobody_here", cluster.dbname, password="x")
        self.assertIn(cm.exception.sqlstate, {"28P01", "28000"})
        self.assertEqual(self.backends("nobody_here"), 0)

    def test_garbage_in_the_password_exchange(self):
        # SASL initial response that is not one; then a non-password message type.
        c = self.raw()
        c.send_raw(startup_packet({"user": "guard_user", "database": "app"}))
        m = c.recv_msg()
        self.assertEqual(m[0], "R")
        c.send("p", b"\xff\xfe garbage")
        self.assertRefused(c, sqlstates={"08P01", "28P01", "28000"})
        c = self.raw()
        c.send_raw(startup_packet({"user": "guard_user", "database": "app"}))
        self.assertEqual(c.recv_msg()[0], "R")
        c.send("Q", b"SELECT 1\0")
        self.assertRefused(c, sqlstates={"08P01", "28P01", "28000"})
        c = self.raw()
        c.send_raw(startup_packet({"user": "guard_user", "database": "app"}))
        self.assertEqual(c.recv_msg()[0], "R")
        c.send_raw(b"p" + struct.pack(">i", 0x7FFFFFFF))
        self.assertRefused(c, sqlstates={"08P01", "28P01", "28000", "54000"})
        self.assertEqual(self.backends("guard_user"), 0)


if __name__ == "__main__":
    unittest.main()
