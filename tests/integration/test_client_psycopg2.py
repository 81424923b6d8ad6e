"""psycopg2 (Debian's python3-psycopg2, libpq underneath) through the target: typed
parameters, transactions, server-side cursors, COPY, errors with their SQLSTATE, notices,
cancel and concurrent sessions."""

import datetime
import decimal
import io
import threading
import unittest
import uuid

import psycopg2
import psycopg2.errors
import psycopg2.extensions
import psycopg2.extras

import client_target

T = None


def setUpModule():
    global T
    T = client_target.start("psycopg2")
    unittest.addModuleCleanup(T.close)
    psycopg2.extras.register_uuid()


def connect(**kw):
    return psycopg2.connect(T.dsn(application_name="psycopg2-test"), **kw)


class Psycopg2Test(unittest.TestCase):

    def setUp(self):
        self.conn = connect()
        self.addCleanup(self.conn.close)

    def query(self, sql, params=None):
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def test_parameters_of_many_types_round_trip(self):
        tz = datetime.timezone(datetime.timedelta(hours=2))
        values = [
            ("int", 42, "int4"),
            ("bigint", 2 ** 62 + 7, "int8"),
            ("negative", -(2 ** 31), "int8"),
            ("float", 3.25, "float8"),
            ("numeric", decimal.Decimal("12345678901234567890.000000001"), "numeric"),
            ("text", "O'Reilly \"quoted\" \\ backslash; DROP TABLE x; --", "text"),
            ("unicode", "Grüße, 世界 🌍", "text"),
            ("empty", "", "text"),
            ("bool", True, "bool"),
            ("null", None, "text"),
            ("bytea", bytes(range(256)) * 3, "bytea"),
            ("date", datetime.date(2024, 2, 29), "date"),
            ("timestamp", datetime.datetime(2024, 1, 2, 3, 4, 5, 678901), "timestamp"),
            ("timestamptz", datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=tz), "timestamptz"),
            ("time", datetime.time(23, 59, 58, 999), "time"),
            ("interval", datetime.timedelta(days=3, seconds=7261), "interval"),
            ("uuid", uuid.UUID("12345678-1234-5678-1234-567812345678"), "uuid"),
            ("int array", [1, 2, None, 4], "int4[]"),
            ("text array", ["a", "b,c", 'd"e'], "text[]"),
        ]
        for label, value, pgtype in values:
            with self.subTest(label):
                [(got, same_type)] = self.query(
                    f"SELECT %s::{pgtype}, pg_typeof(%s::{pgtype}) = '{pgtype}'::regtype",
                    (value, value))
                self.assertTrue(same_type)
                if isinstance(value, datetime.datetime) and value.tzinfo:
                    self.assertEqual(got, value)     # same instant, session time zone
                elif isinstance(value, bytes):
                    self.assertEqual(bytes(got), value)
                else:
                    self.assertEqual(got, value)

    def test_json_and_dict_parameters(self):
        doc = {"id": 7, "tags": ["x", "y"], "nested": {"ok": True, "none": None}}
        [(got, key)] = self.query("SELECT %s::jsonb, (%s::jsonb)->'nested'->>'ok'",
                                  (psycopg2.extras.Json(doc), psycopg2.extras.Json(doc)))
        self.assertEqual((got, key), (doc, "true"))
        [(n,)] = self.query("SELECT %(a)s + %(b)s * %(a)s", {"a": 3, "b": 4})
        self.assertEqual(n, 15)

    def test_executemany_and_rowcount(self):
        with self.conn.cursor() as cur:
            cur.execute("CREATE TABLE items (id int PRIMARY KEY, name text, price numeric)")
            cur.executemany("INSERT INTO items VALUES (%s, %s, %s)",
                            [(i, f"item {i}", decimal.Decimal(i) / 4) for i in range(1, 201)])
            cur.execute("UPDATE items SET price = price * 2 WHERE id <= 50")
            self.assertEqual(cur.rowcount, 50)
            cur.execute("SELECT count(*), sum(price) FROM items")
            self.assertEqual(cur.fetchone(), (200, decimal.Decimal("5343.75")))
        self.conn.commit()

    def test_transactions_commit_rollback_savepoint(self):
        other = connect()
        self.addCleanup(other.close)
        other.autocommit = True
        with self.conn.cursor() as cur:
            cur.execute("CREATE TABLE ledger (v int)")
            self.conn.commit()
            cur.execute("INSERT INTO ledger VALUES (1)")
            # Not visible to another session before commit.
            with other.cursor() as oc:
                oc.execute("SELECT count(*) FROM ledger")
                self.assertEqual(oc.fetchone(), (0,))
            self.conn.commit()
            cur.execute("INSERT INTO ledger VALUES (2)")
            self.conn.rollback()
            cur.execute("INSERT INTO ledger VALUES (3)")
            cur.execute("SAVEPOINT sp")
            cur.execute("INSERT INTO ledger VALUES (4)")
            cur.execute("ROLLBACK TO SAVEPOINT sp")
            self.conn.commit()
            cur.execute("SELECT array_agg(v ORDER BY v) FROM ledger")
            self.assertEqual(cur.fetchone(), ([1, 3],))
        self.assertEqual(self.conn.get_transaction_status(),
                         psycopg2.extensions.TRANSACTION_STATUS_INTRANS)
        self.conn.rollback()
        self.assertEqual(self.conn.get_transaction_status(),
                         psycopg2.extensions.TRANSACTION_STATUS_IDLE)

    def test_error_in_transaction_then_rollback(self):
        with self.conn.cursor() as cur:
            cur.execute("SELECT 1")
            with self.assertRaises(psycopg2.errors.DivisionByZero) as e:
                cur.execute("SELECT 1 / 0")
            self.assertEqual(e.exception.pgcode, "22012")
            self.assertEqual(self.conn.get_transaction_status(),
                             psycopg2.extensions.TRANSACTION_STATUS_INERROR)
            with self.assertRaises(psycopg2.errors.InFailedSqlTransaction) as e:
                cur.execute("SELECT 2")
            self.assertEqual(e.exception.pgcode, "25P02")
            self.conn.rollback()
            cur.execute("SELECT 3")
            self.assertEqual(cur.fetchone(), (3,))

    def test_errors_carry_sqlstate_and_diagnostics(self):
        self.conn.autocommit = True
        with self.conn.cursor() as cur:
            cur.execute("CREATE TABLE uniq (k int PRIMARY KEY, v int NOT NULL)")
            cur.execute("INSERT INTO uniq VALUES (1, 1)")
            cases = [
                ("INSERT INTO uniq VALUES (1, 2)", psycopg2.errors.UniqueViolation, "23505"),
                ("INSERT INTO uniq VALUES (2, NULL)", psycopg2.errors.NotNullViolation,
                 "23502"),
                ("SELECT * FROM missing_table", psycopg2.errors.UndefinedTable, "42P01"),
                ("SELEC 1", psycopg2.errors.SyntaxError, "42601"),
                ("SELECT 'abc'::int", psycopg2.errors.InvalidTextRepresentation, "22P02"),
                ("DO $$ BEGIN RAISE EXCEPTION 'custom failure %', 7 USING ERRCODE = 'P0001',"
                 " HINT = 'try again'; END $$", psycopg2.errors.RaiseException, "P0001"),
            ]
            for sql, exc, code in cases:
                with self.subTest(code), self.assertRaises(exc) as e:
                    cur.execute(sql)
                self.assertEqual(e.exception.pgcode, code)
                self.assertEqual(e.exception.diag.sqlstate, code)
            self.assertEqual(e.exception.diag.message_primary, "custom failure 7")
            self.assertEqual(e.exception.diag.message_hint, "try again")
            with self.assertRaises(psycopg2.errors.UniqueViolation) as e:
                cur.execute("INSERT INTO uniq VALUES (1, 3)")
            self.assertEqual(e.exception.diag.constraint_name, "uniq_pkey")
            self.assertEqual(e.exception.diag.table_name, "uniq")
            cur.execute("SELECT count(*) FROM uniq")       # the session still works
            self.assertEqual(cur.fetchone(), (1,))

    def test_notices_and_warnings(self):
        self.conn.autocommit = True
        with self.conn.cursor() as cur:
            cur.execute("DO $$ BEGIN RAISE NOTICE 'first %', 1; RAISE WARNING 'second'; "
                        "RAISE NOTICE 'third'; END $$")
        self.assertEqual(self.conn.notices, ["NOTICE:  first 1\n", "WARNING:  second\n",
                                             "NOTICE:  third\n"])

    def test_server_side_cursor(self):
        with self.conn.cursor(name="big_cursor") as cur:
            cur.itersize = 1000
            cur.execute("SELECT g, md5(g::text) FROM generate_series(1, 25000) g")
            total, count, last = 0, 0, None
            for n, digest in cur:
                total += n
                count += 1
                last = digest
        self.assertEqual((count, total), (25000, 25000 * 25001 // 2))
        self.assertEqual(last, self.query("SELECT md5('25000')")[0][0])
        self.conn.commit()

    def test_scrollable_server_side_cursor(self):
        with self.conn.cursor(name="scroller", scrollable=True) as cur:
            cur.execute("SELECT g FROM generate_series(1, 100) g")
            self.assertEqual(cur.fetchmany(3), [(1,), (2,), (3,)])
            cur.scroll(50, mode="absolute")
            self.assertEqual(cur.fetchone(), (51,))
            cur.scroll(-11)
            self.assertEqual(cur.fetchone(), (41,))
        self.conn.rollback()

    def test_copy_expert_both_ways(self):
        with self.conn.cursor() as cur:
            cur.execute("CREATE TABLE copied (id int, name text, amount numeric)")
            rows = "".join(f'{i},"name {i}, with comma",{i}.5\n' for i in range(5000))
            cur.copy_expert("COPY copied FROM STDIN WITH (FORMAT csv)", io.StringIO(rows))
            self.assertEqual(cur.rowcount, 5000)
            cur.execute("SELECT count(*), sum(amount) FROM copied")
            self.assertEqual(cur.fetchone(), (5000, decimal.Decimal("12500000.0")))
            out = io.StringIO()
            cur.copy_expert("COPY (SELECT * FROM copied ORDER BY id) TO STDOUT WITH (FORMAT csv)",
                            out)
            self.assertEqual(out.getvalue(), rows)
        self.conn.commit()

    def test_copy_error_reports_sqlstate_and_session_recovers(self):
        with self.conn.cursor() as cur:
            cur.execute("CREATE TABLE copy_bad (v int)")
            self.conn.commit()
            with self.assertRaises(psycopg2.errors.InvalidTextRepresentation) as e:
                cur.copy_expert("COPY copy_bad FROM STDIN", io.StringIO("1\n2\nx\n"))
            self.assertEqual(e.exception.pgcode, "22P02")
            self.conn.rollback()
            cur.execute("SELECT count(*) FROM copy_bad")
            self.assertEqual(cur.fetchone(), (0,))

    def test_parameter_status_and_session_settings(self):
        self.assertEqual(self.conn.get_parameter_status("server_encoding"), "UTF8")
        self.assertEqual(self.conn.get_parameter_status("client_encoding"), "UTF8")
        self.assertTrue(self.conn.get_parameter_status("server_version").startswith("15"))
        self.assertEqual(self.conn.get_parameter_status("application_name"), "psycopg2-test")
        self.conn.autocommit = True
        with self.conn.cursor() as cur:
            cur.execute("SET TimeZone = 'America/New_York'")
            self.assertEqual(self.conn.get_parameter_status("TimeZone"), "America/New_York")
            cur.execute("SET application_name = 'renamed'")
            for _ in range(3):            # several transactions: the settings stay
                cur.execute("SELECT current_setting('TimeZone'), "
                            "current_setting('application_name'), "
                            "to_char('2024-06-01 12:00:00+00'::timestamptz, 'HH24:MI')")
                self.assertEqual(cur.fetchone(), ("America/New_York", "renamed", "08:00"))

    def test_cancel_a_running_query(self):
        with self.conn.cursor() as cur:
            timer = threading.Timer(0.5, self.conn.cancel)
            timer.start()
            self.addCleanup(timer.cancel)
            with self.assertRaises(psycopg2.errors.QueryCanceled) as e:
                cur.execute("SELECT pg_sleep(30)")
            self.assertEqual(e.exception.pgcode, "57014")
            self.conn.rollback()
            cur.execute("SELECT 'alive'")
            self.assertEqual(cur.fetchone(), ("alive",))

    def test_concurrent_sessions(self):
        self.conn.autocommit = True
        with self.conn.cursor() as cur:
            cur.execute("CREATE TABLE counters (worker int, n int)")
        errors = []

        def work(worker):
            try:
                with connect() as c, c.cursor() as cur:
                    for n in range(25):
                        cur.execute("INSERT INTO counters VALUES (%s, %s)", (worker, n))
                        cur.execute("SELECT count(*) FROM counters WHERE worker = %s",
                                    (worker,))
                        if cur.fetchone()[0] != n + 1:
                            raise AssertionError(f"worker {worker} lost its own insert")
                        c.commit()
                c.close()
            except Exception as e:            # reported by the main thread
                errors.append(e)

        threads = [threading.Thread(target=work, args=(w,)) for w in range(30)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        self.assertEqual(self.query("SELECT count(*), count(DISTINCT worker) FROM counters"),
                         [(750, 30)])


if __name__ == "__main__":
    unittest.main()
