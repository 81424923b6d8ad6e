"""Issue 21: one client's statement of several megabytes must not stall the other clients.

A simple query of at least [proxy] offload_parse_bytes is read into a buffer of its own and
analysed (scans, literal extraction, libpg_query's parse, the per-shard split, the statistics'
fingerprint) on the proxy's analysis workers, while the event loop keeps serving other clients
(proxy/session_large_query.cpp). Checked here against real shards through the real proxy:
  - a multi-row INSERT of several MB and a SELECT with an IN list of several MB give the same
    answers as one PostgreSQL holding all rows, and another client's point reads keep being
    answered while each runs: many reads answered during it, and no pause of the reads as long
    as half of the statement (the inline analysis stalled every client for most of it);
  - a client that disconnects while its large text is being analysed: the statement is not run,
    the proxy goes on serving, and it exits cleanly (the ASan build's leak check at exit).
"""
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
import pgcluster  # noqa: E402
import pgwire  # noqa: E402
from sgfixture import Proxy, shard_conn, shard_rows  # noqa: E402

SCHEMA = "CREATE TABLE items (id bigint PRIMARY KEY, note text NOT NULL)"
TABLES = [{"name": "items", "kind": "sharded", "shard_key": "id", "key_type": "bigint"}]
INSERT_ROWS = 60000      # ~2.5 MB of INSERT text
IN_LIST = 300000         # ~2.4 MB of SELECT text
MIN_READS_DURING = 10    # point reads answered while one large statement runs


def note(i):
    return f"note {i:08d} " + "abcdefgh" * 2


class PointReader(threading.Thread):
    """Reads one row by key in a loop through its own connection, noting when each read ended."""

    def __init__(self, port, user, dbname):
        super().__init__(daemon=True)
        self.conn = pgwire.WireConn("127.0.0.1", port, timeout=120)
        self.conn.startup(user, dbname)
        self.ends = []
        self.failure = None
        self.halt = threading.Event()

    def run(self):
        try:
            while not self.halt.is_set():
                res = self.conn.query("SELECT id, note FROM items WHERE id = 1")
                if res[-1].rows != [("1", note(1))]:
                    raise AssertionError(f"point read answered {res[-1].rows!r}")
                self.ends.append(time.monotonic())
        except Exception as e:  # reported by stop()
            self.failure = e

    def stop(self):
        self.halt.set()
        self.join(60)
        self.conn.terminate()
        if self.failure:
            raise self.failure

    def during(self, t0, t1):
        """Reads answered inside (t0, t1), and the longest wait for one there."""
        ends = [t for t in self.ends if t0 < t < t1]
        marks = [t0] + ends + [t1]
        return len(ends), max(b - a for a, b in zip(marks, marks[1:]))


class LargeStatementTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.shards = pgcluster.Cluster(2).__enter__()
        cls.direct = pgcluster.Cluster(1).__enter__()
        for cl, n in ((cls.shards, 2), (cls.direct, 1)):
            for i in range(n):
                c = shard_conn(cl, i)
                shard_rows(c, SCHEMA)
                c.close()
        cls.sg = Proxy(cls.shards, "large_statement", tables=TABLES,
                       proxy={"offload_parse_bytes": 262144, "analysis_threads": 2}).start()

    @classmethod
    def tearDownClass(cls):
        try:
            rc = cls.sg.stop()
            # SIGTERM ends the proxy through main's return: under ASan, a leak fails the exit code.
            assert rc == 0, f"shardgate exited with {rc}: {cls.sg.log_tail()}"
        finally:
            cls.direct.__exit__(None, None, None)
            cls.shards.__exit__(None, None, None)

    def connect_proxy(self):
        c = pgwire.WireConn("127.0.0.1", self.sg.port, timeout=120)
        c.startup(self.shards.superuser, self.shards.dbname)
        return c

    def connect_direct(self):
        d = self.direct.shards[0]
        c = pgwire.WireConn(d.host, d.port, timeout=120)
        c.startup(self.direct.superuser, self.direct.dbname)
        return c

    def run_large(self, proxy_conn, direct_conn, sql):
        """`sql` through the proxy while a point reader runs, then on one PostgreSQL; returns
        both results after checking the reads went on during the proxy's run."""
        reader = PointReader(self.sg.port, self.shards.superuser, self.shards.dbname)
        reader.start()
        try:
            while len(reader.ends) < 3:  # the reader's steady state first
                time.sleep(0.01)
            t0 = time.monotonic()
            got = proxy_conn.query(sql)
            t1 = time.monotonic()
            time.sleep(0.05)
        finally:
            reader.stop()
        want = direct_conn.query(sql)
        reads, longest = reader.during(t0, t1)
        print(f"{len(sql)} bytes: {t1 - t0:.2f} s through the proxy; {reads} point reads during it, "
              f"longest wait {longest:.3f} s", flush=True)
        self.assertGreaterEqual(reads, MIN_READS_DURING, "the other client's reads stalled")
        self.assertLess(longest, (t1 - t0) / 2, "the other client's reads paused for most of the statement")
        return got, want

    def test_large_insert_and_in_list_while_point_reads_answer(self):
        p, d = self.connect_proxy(), self.connect_direct()
        try:
            for c in (p, d):
                c.query(f"INSERT INTO items VALUES (1, '{note(1)}')")
            values = ", ".join(f"({i}, '{note(i)}')" for i in range(2, INSERT_ROWS + 2))
            insert = f"INSERT INTO items (id, note) VALUES {values}"
            self.assertGreater(len(insert), 2 * 1024 * 1024)
            got, want = self.run_large(p, d, insert)
            self.assertEqual([r.tag for r in got], [r.tag for r in want])
            self.assertEqual(got[-1].tag, f"INSERT 0 {INSERT_ROWS}")
            # Every row arrived, exactly, on its shard (both shards got some).
            per_shard = [shard_rows(shard_conn(self.shards, i), "SELECT count(*) FROM items")[0][0]
                         for i in range(2)]
            self.assertEqual(sum(per_shard), INSERT_ROWS + 1)
            self.assertTrue(all(n > 0 for n in per_shard), per_shard)
            check = "SELECT id, note FROM items ORDER BY id"
            self.assertEqual(p.query(check)[-1].rows, d.query(check)[-1].rows)

            keys = ", ".join(str(i * 3) for i in range(1, IN_LIST + 1))
            select = f"SELECT id, note FROM items WHERE id IN ({keys}) ORDER BY id"
            self.assertGreater(len(select), 2 * 1024 * 1024)
            got, want = self.run_large(p, d, select)
            self.assertEqual(got[-1].columns, want[-1].columns)
            self.assertEqual(got[-1].types, want[-1].types)
            self.assertEqual(got[-1].tag, want[-1].tag)
            self.assertEqual(len(got[-1].rows), (INSERT_ROWS + 1) // 3)
            self.assertEqual(got[-1].rows, want[-1].rows)
            # The session goes on with small statements after large ones.
            self.assertEqual(p.query("SELECT note FROM items WHERE id = 2")[-1].rows, [(note(2),)])
        finally:
            p.terminate()
            d.terminate()

    def test_client_leaving_while_its_text_is_analysed(self):
        base = 10_000_000
        values = ", ".join(f"({base + i}, '{note(i)}')" for i in range(INSERT_ROWS))
        sql = f"INSERT INTO items (id, note) VALUES {values}"
        c = self.connect_proxy()
        c.send("Q", sql.encode() + b"\0")
        c.close()  # gone before the proxy has analysed the text
        deadline = time.monotonic() + 60
        while "left while its statement" not in open(self.sg.log_path).read():
            self.assertLess(time.monotonic(), deadline, f"no word of the client leaving: {self.sg.log_tail()}")
            time.sleep(0.05)
        self.assertTrue(self.sg.alive())
        p = self.connect_proxy()
        try:
            self.assertEqual(p.query(f"SELECT count(*) FROM items WHERE id >= {base}")[-1].rows, [("0",)])
        finally:
            p.terminate()


if __name__ == "__main__":
    unittest.main(verbosity=2)
