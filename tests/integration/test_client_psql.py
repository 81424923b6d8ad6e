"""psql through the target: scripts with transactions, COPY both ways, errors and
ON_ERROR_STOP, several statements in one Query message, notices, session settings."""

import os
import subprocess
import tempfile
import unittest

import client_target

T = None


def setUpModule():
    global T
    T = client_target.start("psql")
    unittest.addModuleCleanup(T.close)


def psql(script, *args, stop_on_error=False, timeout=60):
    """Runs `script` through `psql -f -` (unaligned, tuples only, quiet)."""
    cmd = ["psql", "-X", "-q", "-A", "-t", "-v", f"ON_ERROR_STOP={int(stop_on_error)}",
           *args, "-f", "-"]
    return subprocess.run(cmd, input=script, capture_output=True, text=True, env=T.env(),
                          timeout=timeout)


class PsqlTest(unittest.TestCase):

    def ok(self, script, *args, **kw):
        r = psql(script, *args, **kw)
        self.assertEqual(r.returncode, 0, f"{T.describe()}\nstdout:{r.stdout}\nstderr:{r.stderr}")
        self.assertNotIn("ERROR", r.stderr)
        return r.stdout

    def test_transactions_commit_rollback_and_savepoints(self):
        out = self.ok("""
            CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL);
            BEGIN;
            INSERT INTO accounts VALUES (1, 100), (2, 50);
            COMMIT;
            BEGIN;
            UPDATE accounts SET balance = balance - 30 WHERE id = 1;
            UPDATE accounts SET balance = balance + 30 WHERE id = 2;
            COMMIT;
            BEGIN;
            DELETE FROM accounts;
            ROLLBACK;
            BEGIN;
            INSERT INTO accounts VALUES (3, 1);
            SAVEPOINT s1;
            INSERT INTO accounts VALUES (4, 1);
            ROLLBACK TO SAVEPOINT s1;
            COMMIT;
            SELECT id, balance FROM accounts ORDER BY id;
            """)
        self.assertEqual(out, "1|70\n2|80\n3|1\n")

    def test_copy_from_stdin_and_to_stdout(self):
        out = self.ok(
            "CREATE TABLE people (id int, name text, note text);\n"
            "COPY people FROM STDIN;\n"
            "1\tAda\t\\N\n"
            "2\tGrace Hopper\ttab\\there\n"
            "3\tΣωκράτης\tunicode\n"
            "\\.\n"
            "COPY people FROM STDIN WITH (FORMAT csv, HEADER true);\n"
            "id,name,note\n"
            '4,"Lovelace, Ada","say ""hi"""\n'
            "\\.\n"
            "SELECT count(*), count(note) FROM people;\n"
            "COPY (SELECT * FROM people ORDER BY id) TO STDOUT WITH (FORMAT csv);\n")
        self.assertEqual(out.splitlines(), [
            "4|3",
            "1,Ada,",
            "2,Grace Hopper,tab\there",
            "3,Σωκράτης,unicode",
            '4,"Lovelace, Ada","say ""hi"""',
        ])

    def test_large_copy_round_trip(self):
        n = 20000
        data = "".join(f"{i}\tvalue-{i}\n" for i in range(n))
        out = self.ok("CREATE TABLE big (id int, v text);\nCOPY big FROM STDIN;\n" + data +
                      "\\.\nSELECT count(*), sum(id), sum(length(v)) FROM big;\n"
                      "COPY big TO STDOUT;\n")
        lines = out.splitlines()
        expected_len = sum(len(f"value-{i}") for i in range(n))
        self.assertEqual(lines[0], f"{n}|{n * (n - 1) // 2}|{expected_len}")
        self.assertEqual("\n".join(lines[1:]) + "\n", data)

    def test_backslash_copy_with_files(self):
        with tempfile.TemporaryDirectory() as d:
            src, dst = os.path.join(d, "in.csv"), os.path.join(d, "out.csv")
            with open(src, "w") as f:
                f.write("".join(f"{i},{i * i}\n" for i in range(1, 101)))
            out = self.ok(f"CREATE TABLE squares (n int, sq int);\n"
                          f"\\copy squares FROM '{src}' WITH (FORMAT csv)\n"
                          f"\\copy (SELECT n, sq FROM squares WHERE n % 10 = 0 ORDER BY n) "
                          f"TO '{dst}' WITH (FORMAT csv)\n"
                          f"SELECT sum(sq) FROM squares;\n")
            self.assertEqual(out, "338350\n")
            with open(dst) as f:
                self.assertEqual(f.read(), "".join(f"{i},{i * i}\n" for i in range(10, 101, 10)))

    def test_large_objects_through_function_calls(self):
        # \lo_import and \lo_export use libpq's large-object API: FunctionCall messages
        # (lo_open, lowrite, loread, ...) inside one transaction.
        with tempfile.TemporaryDirectory() as d:
            src, dst = os.path.join(d, "blob.bin"), os.path.join(d, "back.bin")
            data = os.urandom(300_000)
            with open(src, "wb") as f:
                f.write(data)
            out = self.ok(f"\\lo_import '{src}'\n\\echo oid=:LASTOID\n")
            oid = int(out.split("oid=")[1].split()[0])
            out = self.ok(f"SELECT length(lo_get({oid}));\n\\lo_export {oid} '{dst}'\n"
                          f"SELECT lo_unlink({oid});\n")
            self.assertEqual(out.split()[0], str(len(data)))
            with open(dst, "rb") as f:
                self.assertEqual(f.read(), data)

    def test_errors_without_on_error_stop_continue(self):
        r = psql("SELECT 1/0;\n"
                 "\\echo sqlstate=:LAST_ERROR_SQLSTATE\n"
                 "SELECT * FROM no_such_table;\n"
                 "\\echo sqlstate=:LAST_ERROR_SQLSTATE\n"
                 "SELECT 'still here';\n")
        self.assertEqual(r.returncode, 0)
        self.assertEqual(r.stdout, "sqlstate=22012\nsqlstate=42P01\nstill here\n")
        self.assertIn("psql:<stdin>:1: ERROR:  division by zero", r.stderr)
        self.assertIn('ERROR:  relation "no_such_table" does not exist', r.stderr)

    def test_on_error_stop_stops_at_the_first_error(self):
        r = psql("CREATE TABLE stopped (v int);\n"
                 "INSERT INTO stopped VALUES (1);\n"
                 "INSERT INTO stopped VALUES ('not a number');\n"
                 "INSERT INTO stopped VALUES (3);\n", stop_on_error=True)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn('psql:<stdin>:3: ERROR:  invalid input syntax for type integer: '
                      '"not a number"', r.stderr)
        self.assertEqual(self.ok("SELECT array_agg(v) FROM stopped;"), "{1}\n")

    def test_error_aborts_the_transaction_until_rollback(self):
        r = psql("CREATE TABLE aborted (v int);\n"
                 "BEGIN;\n"
                 "INSERT INTO aborted VALUES (1);\n"
                 "SELECT 1/0;\n"
                 "INSERT INTO aborted VALUES (2);\n"
                 "\\echo sqlstate=:LAST_ERROR_SQLSTATE\n"
                 "COMMIT;\n"
                 "SELECT count(*) FROM aborted;\n")
        self.assertEqual(r.returncode, 0)
        self.assertEqual(r.stdout, "sqlstate=25P02\n0\n")
        self.assertIn("current transaction is aborted, commands ignored until end of "
                      "transaction block", r.stderr)

    def test_single_transaction_is_all_or_nothing(self):
        self.ok("CREATE TABLE atomic (v int UNIQUE);")
        r = psql("INSERT INTO atomic VALUES (1);\n"
                 "INSERT INTO atomic VALUES (2);\n"
                 "INSERT INTO atomic VALUES (1);\n", "--single-transaction", stop_on_error=True)
        self.assertEqual(r.returncode, 3)
        self.assertIn('duplicate key value violates unique constraint "atomic_v_key"', r.stderr)
        self.assertEqual(self.ok("SELECT count(*) FROM atomic;"), "0\n")

    def test_several_statements_in_one_query_message(self):
        # psql -c sends the whole string as one simple Query; psql 15 prints every result.
        r = subprocess.run(["psql", "-X", "-A", "-t", "-c",
                            "SELECT 1; SELECT 'two', 2; VALUES (3), (4)"],
                           capture_output=True, text=True, env=T.env(), timeout=30)
        self.assertEqual((r.returncode, r.stdout), (0, "1\ntwo|2\n3\n4\n"), r.stderr)

    def test_error_in_a_multi_statement_query_rolls_back_the_whole_string(self):
        # One Query message is one implicit transaction: the INSERT before the error is
        # rolled back and the statement after it never runs.
        self.ok("CREATE TABLE implicit_tx (v int);")
        r = subprocess.run(["psql", "-X", "-A", "-t", "-c",
                            "INSERT INTO implicit_tx VALUES (1); SELECT 1/0; "
                            "INSERT INTO implicit_tx VALUES (2)"],
                           capture_output=True, text=True, env=T.env(), timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("ERROR:  division by zero", r.stderr)
        self.assertEqual(self.ok("SELECT count(*) FROM implicit_tx;"), "0\n")

    def test_copy_with_bad_data_fails_with_its_sqlstate(self):
        # VERBOSITY verbose prints the SQLSTATE (psql does not set LAST_ERROR_SQLSTATE for
        # a failed COPY).
        r = psql("\\set VERBOSITY verbose\n"
                 "CREATE TABLE typed (v int);\n"
                 "COPY typed FROM STDIN;\n1\n2\nthree\n\\.\n"
                 "SELECT count(*) FROM typed;\n")
        self.assertEqual(r.returncode, 0)
        self.assertIn('ERROR:  22P02: invalid input syntax for type integer: "three"', r.stderr)
        self.assertIn("CONTEXT:  COPY typed, line 3, column v: \"three\"", r.stderr)
        self.assertEqual(r.stdout, "0\n")

    def test_notices_and_variables(self):
        r = psql("DO $$ BEGIN RAISE NOTICE 'hello from %', 'plpgsql'; END $$;\n"
                 "SELECT 6 * 7 AS answer, 'forty' || 'two' AS word \\gset\n"
                 "SELECT :answer + 1, :'word';\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("NOTICE:  hello from plpgsql", r.stderr)
        self.assertEqual(r.stdout, "43|fortytwo\n")

    def test_session_settings_stay_with_the_session(self):
        # In transaction pooling the proxy must carry SET values to whichever server
        # connection serves the next transaction.
        out = self.ok("SET application_name = 'psql-settings-test';\n"
                      "SET TimeZone = 'Asia/Kolkata';\n"
                      "SET DateStyle = 'ISO, DMY';\n"
                      "SET search_path = pg_catalog, public;\n"
                      "SELECT 1;\n"
                      "BEGIN; SELECT 2; COMMIT;\n"
                      "SELECT current_setting('application_name'), current_setting('TimeZone'),"
                      " current_setting('DateStyle'), current_setting('search_path');\n"
                      "SELECT '2024-03-01 00:00:00+00'::timestamptz;\n")
        self.assertEqual(out.splitlines(), [
            "1", "2",
            "psql-settings-test|Asia/Kolkata|ISO, DMY|pg_catalog, public",
            "2024-03-01 05:30:00+05:30",
        ])


if __name__ == "__main__":
    unittest.main()
