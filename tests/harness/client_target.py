"""The one fixture of the real-client tests: where a driver connects.

By default: a 1-shard cluster with SCRAM auth and shardgate in front of it (transaction
pooling, a SCRAM client user whose server login has a *different* password, so the proxy's
own authentication is exercised). With SG_TARGET=direct the same tests connect straight to
the PostgreSQL shard instead, which validates the tests themselves without the proxy.

    def setUpModule():
        global T
        T = client_target.start("psql")
        unittest.addModuleCleanup(T.close)
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
                 log_path=None):
        self.mode = mode                   # "shardgate" or "direct"
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

    def describe(self):
        return f"{self.mode} {self.host}:{self.port} as {self.user}"

    def close(self):
        try:
            if self.proxy is not None:
                self.proxy.stop()
        finally:
            self.cluster.stop()


def mode():
    m = os.environ.get("SG_TARGET", "shardgate")
    if m not in ("shardgate", "direct"):
        raise ValueError(f"SG_TARGET must be 'shardgate' or 'direct', not {m!r}")
    return m


def start(name, pool_mode="transaction", pool_size=POOL_SIZE):
    """Starts the target for the test module `name` (its shardgate log is kept under
    $TMPDIR/shardgate-logs/<name>.log for post-mortems)."""
    m = mode()
    if m == "shardgate":
        shardgate_proc.shardgate_bin()      # fail fast, before starting PostgreSQL
    cluster = pgcluster.Cluster(1, auth="scram", password=SUPERUSER_PASSWORD, dbname=DBNAME,
                                roles={CLIENT_USER: SERVER_PASSWORD}, db_owner=CLIENT_USER)
    cluster.start()
    shard = cluster.shards[0]
    if m == "direct":
        return Target(m, shard.host, shard.port, CLIENT_USER, SERVER_PASSWORD, DBNAME,
                      cluster)
    try:
        port = pgcluster.free_port()
        config = pgcluster.write_shardgate_config(
            os.path.join(cluster.workdir, "shardgate.toml"), cluster,
            proxy={"port": port, "pool_mode": pool_mode, "pool_size": pool_size},
            users=[{"name": CLIENT_USER, "password": CLIENT_PASSWORD,
                    "auth": "scram-sha-256", "server_user": CLIENT_USER,
                    "server_password": SERVER_PASSWORD}])
        log_dir = os.path.join(tempfile.gettempdir(), "shardgate-logs")
        os.makedirs(log_dir, exist_ok=True)
        log_path = os.path.join(log_dir, f"{name}.log")
        open(log_path, "w").close()
        proxy = shardgate_proc.ShardgateProcess(config, port, log_path=log_path).start()
    except BaseException:
        cluster.stop()
        raise
    return Target(m, "127.0.0.1", port, CLIENT_USER, CLIENT_PASSWORD, DBNAME, cluster,
                  proxy, log_path)
