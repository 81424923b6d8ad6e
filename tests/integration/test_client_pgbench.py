"""pgbench through the target: the built-in TPC-B-like and select-only scripts with every
query protocol (-M simple / extended / prepared) and several clients; afterwards the
bank's books must balance, not merely pgbench exit 0."""

import os
import re
import subprocess
import tempfile
import unittest

import client_target

T = None
SCALE = 1
ACCOUNTS = 100000 * SCALE
CLIENTS = 8
MODES = ("simple", "extended", "prepared")

# Select-only, but the answer is checked inside pgbench: a wrong row aborts the client
# (division by zero), which makes pgbench exit non-zero.
CHECKED_SELECT = """\
\\set aid random(1, 100000 * :scale)
SELECT aid AS got, abalance FROM pgbench_accounts WHERE aid = :aid \\gset
\\if :got <> :aid
SELECT 1 / 0;
\\endif
"""


def setUpModule():
    global T
    T = client_target.start("pgbench")
    unittest.addModuleCleanup(T.close)


def pgbench(*args, timeout=120):
    return subprocess.run(["pgbench", *args], capture_output=True, text=True, env=T.env(),
                          timeout=timeout)


def psql_rows(sql):
    r = subprocess.run(["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql],
                       capture_output=True, text=True, env=T.env(), timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"psql failed: {r.stderr}")
    return [tuple(line.split("|")) for line in r.stdout.splitlines()]


class PgbenchTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        r = pgbench("-i", "-s", str(SCALE), "-q")
        if r.returncode != 0:
            raise AssertionError(f"pgbench -i through {T.describe()} failed:\n{r.stderr}")
        fd, cls.checked_select = tempfile.mkstemp(suffix=".sql")
        with os.fdopen(fd, "w") as f:
            f.write(CHECKED_SELECT)
        cls.addClassCleanup(os.remove, cls.checked_select)

    def run_ok(self, *args, expected):
        r = pgbench(*args)
        self.assertEqual(r.returncode, 0, f"pgbench {' '.join(args)} via {T.describe()}:\n"
                                          f"{r.stdout}\n{r.stderr}")
        m = re.search(r"number of transactions actually processed: (\d+)/(\d+)", r.stdout)
        self.assertIsNotNone(m, r.stdout)
        self.assertEqual((int(m.group(1)), int(m.group(2))), (expected, expected))
        failed = re.search(r"number of failed transactions: (\d+)", r.stdout)
        self.assertEqual(int(failed.group(1)), 0, r.stdout)
        self.assertRegex(r.stdout, r"tps = [0-9.]+ \((without initial connection|including "
                         r"reconnection) time")
        return r.stdout

    def books(self):
        return psql_rows(
            "SELECT (SELECT count(*) FROM pgbench_history), "
            "(SELECT coalesce(sum(delta), 0) FROM pgbench_history), "
            "(SELECT sum(abalance) FROM pgbench_accounts), "
            "(SELECT sum(bbalance) FROM pgbench_branches), "
            "(SELECT sum(tbalance) FROM pgbench_tellers), "
            "(SELECT count(*) FROM pgbench_accounts)")[0]

    def test_initialised_tables(self):
        rows = psql_rows("SELECT (SELECT count(*) FROM pgbench_branches), "
                         "(SELECT count(*) FROM pgbench_tellers), "
                         "(SELECT count(*) FROM pgbench_accounts WHERE abalance = 0)")
        self.assertEqual(rows, [(str(SCALE), str(10 * SCALE), str(ACCOUNTS))])

    def check_tpcb(self, mode):
        per_client = 150
        history_before = int(self.books()[0])
        self.run_ok("-n", "-M", mode, "-c", str(CLIENTS), "-j", "2", "-t", str(per_client),
                    expected=CLIENTS * per_client)
        history, delta, abal, bbal, tbal, accounts = self.books()
        self.assertEqual(int(history) - history_before, CLIENTS * per_client)
        # Every transaction adds the same delta to one account, teller and branch and logs
        # it in history: all four sums agree.
        self.assertEqual(len({delta, abal, bbal, tbal}), 1, (delta, abal, bbal, tbal))
        self.assertEqual(int(accounts), ACCOUNTS)

    def check_select_only(self, mode):
        per_client = 400
        before = self.books()
        out = self.run_ok("-n", "-S", "-M", mode, "-c", str(CLIENTS), "-j", "2",
                          "-t", str(per_client), expected=CLIENTS * per_client)
        self.assertIn("<builtin: select only>", out)
        self.assertEqual(self.books(), before)        # read-only: nothing changed

    def check_select_answers(self, mode):
        per_client = 300
        out = self.run_ok("-n", "-M", mode, "-c", str(CLIENTS), "-j", "2",
                          "-t", str(per_client), "-f", self.checked_select,
                          expected=CLIENTS * per_client)
        self.assertIn(f"query mode: {mode}", out)

    def test_tpcb_simple(self):
        self.check_tpcb("simple")

    def test_tpcb_extended(self):
        self.check_tpcb("extended")

    def test_tpcb_prepared(self):
        self.check_tpcb("prepared")

    def test_select_only_simple(self):
        self.check_select_only("simple")

    def test_select_only_extended(self):
        self.check_select_only("extended")

    def test_select_only_prepared(self):
        self.check_select_only("prepared")

    def test_checked_select_answers_simple(self):
        self.check_select_answers("simple")

    def test_checked_select_answers_extended(self):
        self.check_select_answers("extended")

    def test_checked_select_answers_prepared(self):
        self.check_select_answers("prepared")

    def test_reconnect_per_transaction(self):
        # -C opens a new connection for every transaction: login (SCRAM) at a high rate.
        self.run_ok("-n", "-S", "-C", "-M", "extended", "-c", "4", "-j", "2", "-t", "50",
                    expected=200)


if __name__ == "__main__":
    unittest.main()
