"""LISTEN / UNLISTEN inside a transaction block (issue 17): answered at once, in effect at COMMIT,
as in PostgreSQL. Every scenario runs against one plain PostgreSQL (shard s0, directly) and
through shardgate over 2 shards in transaction pooling (pool_size = 1) and in session pooling,
and must observe the same notifications everywhere (and the expected ones, written out).

What is checked: a LISTEN takes effect only once the COMMIT is confirmed (also a two-phase
COMMIT over both shards, and a COMMIT of a transaction whose statements were all answered by
the proxy); ROLLBACK, a failed COMMIT and a COMMIT of a failed transaction drop it; ROLLBACK
TO SAVEPOINT drops those issued after the savepoint, RELEASE keeps them; an UNLISTEN waits
for COMMIT too; a transaction receives its own NOTIFY after COMMIT; PREPARE TRANSACTION after LISTEN is refused
(0A000); JDBC's autocommit-off form ([BEGIN, LISTEN, Sync] in one extended batch).
"""

import select
import time
import unittest

import psycopg2
import psycopg2.errors

import pgcluster
import pgwire
from sgfixture import direct_connect, shard_of, start_pool_mode_proxies

N = 2
TABLES = [{"name": "items", "shard_key": "id", "key_type": "bigint"}]
SCHEMA = """
CREATE TABLE items (id bigint PRIMARY KEY, name text);
CREATE TABLE deferred_u (id int, CONSTRAINT deferred_u_id UNIQUE (id) DEFERRABLE INITIALLY DEFERRED);
"""
SYNC = "sync_ch"

cluster = None
targets = {}  # name -> (connect(autocommit) -> psycopg2 connection, (host, port, user, db))


def key_on(shard, skip=0):
    return [k for k in range(1, 10000) if shard_of(k, "bigint", N) == shard][skip]


def setUpModule():
    global cluster
    cluster, _ = pgcluster.start_module_cluster(N, SCHEMA, watchdog_s=150)
    proxies = start_pool_mode_proxies(cluster, "listen_txn", TABLES,
                                      transaction={"pool_size": 1, "pool_timeout_ms": 3000},
                                      session={"pool_size": 4})
    targets["direct"] = (direct_connect(cluster), None)
    for mode, p in proxies.items():
        targets[mode] = (p.connect, p)


def run(conn, sql, params=None):
    with conn.cursor() as cur:
        cur.execute(sql, params)


def received(listener, notifier, channels, timeout=5.0):
    """NOTIFYs each of `channels` (payload: the channel), then SYNC, from `notifier`
    (autocommit); the channels `listener` got a notification on, up to SYNC's."""
    for ch in channels:
        run(notifier, f"NOTIFY {ch}, '{ch}'")
    run(notifier, f"NOTIFY {SYNC}")
    deadline = time.monotonic() + timeout
    got = []
    while True:
        listener.poll()
        while listener.notifies:
            n = listener.notifies.pop(0)
            if n.channel == SYNC:
                return got
            got.append((n.channel, n.payload))
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{SYNC} never arrived; got {got}")
        select.select([listener], [], [], left)


class ListenInTransaction(unittest.TestCase):
    """Each scenario: f(listener, notifier) -> what to compare; run on every target."""

    def on_every_target(self, scenario, expected, names=("direct", "transaction", "session")):
        for name in names:
            connect, _ = targets[name]
            with self.subTest(target=name):
                listener = connect(autocommit=True)
                notifier = connect(autocommit=True)
                try:
                    run(listener, f"LISTEN {SYNC}")
                    got = scenario(listener, notifier)
                finally:
                    listener.close()
                    notifier.close()
                self.assertEqual(got, expected, f"on {name}")

    def test_listen_takes_effect_at_commit(self):
        def scenario(l, n):
            l.autocommit = False
            run(l, "LISTEN a_commit")
            # Committed while the listener's transaction is open: PostgreSQL delivers it after
            # the COMMIT to a session that already listens on some channel (here SYNC).
            run(n, "NOTIFY a_commit, 'during'")
            l.commit()
            l.autocommit = True
            return received(l, n, ["a_commit"])
        self.on_every_target(scenario, [("a_commit", "during"), ("a_commit", "a_commit")])

    def test_rollback_drops_listen(self):
        def scenario(l, n):
            l.autocommit = False
            run(l, "LISTEN b_rolled")
            run(l, "SELECT 1")
            l.rollback()
            l.autocommit = True
            return received(l, n, ["b_rolled"])
        self.on_every_target(scenario, [])

    def test_savepoints(self):
        def scenario(l, n):
            l.autocommit = False
            run(l, "LISTEN c_kept")
            run(l, "SAVEPOINT s1")
            run(l, "LISTEN c_undone")
            run(l, "SAVEPOINT s2")
            run(l, "LISTEN c_undone_too")
            run(l, "ROLLBACK TO SAVEPOINT s1")
            run(l, "SAVEPOINT s3")
            run(l, "LISTEN c_released")
            run(l, "RELEASE SAVEPOINT s3")
            run(l, "SAVEPOINT s4")
            run(l, "LISTEN c_after_release")
            l.commit()
            l.autocommit = True
            return sorted(received(l, n, ["c_kept", "c_undone", "c_undone_too", "c_released",
                                          "c_after_release"]))
        self.on_every_target(scenario, [("c_after_release", "c_after_release"),
                                        ("c_kept", "c_kept"), ("c_released", "c_released")])

    def test_own_notify_arrives_after_commit(self):
        def scenario(l, n):
            l.autocommit = False
            run(l, "LISTEN d_self")
            run(l, "NOTIFY d_self, 'mine'")
            run(l, "SELECT 1")
            l.poll()
            early = [(x.channel, x.payload) for x in l.notifies]
            l.commit()
            l.autocommit = True
            return early, received(l, n, [])
        self.on_every_target(scenario, ([], [("d_self", "mine")]))

    def test_unlisten_waits_for_commit(self):
        def scenario(l, n):
            run(l, "LISTEN e_un")
            run(l, "LISTEN e_kept")
            run(l, "BEGIN")
            run(l, "UNLISTEN e_un")
            run(l, "COMMIT")
            after = received(l, n, ["e_un", "e_kept"])
            run(l, "BEGIN")
            run(l, "UNLISTEN *")
            run(l, "ROLLBACK")
            kept = received(l, n, ["e_un", "e_kept"])
            run(l, "BEGIN")
            run(l, "UNLISTEN *")
            run(l, "COMMIT")
            run(l, f"LISTEN {SYNC}")
            return after, kept, received(l, n, ["e_un", "e_kept"])
        self.on_every_target(scenario, ([("e_kept", "e_kept")], [("e_kept", "e_kept")], []))

    def test_failed_transaction_and_failed_commit_drop_it(self):
        def scenario(l, n):
            run(l, "BEGIN")
            run(l, "LISTEN f_failed")
            with self.assertRaises(psycopg2.errors.DivisionByZero):
                run(l, "SELECT 1/0")
            run(l, "COMMIT")  # answered ROLLBACK
            tag_failed = l.status
            run(l, "BEGIN")
            run(l, "LISTEN f_commit_failed")
            run(l, "INSERT INTO deferred_u VALUES (1), (1)")
            with self.assertRaises(psycopg2.errors.UniqueViolation):
                run(l, "COMMIT")
            return tag_failed, received(l, n, ["f_failed", "f_commit_failed"])
        self.on_every_target(scenario, (psycopg2.extensions.STATUS_READY, []))

    def test_commit_over_two_shards(self):
        # Two-phase COMMIT through the proxy; on one PostgreSQL the same statements.
        k0, k1 = key_on(0, 5), key_on(1, 5)

        def scenario(l, n):
            l.autocommit = False
            run(l, "INSERT INTO items VALUES (%s, 'two shards') ON CONFLICT (id) DO NOTHING", (k0,))
            run(l, "LISTEN g_two")
            run(l, "INSERT INTO items VALUES (%s, 'two shards') ON CONFLICT (id) DO NOTHING", (k1,))
            l.commit()
            l.autocommit = True
            first = received(l, n, ["g_two"])
            # And rolled back over two shards: dropped.
            l.autocommit = False
            run(l, "UPDATE items SET name = 'x' WHERE id = %s", (k0,))
            run(l, "UPDATE items SET name = 'x' WHERE id = %s", (k1,))
            run(l, "UNLISTEN g_two")
            run(l, "LISTEN g_dropped")
            l.rollback()
            l.autocommit = True
            return first, sorted(received(l, n, ["g_two", "g_dropped"]))
        self.on_every_target(scenario, ([("g_two", "g_two")],
                                        [("g_two", "g_two")]), names=("direct", "transaction"))

    def test_listen_on_the_non_default_shard_transaction(self):
        k1 = key_on(1, 7)

        def scenario(l, n):
            l.autocommit = False
            run(l, "SELECT count(*) FROM items WHERE id = %s", (k1,))
            run(l, "LISTEN h_s1")
            run(l, "NOTIFY h_s1, 'on s1'")
            l.commit()
            l.autocommit = True
            # Notifications sent on different shards may arrive in either order: the one sent
            # on s1 is waited for on its own, before the SYNC (sent on s0) is relied on.
            first = []
            deadline = time.monotonic() + 5
            while not first and time.monotonic() < deadline:
                select.select([l], [], [], 0.2)
                l.poll()
                first = [(x.channel, x.payload) for x in l.notifies]
            l.notifies.clear()
            return sorted(first + received(l, n, ["h_s1"]))
        self.on_every_target(scenario, [("h_s1", "h_s1"), ("h_s1", "on s1")],
                             names=("direct", "transaction"))

    def test_prepare_transaction_after_listen_is_refused(self):
        def scenario(l, n):
            run(l, "BEGIN")
            run(l, "LISTEN i_prepared")
            with self.assertRaises(psycopg2.errors.FeatureNotSupported) as cm:
                run(l, "PREPARE TRANSACTION 'listen_txn_p'")
            msg = str(cm.exception).splitlines()[0]
            # PostgreSQL ends the transaction; shardgate leaves it failed (see the README).
            if l.get_transaction_status() != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
                run(l, "ROLLBACK")
            return msg, received(l, n, ["i_prepared"])
        self.on_every_target(scenario, (
            "cannot PREPARE a transaction that has executed LISTEN, UNLISTEN, or NOTIFY", []),
            names=("direct", "transaction"))

    def test_jdbc_autocommit_off_form(self):
        # JDBC with autocommit off sends BEGIN with its first statement, in one batch.
        for name in ("direct", "transaction"):
            connect, proxy = targets[name]
            host, port = (("127.0.0.1", proxy.port) if proxy else
                          ("127.0.0.1", cluster.shards[0].port))
            with self.subTest(target=name), pgwire.WireConn(host, port) as w:
                w.startup("postgres", cluster.dbname)
                w.batch([pgwire.Stmt(f"LISTEN {SYNC}")], raise_error=True)
                rs = w.batch([pgwire.Stmt("BEGIN"), pgwire.Stmt("LISTEN j_jdbc")], raise_error=True)
                self.assertEqual(([r.tag for r in rs], w.tx_status), (["BEGIN", "LISTEN"], "T"))
                [r] = w.batch([pgwire.Stmt("COMMIT")], raise_error=True)
                self.assertEqual((r.tag, w.tx_status), ("COMMIT", "I"))
                rs = w.batch([pgwire.Stmt("BEGIN"), pgwire.Stmt("LISTEN j_rolled")], raise_error=True)
                [r] = w.batch([pgwire.Stmt("ROLLBACK")], raise_error=True)
                notifier = connect(autocommit=True)
                self.addCleanup(notifier.close)
                for ch in ("j_rolled", "j_jdbc", SYNC):
                    run(notifier, f"NOTIFY {ch}, 'x'")
                got = []
                while True:
                    m = w.recv_msg(timeout=5)
                    self.assertIsNotNone(m)
                    if m[0] != "A":
                        continue
                    channel = m[1][4:].split(b"\0")[0].decode()
                    if channel == SYNC:
                        break
                    got.append(channel)
                self.assertEqual(got, ["j_jdbc"])


if __name__ == "__main__":
    unittest.main()
