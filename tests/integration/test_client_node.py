"""node-postgres (npm `pg`) through the target. The client program
tests/clients/node/client.js runs one case per invocation and prints what it saw as JSON;
the answers are asserted here."""

import json
import os
import subprocess
import unittest

import client_target

T = None
NODE_DIR = os.path.join(os.environ.get("SHARDGATE_SOURCE",
                                       os.path.join(os.path.dirname(__file__), "..", "..")),
                        "tests", "clients", "node")


def setUpModule():
    global T
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "pg")):
        raise RuntimeError(f"node-postgres is not installed: run `npm install` in {NODE_DIR} "
                           f"(scripts/deps.sh does)")
    T = client_target.start("node")
    unittest.addModuleCleanup(T.close)


def run_case(name):
    r = subprocess.run(["node", "client.js", name], cwd=NODE_DIR, capture_output=True,
                       text=True, env=T.env(), timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"node case {name} via {T.describe()} failed:\n{r.stderr}")
    return json.loads(r.stdout)


class NodePostgresTest(unittest.TestCase):

    def test_listen_notify(self):
        got = run_case("listen")
        self.assertEqual(got, {"channelsOk": True, "payloads": ["one", "two"]})

    def test_parameterized_query_types(self):
        got = run_case("params")
        self.assertEqual(got, {
            "i": 42, "big": "9007199254740993", "t": "héllo 'quoted' \\ 世界", "b": True,
            "j": {"a": [1, 2], "b": None}, "y": "000102ff",
            "ts": "2024-01-02T03:04:05.678Z", "n": "12345.678901234567890", "arr": [1, 2, 3],
            "nul": None, "f": 0.1, "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "d": 20240229,
            "rowCount": 1,
            "fields": ["i", "big", "t", "b", "j", "y", "ts", "n", "arr", "nul", "f", "u", "d"],
        })

    def test_named_prepared_statements_reused(self):
        got = run_case("named")
        self.assertEqual(got["sum"], sum(i + 1 for i in range(60)))
        self.assertEqual(got["labels"], ["row 0", "row 30", "row 57", None])
        self.assertEqual(got["count"], 20)

    def test_transactions(self):
        got = run_case("transactions")
        self.assertEqual(got, {"values": [2, 3], "failed": ["22012", "25P02"]})

    def test_errors_have_sqlstates_and_the_session_survives(self):
        got = run_case("errors")
        self.assertEqual(got["unique"]["code"], "23505")
        self.assertTrue(got["unique"]["constraint"].endswith("_pkey"), got["unique"])
        self.assertEqual(got["undefinedTable"]["code"], "42P01")
        self.assertIn('relation "no_such_table_here" does not exist',
                      got["undefinedTable"]["message"])
        self.assertEqual(got["syntax"]["code"], "42601")
        self.assertEqual(got["syntax"]["position"], "15")
        self.assertEqual(got["badInput"]["code"], "22P02")
        self.assertEqual(got["namedDivByZero"]["code"], "22012")
        self.assertEqual(got["namedOk"], 2)
        self.assertEqual(got["after"], 1)

    def test_several_statements_in_one_simple_query(self):
        got = run_case("multi")
        self.assertEqual(got["results"], [[{"a": 1}], [{"b": 2, "c": 3}],
                                          [{"g": 1}, {"g": 2}, {"g": 3}]])
        self.assertEqual(got["arrayRows"], 1000)
        self.assertEqual(got["sumSquares"], sum(g * g for g in range(1, 1001)))

    def test_notices(self):
        self.assertEqual(run_case("notice"), {"notices": ["NOTICE: hello 42",
                                                          "WARNING: careful"]})

    def test_pool_with_concurrent_queries_and_transactions(self):
        got = run_case("pool")
        self.assertEqual(got, {"doubledSum": 2 * sum(range(200)), "n": 50, "w": 10})


if __name__ == "__main__":
    unittest.main()
