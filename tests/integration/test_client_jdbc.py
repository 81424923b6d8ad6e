"""JDBC (Debian's libpostgresql-jdbc-java) through the target. tests/clients/java/TestClient.java
is compiled at test time into a temporary directory; it runs one case per invocation and
prints what it saw as JSON; the answers are asserted here."""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

import client_target

T = None
JDBC_JAR = "/usr/share/java/postgresql.jar"
SOURCE = os.path.join(os.environ.get("SHARDGATE_SOURCE",
                                     os.path.join(os.path.dirname(__file__), "..", "..")),
                      "tests", "clients", "java", "TestClient.java")
CLASSES = None


def setUpModule():
    global T, CLASSES
    CLASSES = tempfile.mkdtemp(prefix="sg-jdbc-")
    unittest.addModuleCleanup(shutil.rmtree, CLASSES, ignore_errors=True)
    r = subprocess.run(["javac", "-Xlint:all", "-Werror", "-cp", JDBC_JAR, "-d", CLASSES, SOURCE],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"javac failed:\n{r.stdout}{r.stderr}")
    T = client_target.start("jdbc")
    unittest.addModuleCleanup(T.close)


def run_case(name):
    url = T.jdbc_url(ApplicationName="jdbc-test", sslmode="disable")
    r = subprocess.run(["java", "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp",
                        f"{CLASSES}:{JDBC_JAR}", "TestClient", name, url],
                       capture_output=True, text=True, env=T.env(), timeout=90)
    if r.returncode != 0:
        raise AssertionError(f"JDBC case {name} via {T.describe()} failed:\n{r.stderr}")
    return json.loads(r.stdout)


class JdbcTest(unittest.TestCase):

    def test_prepared_statement_reused_past_prepare_threshold(self):
        got = run_case("prepared")
        self.assertEqual(got, {"sum": 2 * sum(range(50)), "serverPrepared": True,
                               "rows": 30, "idSum": sum(range(30))})

    def test_batch_inserts(self):
        got = run_case("batch")
        expected = {"batchEntries": 1000, "updated": 1000, "rows": 1000,
                    "amount": "5005.00", "duplicateState": "23505",
                    "rowsAfterFailedBatch": 1000}
        self.assertEqual(got["plain"], expected)
        self.assertEqual(got["rewritten"], expected)

    def test_transactions(self):
        got = run_case("transactions")
        self.assertEqual(got, {"values": [2, 4], "states": ["22012", "25P02"],
                               "isolation": "serializable"})

    def test_binary_transfer(self):
        got = run_case("binary")
        self.assertEqual(len(got["runs"]), 3)
        for run, row in enumerate(got["runs"]):
            with self.subTest(run=run):
                self.assertEqual(row, {
                    "int4": -123456 - run, "int8": 2 ** 53, "float8": 2.5e-10,
                    "numeric": "98765432109876543210.0123456789",
                    "timestamptz": "2024-01-02T03:04:05.678Z", "date": "2024-02-29",
                    "bytea": "00017f80ff", "uuid": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                    "array": [1, None, 3], "text": "grüße 世界", "bool": run % 2 == 0,
                    "int2": -7})

    def test_errors_and_metadata(self):
        got = run_case("errors")
        self.assertEqual(got, {"unique": "23505", "undefinedTable": "42P01", "syntax": "42601",
                               "division": ["20", "22012", "25", "22012", "10"],
                               "product": "PostgreSQL", "tableFound": True})


if __name__ == "__main__":
    unittest.main()
