"""An Execute with a row limit (asyncpg's fetchrow/fetchval, a driver's fetch size) of a
statement combined across 2 shards, at the wire level: the combined rows are cut at the limit
and the portal reported suspended, as PostgreSQL does; inside a transaction a later Execute of
that suspended unnamed portal (which would need the rest) is refused with 0A000, where one
PostgreSQL would go on. SG_TARGET=direct runs the same against one PostgreSQL."""

import struct
import unittest

import client_target
import pgwire

M = None
KEYS = list(range(1, 9))


def setUpModule():
    global M
    M = client_target.start_matrix("merged_portal_limits", pool_modes=("transaction",))
    unittest.addModuleCleanup(M.close)
    T = M.targets["transaction"]
    with connect(T) as c:
        c.query("DROP TABLE IF EXISTS accounts")
        c.query(client_target.ACCOUNTS_DDL)
        c.query("INSERT INTO accounts (id, owner) VALUES " +
                ", ".join(f"({k}, 'o')" for k in KEYS))


def connect(T):
    c = pgwire.WireConn(T.host, T.port)
    c.startup(T.user, T.dbname, password=T.password)
    return c


def bind_execute(sql, max_rows, parse=True):
    out = b""
    if parse:
        out += pgwire.frame("P", b"\0" + sql.encode() + b"\0" + struct.pack(">h", 0))
    out += pgwire.frame("B", b"\0\0" + struct.pack(">hhh", 0, 0, 0))
    out += pgwire.frame("D", b"P\0")
    return out + execute(max_rows)


def execute(max_rows):
    return pgwire.frame("E", b"\0" + struct.pack(">i", max_rows))


def exchange(c, frames):
    """Sends frames + Sync; returns (message types, DataRow values, error or None) and keeps
    the transaction status of the ReadyForQuery in c.tx_status."""
    c.send_raw(frames + pgwire.frame("S"))
    types, rows, error = [], [], None
    while True:
        t, p = c.recv_msg()
        types.append(t)
        if t == "D":
            rows.append(int(pgwire._data_row(p, [0])[0]))
        elif t == "E":
            error = pgwire.parse_error_fields(p)
        elif t == "Z":
            c.tx_status = p.decode()
            return types, rows, error


class MergedPortalLimits(unittest.TestCase):

    def setUp(self):
        self.T = M.targets["transaction"]
        self.c = connect(self.T)
        self.addCleanup(self.c.close)

    def test_row_limit_cuts_the_combined_rows_and_suspends(self):
        types, rows, error = exchange(self.c, bind_execute("SELECT id FROM accounts ORDER BY id", 3))
        self.assertIsNone(error)
        self.assertEqual(rows, KEYS[:3])
        self.assertIn("s", types)           # PortalSuspended, not CommandComplete
        self.assertNotIn("C", types)
        # A limit above the row count: every row and CommandComplete.
        types, rows, error = exchange(self.c, bind_execute("SELECT count(*) FROM accounts", 5))
        self.assertEqual((rows, error), ([len(KEYS)], None))
        self.assertIn("C", types)

    def test_suspended_portal_in_a_transaction_then_execute_again(self):
        self.c.query("BEGIN")
        types, rows, error = exchange(self.c, bind_execute("SELECT id FROM accounts ORDER BY id", 2))
        self.assertEqual((rows, error), (KEYS[:2], None))
        types, rows, error = exchange(self.c, execute(0))      # the rest of the portal
        if self.T.mode == "direct":
            self.assertEqual((rows, error), (KEYS[2:], None))
        else:
            # Expected refusal: the combined portal's rest cannot be fetched; the
            # transaction is failed, as after any error.
            self.assertEqual(error["C"], "0A000", error)
            self.assertIn("read whole", error["M"])
            self.assertEqual(self.c.tx_status, "E")
        self.c.query("ROLLBACK")
        # A new Bind replaces the unnamed portal: answered again.
        self.c.query("BEGIN")
        exchange(self.c, bind_execute("SELECT id FROM accounts ORDER BY id", 2))
        types, rows, error = exchange(self.c, bind_execute("SELECT id FROM accounts ORDER BY id", 0))
        self.assertEqual((rows, error), (KEYS, None))
        self.c.query("COMMIT")


if __name__ == "__main__":
    unittest.main()
