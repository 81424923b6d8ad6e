"""The one fixture of the real-client tests: where a driver connects.

By default: a 1-shard cluster with SCRAM auth and shardgate in front of it (transaction
pooling, a SCRAM client user whose server login has a *different* password, so the proxy's
own authentication is exercised). With SG_TARGET=direct the same tests connect straight to
the PostgreSQL shard instead, which validates the tests themselves without the proxy.

    def setUpModule():
        global T
        T = client_target.start("psql")
        unittest.addModuleCleanup(T.close)

The driver matrix (test_driver_*.py) asks for start_matrix() instead: 2 shards with the
`accounts` table sharded on id, and one proxy per pool mode (transaction, session) in front of
the same cluster; each Target then also reads rows straight from every shard (all_rows,
placement_errors, prepared_xacts) and knows which keys live on which shard
(keys_on_two_shards, by the spec's hash).
"""

import os
import tempfile

import pgcluster
import shardgate_proc

CLIENT_USER = "app"
CLIENT_PASSWORD = "client-secret"      # what clients present to shardgate
SERVER_PASSWORD = "server-secret"      # the role's password on the shard
SUPERUSER_PASSWORD = "super-secret"
DBNAME = "app"
POOL_SIZE = 20


class Target:
    """Connection parameters for clients plus the processes behind them."""

    def __init__(self, mode, host, port, user, password, dbname, cluster, proxy=None,
                 log_path=None, pool_mode="transaction", owns_cluster=True):
        self.mode = mode                   # "shardgate" or "direct"
        self.pool_mode = pool_mode         # of the proxy (informational in direct mode)
        self.owns_cluster = owns_cluster   # close() stops the cluster too
        self.cluster_shards = len(cluster.shards)
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.dbname = dbname
        self.cluster = cluster
        self.proxy = proxy
        self.log_path = log_path

    def env(self, **extra):
        """PG* variables for libpq programs (psql, pgbench) and node-postgres."""
        env = dict(os.environ, PGHOST=self.host, PGPORT=str(self.port), PGUSER=self.user,
                   PGPASSWORD=self.password, PGDATABASE=self.dbname, PGCONNECT_TIMEOUT="10",
                   PGAPPNAME="shardgate-client-test")
        for k in ("PGSERVICE", "PGSSLMODE", "PGOPTIONS"):
            env.pop(k, None)
        env.update(extra)
        return env

    def dsn(self, **params):
        parts = {"host": self.host, "port": self.port, "user": self.user,
                 "password": self.password, "dbname": self.dbname, "connect_timeout": 10,
                 **params}
        return " ".join(f"{k}={v}" for k, v in parts.items())

    def jdbc_url(self, **params):
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return f"jdbc:postgresql://{self.host}:{self.port}/{self.dbname}" + \
            (f"?{query}" if query else "")

    def shard_psql(self, sql):
        """Runs SQL directly on the shard as superuser (checks that bypass the proxy)."""
        return self.cluster.psql(0, sql)

    # -- several shards (start(..., shards=N)); in direct mode the one PostgreSQL is "s0" --

    @property
    def n_shards(self):
        return len(self.cluster.shards)

    def shard_rows(self, i, sql, params=None):
        """Rows of `sql` run straight on shard i as the superuser (psycopg2, autocommit; one
        connection per shard, kept until close())."""
        import sgfixture                   # psycopg2 and xxhash only where they are used
        conns = self.__dict__.setdefault("_shard_conns", {})
        if i not in conns:
            conns[i] = sgfixture.shard_conn(self.cluster, i)
        return sgfixture.shard_rows(conns[i], sql, params)

    def rows_by_shard(self, sql, params=None):
        """{shard index: rows of `sql` on that shard}, straight on every shard."""
        return {i: self.shard_rows(i, sql, params) for i in range(self.n_shards)}

    def all_rows(self, sql, params=None):
        """The rows of `sql` on every shard together, sorted (what one PostgreSQL holding
        every row would have)."""
        return sorted(r for rows in self.rows_by_shard(sql, params).values() for r in rows)

    def shard_of(self, key, key_type="bigint"):
        """The shard a key lives on by the spec's bucket hash (0 in direct mode)."""
        if self.mode == "direct":
            return 0
        import sgfixture
        return sgfixture.shard_of(key, key_type, self.cluster_shards)

    def keys_on_two_shards(self, count=2, start=1):
        """([count keys on s0], [count keys on s1]) by the spec's hash; in direct mode (one
        PostgreSQL) odd and even keys stand in. A transaction over one key of each list spans
        two shards through the proxy."""
        found = ([], [])
        k = start
        while len(found[0]) < count or len(found[1]) < count:
            s = k % 2 if self.mode == "direct" else self.shard_of(k)
            if s < 2 and len(found[s]) < count:
                found[s].append(k)
            k += 1
        return found

    def prepared_xacts(self):
        """gids of prepared transactions left on any shard (2PC must leave none)."""
        return [g for i in range(self.n_shards)
                for (g,) in self.shard_rows(i, "SELECT gid FROM pg_prepared_xacts")]

    def placement_errors(self, table, key="id", key_type="bigint"):
        """Rows of `table` on a shard other than the one their key hashes to (by the spec's
        hash, not the proxy's code): must be empty."""
        if self.mode == "direct":
            return []
        wrong = []
        for i, rows in self.rows_by_shard(f"SELECT {key} FROM {table}").items():
            wrong += [(k, i) for (k,) in rows if self.shard_of(k, key_type) != i]
        return wrong

    def describe(self):
        return f"{self.mode} {self.host}:{self.port} as {self.user}"

    def close(self):
        for c in self.__dict__.pop("_shard_conns", {}).values():
            c.close()
        try:
            if self.proxy is not None:
                self.proxy.stop()
        finally:
            if self.owns_cluster:
                self.cluster.stop()


def mode():
    m = os.environ.get("SG_TARGET", "shardgate")
    if m not in ("shardgate", "direct"):
        raise ValueError(f"SG_TARGET must be 'shardgate' or 'direct', not {m!r}")
    return m


def _cluster(shards):
    cluster = pgcluster.Cluster(shards, auth="scram", password=SUPERUSER_PASSWORD,
                                dbname=DBNAME, roles={CLIENT_USER: SERVER_PASSWORD},
                                db_owner=CLIENT_USER)
    cluster.start()
    return cluster


def _proxy(name, cluster, pool_mode, pool_size, tables):
    """shardgate in front of `cluster` for CLIENT_USER (SCRAM, its own password)."""
    port = pgcluster.free_port()
    config = pgcluster.write_shardgate_config(
        os.path.join(cluster.workdir, f"shardgate-{name}.toml"), cluster,
        proxy={"port": port, "pool_mode": pool_mode, "pool_size": pool_size},
        tables=tables,
        users=[{"name": CLIENT_USER, "password": CLIENT_PASSWORD,
                "auth": "scram-sha-256", "server_user": CLIENT_USER,
                "server_password": SERVER_PASSWORD}])
    log_dir = os.path.join(tempfile.gettempdir(), "shardgate-logs")
    os.makedirs(log_dir, exist_ok=True)
    log_path = os.path.join(log_dir, f"{name}.log")
    open(log_path, "w").close()
    proxy = shardgate_proc.ShardgateProcess(config, port, log_path=log_path).start()
    return port, proxy, log_path


def start(name, pool_mode="transaction", pool_size=POOL_SIZE):
    """Starts the target for the test module `name` (its shardgate log is kept under
    $TMPDIR/shardgate-logs/<name>.log for post-mortems)."""
    m = mode()
    if m == "shardgate":
        shardgate_proc.shardgate_bin()      # fail fast, before starting PostgreSQL
    cluster = _cluster(1)
    shard = cluster.shards[0]
    if m == "direct":
        return Target(m, shard.host, shard.port, CLIENT_USER, SERVER_PASSWORD, DBNAME,
                      cluster)
    try:
        port, proxy, log_path = _proxy(name, cluster, pool_mode, pool_size, ())
    except BaseException:
        cluster.stop()
        raise
    return Target(m, "127.0.0.1", port, CLIENT_USER, CLIENT_PASSWORD, DBNAME, cluster,
                  proxy, log_path, pool_mode)


# The driver suite's sharded table: every driver creates it through the proxy (DDL reaches
# every shard) and checks its rows straight on the shards.
ACCOUNTS = {"name": "accounts", "kind": "sharded", "shard_key": "id", "key_type": "bigint"}
ACCOUNTS_DDL = ("CREATE TABLE accounts (id bigint PRIMARY KEY, owner text NOT NULL, "
                "balance bigint NOT NULL DEFAULT 0)")
POOL_MODES = ("transaction", "session")


class Matrix:
    """One cluster of `shards` shards with one proxy per pool mode in front of it (same
    config but the pool mode): targets[pool_mode] -> Target. Tests of both modes share the
    cluster, so each test (re)creates what it uses. In direct mode both targets are the one
    PostgreSQL."""

    def __init__(self, cluster, targets):
        self.cluster = cluster
        self.targets = targets

    def close(self):
        try:
            for t in self.targets.values():
                t.close()
        finally:
            self.cluster.stop()


# Session pooling keeps a server connection per client: room for a driver's 24 concurrent
# clients plus its main connection.
MATRIX_POOL_SIZE = 32


def start_matrix(name, shards=2, tables=(ACCOUNTS,), pool_size=MATRIX_POOL_SIZE,
                 pool_modes=POOL_MODES):
    """A sharded target per pool mode for the driver module `name` (logs under
    $TMPDIR/shardgate-logs/<name>-<pool mode>.log). `tables` are [[tables]] entries."""
    m = mode()
    if m == "shardgate":
        shardgate_proc.shardgate_bin()
    cluster = _cluster(1 if m == "direct" else shards)
    targets = {}
    try:
        for pm in pool_modes:
            if m == "direct":
                s = cluster.shards[0]
                targets[pm] = Target(m, s.host, s.port, CLIENT_USER, SERVER_PASSWORD,
                                     DBNAME, cluster, pool_mode=pm, owns_cluster=False)
                continue
            port, proxy, log_path = _proxy(f"{name}-{pm}", cluster, pm, pool_size, tables)
            targets[pm] = Target(m, "127.0.0.1", port, CLIENT_USER, CLIENT_PASSWORD, DBNAME,
                                 cluster, proxy, log_path, pm, owns_cluster=False)
    except BaseException:
        Matrix(cluster, targets).close()
        raise
    return Matrix(cluster, targets)
