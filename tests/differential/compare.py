"""Running one statement on one side, and judging the proxy's answer against the oracle's.

Protocols:
  simple      the Query message with the literal spelling
  ext_text    Parse/Bind/Describe/Execute/Sync, constants as $n parameters in text format
              (some declared, some left for the server to infer), text results
  ext_binary  the same with every parameter that has a binary form sent in binary, and
              every result column asked for in binary
Verdicts (the proxy's answer against the oracle's):
  agree       same columns, type OIDs, typmods, formats, command tag and rows (in order when
              the ORDER BY determines it, else as multisets), or the same SQLSTATE
  refused     the proxy answered 0A000 (counted by construct, taken from its message)
  wrong       anything else where the proxy answered or failed differently
  other_error the proxy failed (not 0A000) where the oracle answered
  crash       the proxy's connection dropped or stopped answering
"""

import re
import socket

import pgwire
from pgwire import Stmt, WireConn
from values import bind_values

PROTOCOLS = ["simple", "ext_text", "ext_binary"]

# Session settings applied identically (by SET) to the oracle and the proxy connection.
PROFILES = {
    "default": [],
    "kolkata_sql_dmy": ["SET TimeZone = 'Asia/Kolkata'", "SET DateStyle = 'SQL, DMY'"],
    # DateStyle 'Postgres' alone keeps the session's current order (MDY unless changed)
    "kolkata_postgres": ["SET TimeZone = 'Asia/Kolkata'", "SET DateStyle = 'Postgres'"],
    # the same with the order spelled out (used when datestyle_partial is switched off)
    "kolkata_postgres_mdy": ["SET TimeZone = 'Asia/Kolkata'", "SET DateStyle = 'Postgres, MDY'"],
    "float_digits_0": ["SET extra_float_digits = 0"],
    "scs_off": ["SET standard_conforming_strings = off"],
}

STATEMENT_TIMEOUT_S = 20


class Outcome:
    """One side's answer: ok (columns, types, typmods, formats, rows, tag), error (sqlstate,
    message) or lost (the connection dropped or timed out: detail)."""

    def __init__(self, status, **kw):
        self.status = status
        self.__dict__.update(kw)

    def brief(self):
        if self.status == "ok":
            return (f"ok tag={self.tag!r} cols={self.columns} types={self.types} "
                    f"typmods={self.typmods} rows={len(self.rows)}: {self.rows[:6]!r}")
        if self.status == "error":
            return f"error {self.sqlstate}: {self.message}"
        return f"lost: {self.detail}"


def connect(port, user, dbname, profile):
    c = WireConn("127.0.0.1", port, timeout=STATEMENT_TIMEOUT_S)
    c.startup(user, dbname)
    for s in PROFILES[profile]:
        c.query(s)
    return c


def run(conn, case, protocol):
    """Runs `case` on `conn`; never raises for what the server does."""
    try:
        if protocol == "simple":
            rs = conn.query("; ".join(s for s, _ in case.statements(False)), raise_error=False)
        else:
            binary = protocol == "ext_binary"
            batch = []
            for sql, params in case.statements(True):
                values, types, formats = bind_values(params, binary)
                batch.append(Stmt(sql, values, types=types, formats=formats,
                                  result_formats=[1] if binary else []))
            rs = conn.batch(batch)
    except (socket.timeout, TimeoutError) as e:
        return Outcome("lost", detail=f"timeout: {e}")
    except (ConnectionError, OSError, ValueError, pgwire.PgError) as e:
        return Outcome("lost", detail=f"{type(e).__name__}: {e}")
    if not rs:
        return Outcome("ok", columns=[], types=[], typmods=[], formats=[], rows=[], tag=None)
    failed = [r for r in rs if r.error is not None]
    if failed:                    # a batch stops at its first error
        e = failed[0].error
        return Outcome("error", sqlstate=e.sqlstate, message=e.message)
    r = rs[-1]
    # a batch: every statement's tag, every row (the last statement's columns)
    return Outcome("ok", columns=r.columns, types=r.types, typmods=r.typmods,
                   formats=r.formats, rows=[row for x in rs for row in x.rows],
                   tag="; ".join(str(x.tag) for x in rs))


def construct_of(message):
    """The construct a refusal names: its message with names, strings and numbers blanked."""
    s = re.sub(r'"[^"]*"', '"…"', message)
    s = re.sub(r"'[^']*'", "'…'", s)
    s = re.sub(r"\$\d+", "$n", s)
    s = re.sub(r"\b\d+\b", "N", s)
    m = re.search(r"\buses (.+?), which", s)
    if m:                    # "... needs N shards and uses window function rank(), which ..."
        return "uses " + m.group(1)
    return s[:120]


def judge(case, want, got):
    """(verdict, reason, detail). reason is what the minimiser keeps stable."""
    if got.status == "lost":
        return "crash", "crash", got.detail
    if want.status == "error" and got.status == "error" and got.sqlstate == want.sqlstate:
        return "agree", "", ""        # also PostgreSQL's own 0A000 (LIKE under sg_ci)
    if got.status == "error" and got.sqlstate == "0A000":
        return "refused", construct_of(got.message), got.message
    if want.status == "error":
        return "wrong", "error-mismatch", f"oracle {want.brief()}\nproxy  {got.brief()}"
    if got.status == "error":
        return "other_error", got.sqlstate, f"oracle {want.brief()}\nproxy  {got.brief()}"
    for attr in ("columns", "types", "typmods", "formats", "tag"):
        if getattr(want, attr) != getattr(got, attr):
            return "wrong", attr, f"oracle {want.brief()}\nproxy  {got.brief()}"
    if case.ordered():
        same = want.rows == got.rows
    else:
        same = sorted(want.rows, key=repr) == sorted(got.rows, key=repr)
    if not same:
        return "wrong", "rows", f"oracle {want.brief()}\nproxy  {got.brief()}"
    return "agree", "", ""
