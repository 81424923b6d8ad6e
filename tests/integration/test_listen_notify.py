"""LISTEN/NOTIFY in transaction pooling (issue 17), against a 2-shard cluster through the real
proxy with psycopg2 (conn.poll() + conn.notifies).

The proxy keeps one listening connection per shard (not from the pool) that LISTENs on the
union of its clients' channels, and forwards each notification to the clients listening on
its channel, between their transactions. A NOTIFY runs where its transaction runs: on the
default shard outside a transaction, on the transaction's shard inside one.

pool_size = 1 per shard: the listening connections must not take the pool's only slot.
"""

import re
import select
import socket
import struct
import time
import unittest
import urllib.request

import psycopg2
import psycopg2.errors
import psycopg2.extensions

import pgcluster
import pgwire
from sgfixture import Proxy, shard_conn, shard_of, shard_rows

N = 2
TABLES = [{"name": "items", "shard_key": "id", "key_type": "bigint"}]
SCHEMA = "CREATE TABLE items (id bigint PRIMARY KEY, name text);"
QUIET = 0.4  # how long "nothing arrives" is watched, after a notification that did arrive

cluster = None
shards = []
tx = None      # transaction pooling
sess = None    # session pooling
metrics_port = None


def key_on(shard, skip=0):
    keys = [k for k in range(1, 10000) if shard_of(k, "bigint", N) == shard]
    return keys[skip]


def setUpModule():
    global cluster, shards, tx, sess, metrics_port
    cluster, _ = pgcluster.start_module_cluster(N, SCHEMA, watchdog_s=120)
    for i in range(N):
        cluster.psql(i, f"CREATE ROLE nolisten {'LOGIN' if i == 0 else 'NOLOGIN'}; GRANT ALL ON items TO nolisten;")
    shards = [shard_conn(cluster, i) for i in range(N)]
    for c in shards:
        unittest.addModuleCleanup(c.close)
    metrics_port = pgcluster.free_port()
    tx = Proxy(cluster, "listen_tx", tables=TABLES,
               proxy={"pool_mode": "transaction", "pool_size": 1, "pool_timeout_ms": 3000,
                      "connect_timeout_ms": 500},
               users=[{"name": "postgres", "password": "", "auth": "trust", "admin": True},
                      {"name": "nolisten", "password": "", "auth": "trust", "server_user": "nolisten"}],
               admin={"http_listen": f"127.0.0.1:{metrics_port}"}).start()
    unittest.addModuleCleanup(tx.stop)
    sess = Proxy(cluster, "listen_session", tables=TABLES,
                 proxy={"pool_mode": "session", "pool_size": 4}).start()
    unittest.addModuleCleanup(sess.stop)


def metric(name):
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as r:
        body = r.read().decode()
    m = re.search(rf"^{name} (\S+)$", body, re.M)
    assert m, f"{name} not in /metrics"
    return float(m.group(1))


def listener(proxy=None, *channels):
    c = (proxy or tx).connect(autocommit=True)
    with c.cursor() as cur:
        for ch in channels:
            cur.execute(f"LISTEN {ch}")
    return c


def run(conn, sql, params=None):
    with conn.cursor() as cur:
        cur.execute(sql, params)


def wait_notifies(conn, n=1, timeout=5.0):
    """The notifications `conn` got, once it has `n` (or after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    conn.poll()
    while len(conn.notifies) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        select.select([conn], [], [], left)
        conn.poll()
    got = [(x.channel, x.payload) for x in conn.notifies]
    conn.notifies.clear()
    return got


def listener_queries(shard):
    """What the proxy's listening connections on `shard` ran last (pg_stat_activity)."""
    rows = shard_rows(shards[shard], "SELECT query FROM pg_stat_activity WHERE query ~ '^(UN)?LISTEN ' "
                                     "AND pid <> pg_backend_pid()")
    return [r[0] for r in rows]


class ListenNotify(unittest.TestCase):

    def setUp(self):
        self.notifier = tx.connect(autocommit=True)
        self.addCleanup(self.notifier.close)

    def listen(self, *channels, proxy=None):
        c = listener(proxy, *channels)
        self.addCleanup(c.close)
        return c

    def test_notify_from_another_client_arrives_with_its_payload(self):
        l = self.listen("jobs")
        # LISTEN waited for both of this user's (user "nolisten" may have one more)
        self.assertGreaterEqual(metric("shardgate_notify_listeners_connected"), N)
        run(self.notifier, "NOTIFY jobs, 'hello'")
        self.assertEqual(wait_notifies(l), [("jobs", "hello")])
        run(self.notifier, "NOTIFY jobs")
        self.assertEqual(wait_notifies(l), [("jobs", "")])

    def test_pg_notify(self):
        l = self.listen("fn_channel")
        run(self.notifier, "SELECT pg_notify('fn_channel', 'via function')")
        self.assertEqual(wait_notifies(l), [("fn_channel", "via function")])

    def test_channel_names_fold_as_in_postgres(self):
        l = self.listen("MixedCase", '"Quoted Name"')
        run(self.notifier, "NOTIFY mixedcase, 'folded'")
        run(self.notifier, """NOTIFY "Quoted Name", 'kept'""")
        self.assertEqual(wait_notifies(l, 2), [("mixedcase", "folded"), ("Quoted Name", "kept")])

    def test_notify_in_a_transaction_arrives_at_commit_never_after_rollback(self):
        l = self.listen("txn_ch")
        self.notifier.autocommit = False
        run(self.notifier, "NOTIFY txn_ch, 'rolled back'")
        time.sleep(QUIET)
        self.assertEqual(wait_notifies(l, timeout=QUIET), [])
        self.notifier.rollback()
        run(self.notifier, "NOTIFY txn_ch, 'committed'")
        self.assertEqual(wait_notifies(l, timeout=QUIET), [])  # not before COMMIT
        self.notifier.commit()
        self.assertEqual(wait_notifies(l), [("txn_ch", "committed")])

    def test_notify_in_a_transaction_on_the_non_default_shard_arrives(self):
        l = self.listen("pinned")
        self.notifier.autocommit = False
        key = key_on(1, 3)
        run(self.notifier, "INSERT INTO items VALUES (%s, 'pins the transaction to s1')", (key,))
        run(self.notifier, "NOTIFY pinned, 'from s1'")
        run(self.notifier, "SELECT pg_notify('pinned', 'pg_notify from s1')")
        self.notifier.commit()
        self.assertEqual(wait_notifies(l, 2), [("pinned", "from s1"), ("pinned", "pg_notify from s1")])
        self.assertEqual(shard_rows(shards[1], "SELECT count(*) FROM items WHERE id = %s", (key,)), [(1,)])

    def test_unlisten_stops_delivery(self):
        l = self.listen("u1", "u2", "u3")
        sync = self.listen("u_sync")
        run(l, "UNLISTEN u1")
        run(self.notifier, "NOTIFY u1, 'after unlisten'")
        run(self.notifier, "NOTIFY u2, 'still listened'")
        self.assertEqual(wait_notifies(l), [("u2", "still listened")])
        run(l, "UNLISTEN *")
        run(self.notifier, "NOTIFY u2, 'gone'")
        run(self.notifier, "NOTIFY u3, 'gone'")
        run(self.notifier, "NOTIFY u_sync")
        self.assertEqual(wait_notifies(sync), [("u_sync", "")])
        self.assertEqual(wait_notifies(l, timeout=QUIET), [])

    def test_two_listeners_both_get_it_and_others_nothing(self):
        a = self.listen("shared_ch")
        b = self.listen("shared_ch")
        other = self.listen("unrelated_ch")
        quiet = tx.connect(autocommit=True)
        self.addCleanup(quiet.close)
        run(self.notifier, "NOTIFY shared_ch, 'to both'")
        self.assertEqual(wait_notifies(a), [("shared_ch", "to both")])
        self.assertEqual(wait_notifies(b), [("shared_ch", "to both")])
        self.assertEqual(wait_notifies(other, timeout=QUIET), [])
        self.assertEqual(wait_notifies(quiet, timeout=QUIET), [])

    def test_self_notification_is_delivered(self):
        l = self.listen("self_ch")
        run(l, "NOTIFY self_ch, 'me'")
        self.assertEqual(wait_notifies(l), [("self_ch", "me")])

    def test_notification_waits_for_the_listeners_transaction_to_end(self):
        l = self.listen("busy_ch")
        l.autocommit = False
        # A transaction open on s1 (pool_size 1: s0, where NOTIFY runs, stays free).
        run(l, "SELECT count(*) FROM items WHERE id = %s", (key_on(1),))
        run(self.notifier, "NOTIFY busy_ch, 'later'")
        time.sleep(QUIET)
        run(l, "SELECT 1")
        self.assertEqual([(x.channel, x.payload) for x in l.notifies], [], "delivered inside a transaction")
        l.commit()
        self.assertEqual(wait_notifies(l), [("busy_ch", "later")])

    def test_queue_of_a_client_that_does_not_take_them_is_bounded(self):
        l = self.listen("cap_ch")
        l.autocommit = False
        run(l, "SELECT count(*) FROM items WHERE id = %s", (key_on(1),))  # busy in a transaction
        dropped = metric("shardgate_notify_dropped_total")
        run(self.notifier, "SELECT count(pg_notify('cap_ch', g::text)) FROM generate_series(1, 10050) g")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and metric("shardgate_notify_dropped_total") < dropped + 50:
            time.sleep(0.1)
        self.assertEqual(metric("shardgate_notify_dropped_total"), dropped + 50)  # the cap is 10000
        l.commit()
        got = wait_notifies(l, 10000, timeout=10)
        self.assertEqual([p for _, p in got], [str(i) for i in range(1, 10001)])
        with open(tx.log_path) as f:
            self.assertIn("further ones are dropped", f.read())

    def test_listen_inside_a_transaction_block_takes_effect_at_commit(self):
        # (Savepoints, failed COMMITs, two shards, JDBC's form: test_listen_txn.py.)
        c = tx.connect()
        self.addCleanup(c.close)
        run(c, "LISTEN in_txn")
        self.assertEqual(c.get_transaction_status(), psycopg2.extensions.TRANSACTION_STATUS_INTRANS)
        c.commit()
        c.autocommit = True
        run(self.notifier, "NOTIFY in_txn, 'after'")
        self.assertEqual(wait_notifies(c), [("in_txn", "after")])

    def test_listen_among_other_statements_answers_as_postgres_does(self):
        # One simple query: the client sees what one PostgreSQL sends (shard 0 directly).
        Q = lambda sql: pgwire.frame("Q", pgwire._cstr(sql))
        long = "m" * 70
        steps = [(Q("LISTEN multi_a; SELECT 1"), None), (Q("SELECT 1 AS x; LISTEN multi_b"), None),
                 (Q(f"LISTEN multi_c; LISTEN {long}; UNLISTEN multi_a"), None),
                 (Q("LISTEN multi_d; SELECT 1/0; LISTEN multi_e"), None),
                 (Q("BEGIN"), None), (Q("SELECT 2; LISTEN multi_f"), None), (Q("ROLLBACK"), None)]
        self.assertEqual(self.exchange(tx.port, steps),
                         self.exchange(cluster.shards[0].port, steps))
        # Refused (0A000, naming the construct) where the outcome could not be told or the
        # query runs on several shards.
        c = tx.connect(autocommit=True)
        self.addCleanup(c.close)
        for sql, construct in [("LISTEN multi_g; COMMIT", "transaction control (COMMIT)"),
                               ("BEGIN; LISTEN multi_g", "transaction control (BEGIN)"),
                               ("LISTEN multi_g; SELECT id FROM items", "several shards")]:
            with self.assertRaises(psycopg2.errors.FeatureNotSupported) as cm:
                run(c, sql)
            self.assertIn(construct, str(cm.exception))
        run(self.notifier, "NOTIFY multi_g, 'refused'")
        self.assertEqual(wait_notifies(c, timeout=QUIET), [])

    def test_listen_among_other_statements_takes_effect_if_the_query_succeeded(self):
        c = tx.connect(autocommit=True)
        self.addCleanup(c.close)
        run(c, "SELECT 1; LISTEN multi_ok")
        # A NOTIFY in the same query reaches it once (not also through the shard's connection).
        run(c, f"LISTEN multi_self; INSERT INTO items (id, name) VALUES ({key_on(1, 7)}, 'm') "
               "ON CONFLICT (id) DO NOTHING; NOTIFY multi_self, 'self'")
        with self.assertRaises(psycopg2.errors.DivisionByZero):
            run(c, "LISTEN multi_failed; SELECT 1/0")
        c.autocommit = False
        run(c, "LISTEN multi_rolled_back; SELECT 1")
        c.rollback()
        run(c, "LISTEN multi_committed; SELECT 1")
        c.commit()
        for ch in ("multi_failed", "multi_rolled_back", "multi_ok", "multi_committed"):
            run(self.notifier, f"NOTIFY {ch}, '{ch}'")
        self.assertEqual(wait_notifies(c, 3), [("multi_self", "self"), ("multi_ok", "multi_ok"),
                                               ("multi_committed", "multi_committed")])
        self.assertEqual(wait_notifies(c, timeout=QUIET), [])

    def wait_listener_ran(self, text, shards_=range(N)):
        """Waits until the last command of the listening connection of each shard holds `text`."""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if all(any(text in q for q in listener_queries(s)) for s in shards_):
                return
            time.sleep(0.05)
        self.fail(f"{text!r} not run by the listening connections: {[listener_queries(s) for s in shards_]}")

    def test_disconnect_and_discard_all_clean_up(self):
        l = listener(None, "cleanup_ch")
        self.wait_listener_ran('LISTEN "cleanup_ch";')
        l.close()
        self.wait_listener_ran('UNLISTEN "cleanup_ch";')
        d = self.listen("discard_ch")
        run(d, "DISCARD ALL")
        self.wait_listener_ran('UNLISTEN "discard_ch";')
        run(self.notifier, "NOTIFY discard_ch")
        self.assertEqual(wait_notifies(d, timeout=QUIET), [])
        # And a LISTEN afterwards works again for the same client.
        run(d, "LISTEN discard_ch")
        run(self.notifier, "NOTIFY discard_ch, 'again'")
        self.assertEqual(wait_notifies(d), [("discard_ch", "again")])

    def test_listeners_do_not_take_the_pool_slot(self):
        ls = [self.listen(f"slot_ch{i}") for i in range(3)]
        worker = tx.connect()
        self.addCleanup(worker.close)
        start = time.monotonic()
        for i in range(10):
            for shard in range(N):
                run(worker, "INSERT INTO items VALUES (%s, 'slot') ON CONFLICT (id) DO NOTHING",
                    (key_on(shard, 100 + i),))
                worker.commit()
        self.assertLess(time.monotonic() - start, 2.5)  # pool_timeout_ms is 3000
        run(self.notifier, "NOTIFY slot_ch2, 'x'")
        self.assertEqual(wait_notifies(ls[2]), [("slot_ch2", "x")])
        rows = tx.admin("SHOW POOLS")
        self.assertTrue(rows)

    def test_lost_listener_connection_reconnects(self):
        l = self.listen("reconnect_ch")
        losses = metric("shardgate_notify_listener_losses_total")
        shard_rows(shards[0], "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE query ~ '^(UN)?LISTEN ' AND pid <> pg_backend_pid()")
        deadline = time.monotonic() + 10
        got = []
        while time.monotonic() < deadline and not got:
            run(self.notifier, "NOTIFY reconnect_ch, 'after reconnect'")
            got = wait_notifies(l, timeout=0.3)
        self.assertEqual(got[:1], [("reconnect_ch", "after reconnect")])
        self.assertGreaterEqual(metric("shardgate_notify_listener_losses_total"), losses + 1)
        with open(tx.log_path) as f:
            self.assertRegex(f.read(), r"LISTEN connection to shard \S+ .*lost")

    def test_extended_protocol_listen(self):
        # JDBC sends every statement so: Parse, Bind, Describe, Execute, Sync.
        with pgwire.WireConn("127.0.0.1", tx.port) as w:
            w.startup("postgres", cluster.dbname)
            [r] = w.batch([pgwire.Stmt("LISTEN ext_ch")], raise_error=True)
            self.assertEqual((r.tag, w.tx_status), ("LISTEN", "I"))
            run(self.notifier, "NOTIFY ext_ch, 'extended'")
            m = w.recv_msg(timeout=5)
            self.assertIsNotNone(m)
            self.assertEqual(m[0], "A")
            channel, payload = m[1][4:].split(b"\0")[:2]
            self.assertEqual((channel, payload), (b"ext_ch", b"extended"))
            rs = w.batch([pgwire.Stmt("LISTEN ext_other"), pgwire.Stmt("SELECT 1")])
            self.assertEqual(rs[0].error.fields.get("C"), "0A000")
            [r] = w.batch([pgwire.Stmt("UNLISTEN ext_ch")], raise_error=True)
            self.assertEqual(r.tag, "UNLISTEN")
            run(self.notifier, "NOTIFY ext_ch, 'not any more'")
            with self.assertRaises(socket.timeout):
                w.recv_msg(timeout=QUIET)
            # DISCARD ALL through the extended protocol unlistens too.
            w.batch([pgwire.Stmt("LISTEN ext_discard")], raise_error=True)
            [r] = w.batch([pgwire.Stmt("DISCARD ALL")], raise_error=True)
            self.assertEqual(r.tag, "DISCARD ALL")
            run(self.notifier, "NOTIFY ext_discard, 'discarded'")
            with self.assertRaises(socket.timeout):
                w.recv_msg(timeout=QUIET)

    def exchange(self, port, steps):
        """Sends each step's frames on a fresh connection and reads its answer: until
        ReadyForQuery, or `n` messages after a Flush. Returns the messages as (type, payload),
        ErrorResponse / NoticeResponse reduced to their code and message."""
        out = []
        with pgwire.WireConn("127.0.0.1", port) as w:
            w.startup("postgres", cluster.dbname)
            for frames, n in steps:
                w.send_raw(frames)
                got = []
                while n is None or len(got) < n:
                    t, p = w.recv_msg(timeout=5)
                    if t in "EN":
                        f = pgwire.parse_error_fields(p)
                        p = (f.get("C"), f.get("M"))
                    got.append((t, p))
                    if n is None and t == "Z":
                        break
                out.append(got)
            # Nothing else arrives (no stray reply, no ReadyForQuery too many).
            with self.assertRaises(socket.timeout):
                w.recv_msg(timeout=0.2)
        return out

    def test_extended_listen_answers_as_postgres_does(self):
        # asyncpg's form (a named statement prepared with a Flush, run by Bind/Execute/Sync,
        # reused), a pipeline of several with Closes, one inside a transaction block, a
        # truncated channel name (its NOTICE comes at Parse): the same messages as from one
        # PostgreSQL (shard 0 directly).
        f = pgwire.frame
        P = lambda name, sql: f("P", pgwire._cstr(name) + pgwire._cstr(sql) + b"\0\0")
        B = lambda stmt, portal="": f("B", pgwire._cstr(portal) + pgwire._cstr(stmt) +
                                      b"\0\0\0\0\0\1\0\1")
        D = lambda kind, name: f("D", kind + pgwire._cstr(name))
        E = lambda portal="": f("E", pgwire._cstr(portal) + b"\0\0\0\0")
        C = lambda kind, name: f("C", kind + pgwire._cstr(name))
        S, H, Q = f("S"), f("H"), lambda sql: f("Q", pgwire._cstr(sql))
        long = "x" * 70
        steps = [
            (P("stmt_l", "LISTEN wire_a") + D(b"S", "stmt_l") + H, 3),
            (B("stmt_l") + E() + S, None),
            (P("stmt_u", "UNLISTEN wire_a") + D(b"S", "stmt_u") + H, 3),
            (B("stmt_u") + E() + S, None),
            (B("stmt_l") + E() + S, None),                       # the cached LISTEN again
            (P("", "LISTEN wire_b") + B("") + D(b"P", "") + E() + P("", "unlisten *") +
             B("", "p1") + D(b"S", "") + E("p1") + C(b"P", "p1") + C(b"S", "stmt_u") +
             C(b"S", "never_prepared") + S, None),
            (Q("BEGIN"), None),
            (P("stmt_t", f"LISTEN {long}") + B("stmt_t") + E() + S, None),
            (B("stmt_l") + E() + H, 2),                          # inside the block: a Flush
            (S, None),
            (Q("ROLLBACK"), None),
            (D(b"S", "stmt_t") + S, None),
        ]
        direct = self.exchange(cluster.shards[0].port, steps)
        proxied = self.exchange(tx.port, steps)
        self.assertEqual(proxied, direct)
        self.assertIn(("N", ("42622", f'identifier "{long}" will be truncated to "{long[:63]}"')),
                      direct[7])
        self.assertEqual(direct[8], [("2", b""), ("C", b"LISTEN\0")])

    def test_listen_through_asyncpgs_statement_form_delivers(self):
        # Named statement prepared with a Flush, then run; outside and inside a block; UNLISTEN
        # through a reused statement stops delivery; a LISTEN of a failed pipeline never
        # takes effect; a prepared LISTEN bound among other statements is refused.
        f = pgwire.frame
        P = lambda name, sql: f("P", pgwire._cstr(name) + pgwire._cstr(sql) + b"\0\0")
        B = lambda stmt: f("B", b"\0" + pgwire._cstr(stmt) + b"\0\0\0\0\0\0")
        E, S, H = f("E", b"\0\0\0\0\0"), f("S"), f("H")
        with pgwire.WireConn("127.0.0.1", tx.port) as w:
            w.startup("postgres", cluster.dbname)

            def run_steps(frames, n=None):
                w.send_raw(frames)
                got = []
                while n is None or len(got) < n:
                    t, p = w.recv_msg(timeout=5)
                    got.append((t, p))
                    if n is None and t == "Z":
                        return got
                return got
            run_steps(P("l", "LISTEN named_ch") + f("D", b"Sl\0") + H, 3)
            run_steps(P("u", "UNLISTEN named_ch") + H, 1)
            self.assertEqual(run_steps(B("l") + E + S)[-2:], [("C", b"LISTEN\0"), ("Z", b"I")])
            run(self.notifier, "NOTIFY named_ch, 'one'")
            self.assertEqual(w.recv_msg(timeout=5)[1][4:], b"named_ch\0one\0")
            self.assertEqual(run_steps(B("u") + E + S)[-1], ("Z", b"I"))
            run(self.notifier, "NOTIFY named_ch, 'after unlisten'")
            with self.assertRaises(socket.timeout):
                w.recv_msg(timeout=QUIET)
            # Inside a block: in effect at COMMIT.
            w.query("BEGIN")
            self.assertEqual(run_steps(B("l") + E + S)[-1], ("Z", b"T"))
            w.query("COMMIT")
            run(self.notifier, "NOTIFY named_ch, 'committed'")
            self.assertEqual(w.recv_msg(timeout=5)[1][4:], b"named_ch\0committed\0")
            run_steps(B("u") + E + S)
            # Bound among other statements before one Sync: refused, naming the construct.
            got = run_steps(P("", "SELECT 1") + B("") + E + B("l") + E + S)
            errors = [pgwire.parse_error_fields(p) for t, p in got if t == "E"]
            self.assertEqual([e["C"] for e in errors], ["0A000"])
            self.assertIn("LISTEN / UNLISTEN pipelined with other statements", errors[0]["M"])
            self.assertEqual(got[-1], ("Z", b"I"))
            run(self.notifier, "NOTIFY named_ch, 'refused'")
            with self.assertRaises(socket.timeout):
                w.recv_msg(timeout=QUIET)
            self.assertEqual(w.execute("SELECT 7").rows, [("7",)])

    def test_listen_fails_in_bounded_time_naming_a_shard_it_cannot_listen_on(self):
        # The user "nolisten" may log in on s0 only: its listening connection to s1 is refused.
        c = tx.connect(user="nolisten", autocommit=True)
        self.addCleanup(c.close)
        start = time.monotonic()
        with self.assertRaises(psycopg2.errors.ConnectionFailure) as cm:  # 08006
            run(c, "LISTEN down_ch")
        self.assertLess(time.monotonic() - start, 3.0)  # twice connect_timeout_ms, and margin
        self.assertIn(f'shard "{cluster.shards[1].name}"', str(cm.exception))
        self.assertIn("not permitted to log in", str(cm.exception))
        run(c, "SELECT 1")  # the session goes on
        self.assertGreaterEqual(metric("shardgate_notify_listen_failures_total"), 1)

    def test_session_pooling_passes_listen_through(self):
        l = self.listen("sess_ch", proxy=sess)
        n = sess.connect(autocommit=True)
        self.addCleanup(n.close)
        run(n, "NOTIFY sess_ch, 'session pooling'")
        self.assertEqual(wait_notifies(l), [("sess_ch", "session pooling")])


if __name__ == "__main__":
    unittest.main()
