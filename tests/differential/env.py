"""The two sides of the comparison: an oracle PostgreSQL 15 holding every row, and shardgate
in front of 4 PostgreSQL 15 shards, both started by the project's harness.

Setup sends the same DDL to both (through the proxy: DDL reaches every shard) and loads the
same rows (through the proxy, and straight into the oracle), then checks the placement.
After each write, check_table() compares a table's full contents on both sides, read straight
from the shards, and checks that every row sits on the shard its bucket maps to (sgfixture's
shard_of: the normative hash computed in Python, independently of the proxy). restore()
rewrites a table on both sides from given rows, straight into each shard, so a divergence
found by one statement does not spill into the next ones.
"""

import os

import psycopg2
import psycopg2.extras

import dataset
import pgcluster
import shardgate_proc
from sgfixture import Proxy, shard_conn, shard_of

N_SHARDS = 4
ORACLE = N_SHARDS                 # cluster index of the oracle PostgreSQL

FUNCTIONS = [
    "CREATE FUNCTION sg_count_int() RETURNS bigint LANGUAGE sql STABLE "
    "AS 'SELECT count(*) FROM t_int'",
]

psycopg2.extras.register_uuid()


class SetupError(RuntimeError):
    pass


class Env:
    def __init__(self, name="differential"):
        self.name = name
        self.cluster = None
        self.proxy = None
        self.shards = []
        self.oracle = None
        self.rows = dataset.build_rows()
        self.unavailable = {}         # optional table -> the proxy's refusal of its DDL

    def start(self):
        # a long fuzz run is meant to run niced on a busy machine: give the servers time
        pgcluster.START_TIMEOUT_S = max(pgcluster.START_TIMEOUT_S, 300)
        shardgate_proc.START_TIMEOUT_S = max(shardgate_proc.START_TIMEOUT_S, 120)
        self.cluster = pgcluster.Cluster(N_SHARDS + 1).start()
        try:
            self.proxy = Proxy(self.cluster, self.name, tables=dataset.TABLES,
                               shards=list(range(N_SHARDS)),
                               proxy={"pool_size": 6, "pool_timeout_ms": 10000}).start()
            self.shards = [shard_conn(self.cluster, i) for i in range(N_SHARDS)]
            self.oracle = shard_conn(self.cluster, ORACLE)
            self._create()
            self._load()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        for c in self.shards + ([self.oracle] if self.oracle else []):
            try:
                c.close()
            except psycopg2.Error:
                pass
        self.shards, self.oracle = [], None
        if self.proxy is not None:
            self.proxy.stop()
            self.proxy = None
        if self.cluster is not None:
            self.cluster.stop()
            self.cluster = None

    def renice(self, niceness):
        """Lowers the priority of this process, the servers and the proxy (and the server
        backends forked so far; later ones inherit it from their postmaster), after a setup
        that ran at normal priority: a long run then takes only what the machine spares."""
        pids = {os.getpid(), self.proxy.pid} | {s.pid for s in self.cluster.shards}
        pids.discard(None)
        for pid in list(pids):
            pids |= _children(pid)
        for pid in pids:
            try:
                os.setpriority(os.PRIO_PROCESS, pid, niceness)
            except (ProcessLookupError, PermissionError):
                pass

    def restart_proxy(self):
        """After a crash: a fresh proxy process on the same shards."""
        try:
            self.proxy.stop()
        except Exception:              # noqa: BLE001 - it may be dead already
            pass
        self.proxy.start()

    # -- setup ---------------------------------------------------------------------------

    @property
    def tables(self):
        """The tables both sides hold."""
        return [t for t in dataset.SCHEMA if t not in self.unavailable]

    def _create(self):
        for c in self.shards + [self.oracle]:
            with c.cursor() as cur:
                cur.execute(dataset.CI_COLLATION)
        pc = self.proxy.connect(autocommit=True)
        try:
            with pc.cursor() as cur:
                for ddl in dataset.DDL + FUNCTIONS:
                    cur.execute(ddl)
            for table, ddl in dataset.OPTIONAL_DDL.items():
                try:
                    with pc.cursor() as cur:
                        cur.execute(ddl)
                except psycopg2.Error as e:
                    if e.pgcode != "0A000":
                        raise
                    self.unavailable[table] = e.diag.message_primary
                    del self.rows[table]
        finally:
            pc.close()
        with self.oracle.cursor() as cur:
            for ddl in dataset.DDL + FUNCTIONS + [d for t, d in dataset.OPTIONAL_DDL.items()
                                                  if t not in self.unavailable]:
                cur.execute(ddl)
        problem = self.catalog_problem()
        if problem:
            raise SetupError(f"DDL through the proxy: {problem}")

    def _load(self):
        pc = self.proxy.connect(autocommit=True)
        try:
            for table, rows in self.rows.items():
                if not rows:
                    continue
                cols = dataset.SCHEMA[table][0]
                sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES %s"
                with pc.cursor() as cur:
                    psycopg2.extras.execute_values(cur, sql, rows, page_size=50)
                with self.oracle.cursor() as cur:
                    psycopg2.extras.execute_values(cur, sql, rows, page_size=50)
        finally:
            pc.close()
        for table in self.tables:
            problem = self.check_table(table)
            if problem:
                raise SetupError(f"loading through the proxy: {problem}")

    # -- checks --------------------------------------------------------------------------

    def table_rows(self, conn, table):
        with conn.cursor() as cur:
            cur.execute(f"SELECT * FROM {table}")
            return cur.fetchall()

    def check_table(self, table):
        """None when `table` holds the same rows on both sides, each row on its shard;
        otherwise a description of the first difference."""
        cols, key, kind = dataset.SCHEMA[table]
        want = sorted(map(repr, self.table_rows(self.oracle, table)))
        if kind == "unlisted":                  # exists on the default shard only
            if sorted(map(repr, self.table_rows(self.shards[0], table))) != want:
                return f"unlisted table {table} on s0 differs from the oracle"
            return None
        per_shard = [self.table_rows(s, table) for s in self.shards]
        if kind == "reference":
            for i, rows in enumerate(per_shard):
                if sorted(map(repr, rows)) != want:
                    return f"reference table {table} on s{i} differs from the oracle"
            return None
        ki = cols.index(key)
        got = []
        for i, rows in enumerate(per_shard):
            for r in rows:
                s = shard_of(r[ki], kind, N_SHARDS)
                if s != i:
                    return f"{table} row {r!r} is on s{i}; its bucket maps to s{s}"
            got += rows
        got = sorted(map(repr, got))
        if got != want:
            extra = sorted(set(got) - set(want))[:3]
            missing = sorted(set(want) - set(got))[:3]
            return (f"{table}: {len(got)} rows on the shards, {len(want)} on the oracle; "
                    f"extra {extra}, missing {missing}")
        return None

    def catalog_problem(self):
        """None when every shard has the oracle's tables and indexes (after DDL); unlisted
        tables (u_*) and their indexes only on the default shard s0."""
        want_all = _catalog(self.oracle)
        for i, s in enumerate(self.shards):
            got = _catalog(s)
            want = want_all if i == 0 else [r for r in want_all if not _unlisted(r[1])]
            if got != want:
                return f"s{i} catalog {sorted(set(got) ^ set(want))[:4]} differs from the oracle"
        return None

    def snapshot(self, table):
        return self.table_rows(self.oracle, table)

    def restore(self, table, rows):
        """Both sides hold exactly `rows` in `table`, each shard its own (written directly)."""
        cols, key, kind = dataset.SCHEMA[table]
        sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES %s"
        targets = [(self.oracle, rows)]
        if kind == "reference":
            targets += [(s, rows) for s in self.shards]
        elif kind == "unlisted":
            targets.append((self.shards[0], rows))
        else:
            ki = cols.index(key)
            for i, s in enumerate(self.shards):
                targets.append((s, [r for r in rows if shard_of(r[ki], kind, N_SHARDS) == i]))
        for conn, part in targets:
            with conn.cursor() as cur:
                cur.execute(f"TRUNCATE {table}")
                if part:
                    psycopg2.extras.execute_values(cur, sql, part, page_size=100)

    def reset_all(self):
        """Every table back to the initial rows (keeps long runs from draining tables)."""
        for table, rows in self.rows.items():
            self.restore(table, rows)


def _children(pid):
    """PIDs whose parent is `pid` (from /proc)."""
    out = set()
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.add(int(d))
            except (OSError, ValueError, IndexError):
                pass
    return out


def _unlisted(name):
    return name.startswith("u_") or name.startswith("sgx_u_")


def _catalog(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT 't', tablename FROM pg_tables WHERE schemaname = 'public' "
                    "UNION ALL SELECT 'i', indexname FROM pg_indexes WHERE schemaname = 'public'")
        return sorted(cur.fetchall())
