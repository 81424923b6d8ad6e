"""A SET inside a simple query of several statements (issue 17): `SET a = 1; SELECT ...`.

PostgreSQL runs such a query (without transaction control) as one implicit transaction: its
SETs count only if the whole query succeeded, SET LOCAL lasts only for it; inside an explicit
transaction block the usual rules apply. Through shardgate, in transaction pooling (pool_size
= 1: two clients share the one server connection per shard) and in session pooling: the client keeps the setting on its later transactions (on both shards), the other
client never sees it, and every observation equals one plain PostgreSQL's (shard s0, direct).
A SET mixed with transaction control in one query, or in a query that runs on several shards,
is refused (0A000 naming the construct), never silently lost.
"""

import unittest

import psycopg2
import psycopg2.errors

import pgcluster
from sgfixture import direct_connect, shard_of, start_pool_mode_proxies

N = 2
TABLES = [{"name": "items", "shard_key": "id", "key_type": "bigint"}]
SCHEMA = "CREATE TABLE items (id bigint PRIMARY KEY, name text);"

cluster = None
targets = {}


def key_on(shard):
    return [k for k in range(1, 1000) if shard_of(k, "bigint", N) == shard][0]


def setUpModule():
    global cluster
    cluster, _ = pgcluster.start_module_cluster(N, SCHEMA, watchdog_s=120)
    # Session pooling keeps a server connection per client and shard: two clients need two.
    proxies = start_pool_mode_proxies(cluster, "multi_set", TABLES,
                                      transaction={"pool_size": 1, "pool_timeout_ms": 3000},
                                      session={"pool_size": 2, "pool_timeout_ms": 3000})
    for mode, p in proxies.items():
        targets[mode] = p.connect
    targets["direct"] = direct_connect(cluster)


def one(conn, sql, params=None):
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchone()


def settings(conn):
    """work_mem and statement_timeout as the client's next transactions see them, on the
    default shard and on s1 (through the proxy; on one PostgreSQL the same query twice)."""
    out = []
    for key in (key_on(0), key_on(1)):
        out.append(one(conn, "SELECT current_setting('work_mem'), current_setting('statement_timeout'), "
                             "count(*) FROM items WHERE id = %s", (key,))[:2])
    if not conn.autocommit:
        conn.commit()
    return out


class MultiStatementSet(unittest.TestCase):

    def scenario(self, a, b):
        """What clients a (autocommit) and b (autocommit) observe."""
        seen = []
        base_b = settings(b)
        # Two SETs in one query, then a SET with a SELECT.
        one(a, "SET work_mem = '7MB'; SET statement_timeout = '41s'; SELECT 1")
        seen.append(("after two SETs", settings(a), settings(b) == base_b))
        self.assertEqual(one(a, "SET work_mem = '8MB'; SELECT current_setting('work_mem')"), ("8MB",))
        seen.append(("after SET; SELECT", settings(a), settings(b) == base_b))
        # A failing query: none of its SETs took.
        with self.assertRaises(psycopg2.errors.DivisionByZero):
            one(a, "SET work_mem = '9MB'; SET statement_timeout = '43s'; SELECT 1/0")
        seen.append(("after a failed query", settings(a), settings(b) == base_b))
        # SET LOCAL lasts for the query's implicit transaction only.
        seen.append(("SET LOCAL inside", one(a, "SET LOCAL work_mem = '11MB'; SELECT current_setting('work_mem')")))
        seen.append(("after SET LOCAL", settings(a)))
        # Inside an explicit transaction block: rolled back, then committed.
        a.autocommit = False
        one(a, "SET work_mem = '13MB'; SELECT 1")
        seen.append(("inside the block", one(a, "SELECT current_setting('work_mem')")))
        a.rollback()
        seen.append(("after ROLLBACK", settings(a)))
        one(a, "SET work_mem = '14MB'; SELECT 1")
        a.commit()
        seen.append(("after COMMIT", settings(a), settings(b) == base_b))
        a.autocommit = True
        # RESET in a query of several.
        one(a, "RESET work_mem; SELECT 1")
        seen.append(("after RESET", settings(a), settings(b) == base_b))
        return seen

    def test_same_as_postgresql_in_both_pool_modes(self):
        expected = [
            ("after two SETs", [("7MB", "41s")] * 2, True),
            ("after SET; SELECT", [("8MB", "41s")] * 2, True),
            ("after a failed query", [("8MB", "41s")] * 2, True),
            ("SET LOCAL inside", ("11MB",)),
            ("after SET LOCAL", [("8MB", "41s")] * 2),
            ("inside the block", ("13MB",)),
            ("after ROLLBACK", [("8MB", "41s")] * 2),
            ("after COMMIT", [("14MB", "41s")] * 2, True),
            ("after RESET", [("4MB", "41s")] * 2, True),
        ]
        for name in ("direct", "transaction", "session"):
            with self.subTest(target=name):
                a = targets[name](autocommit=True)
                b = targets[name](autocommit=True)
                try:
                    self.assertEqual(self.scenario(a, b), expected)
                finally:
                    a.close()
                    b.close()

    def test_set_with_transaction_control_is_refused(self):
        for name in ("transaction", "session"):
            with self.subTest(target=name):
                a = targets[name](autocommit=True)
                self.addCleanup(a.close)
                for sql in ("BEGIN; SET work_mem = '15MB'; COMMIT",
                            "SET work_mem = '15MB'; BEGIN",
                            "SAVEPOINT s; SET work_mem = '15MB'"):
                    with self.assertRaises(psycopg2.errors.FeatureNotSupported) as cm:
                        one(a, sql)
                    self.assertIn("together with transaction control", str(cm.exception))
                    if a.get_transaction_status() != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
                        one(a, "ROLLBACK; SELECT 1")
                self.assertEqual(settings(a), [("4MB", "0")] * 2)
                # Transaction control alone, or SET LOCAL with it, still runs.
                with a.cursor() as cur:
                    cur.execute("BEGIN; SET LOCAL work_mem = '16MB'; "
                                "INSERT INTO items (id, name) VALUES (%s, current_setting('work_mem')) "
                                "ON CONFLICT (id) DO UPDATE SET name = excluded.name; COMMIT",
                                (key_on(1),))
                self.assertEqual(one(a, "SELECT name FROM items WHERE id = %s", (key_on(1),)), ("16MB",))
                self.assertEqual(settings(a), [("4MB", "0")] * 2)

    def test_set_in_a_query_on_several_shards_is_refused(self):
        for name in ("transaction", "session"):
            with self.subTest(target=name):
                a = targets[name](autocommit=True)
                self.addCleanup(a.close)
                with self.assertRaises(psycopg2.errors.FeatureNotSupported) as cm:
                    one(a, "SET work_mem = '17MB'; SELECT id FROM items")
                self.assertIn("runs on 2 shards", str(cm.exception))
                self.assertEqual(settings(a), [("4MB", "0")] * 2)

    def test_listen_among_settings_and_other_statements(self):
        # Carried in transaction pooling (test_listen_notify.py checks the notifications): the
        # SET and the LISTEN both count once the query succeeded, as on one PostgreSQL; with
        # transaction control in the same query, LISTEN is refused there.
        for name in ("transaction", "session", "direct"):
            with self.subTest(target=name):
                a = targets[name](autocommit=True)
                self.addCleanup(a.close)
                self.assertEqual(one(a, "SET work_mem = '5MB'; LISTEN multi_ch; SELECT 1"), (1,))
                self.assertEqual([w for w, _ in settings(a)], ["5MB"] * 2)
                with self.assertRaises(psycopg2.errors.DivisionByZero):
                    one(a, "SET work_mem = '6MB'; LISTEN multi_ch2; SELECT 1/0")
                self.assertEqual([w for w, _ in settings(a)], ["5MB"] * 2)
        a = targets["transaction"](autocommit=True)
        self.addCleanup(a.close)
        with self.assertRaises(psycopg2.errors.FeatureNotSupported) as cm:
            one(a, "LISTEN multi_ch; COMMIT; SELECT 1")
        self.assertIn("transaction control (COMMIT)", str(cm.exception))


if __name__ == "__main__":
    unittest.main()
