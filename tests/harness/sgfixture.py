"""shardgate in front of a throwaway cluster, for the routing and proxy integration tests.

    cluster = pgcluster.Cluster(4).start()
    sg = Proxy(cluster, "routing", tables=[...], proxy={"pool_size": 4}).start()
    conn = sg.connect()                        # psycopg2 through the proxy
    sg.admin("SHOW POOLS")                     # -> list of dicts
    shard_conn(cluster, 2)                     # psycopg2 straight to shard s2 (autocommit)
    sg.stop()

Placement by the normative bucket hash of /work/shared/design/architecture.md, computed
here independently of the proxy: shard_of(value, key_type, n_shards, bits).

The proxy log of each Proxy is kept in $TMPDIR/shardgate-logs/<name>.log for post-mortems.
"""

import os
import select
import socket
import threading
import struct
import tempfile
import unittest
import uuid as uuid_mod

import psycopg2
import psycopg2.extensions
import xxhash

import pgcluster
import shardgate_proc

INT_TYPES = ("smallint", "integer", "bigint")
TEXT_TYPES = ("text", "varchar")


# ---------------------------------------------------------------------------------------------
# The bucket hash, straight from the spec (not from the proxy's code).

def canonical_bytes(value, key_type):
    if value is None:
        return None
    if key_type in INT_TYPES:
        return struct.pack("<q", int(value))
    if key_type in TEXT_TYPES:
        return str(value).encode("utf-8")
    if key_type == "uuid":
        u = value if isinstance(value, uuid_mod.UUID) else uuid_mod.UUID(str(value))
        return u.bytes                       # RFC 4122 byte order (big-endian)
    raise ValueError(f"unknown key type {key_type!r}")


def key_hash(value, key_type):
    return xxhash.xxh3_64_intdigest(canonical_bytes(value, key_type))


def bucket_of(value, key_type, bits=12):
    if value is None:
        return 0                              # a NULL key lands in bucket 0
    return key_hash(value, key_type) & ((1 << bits) - 1)


def shard_of(value, key_type, n_shards=4, bits=12):
    """The default map: map[b] = b mod N."""
    return bucket_of(value, key_type, bits) % n_shards


def keys_on_distinct_shards(key_type, n_shards=4, start=1, make=None):
    """One key per shard: [k0 on s0, k1 on s1, ...] (ints from `start`, or make(i))."""
    found = {}
    i = start
    while len(found) < n_shards:
        k = make(i) if make else i
        found.setdefault(shard_of(k, key_type, n_shards), k)
        i += 1
    return [found[s] for s in range(n_shards)]


# ---------------------------------------------------------------------------------------------

def shard_conn(cluster, i, **kw):
    """psycopg2 straight to shard i as the superuser, autocommit; bounded lock and statement
    waits, so a lock leaked by the proxy fails a test instead of hanging it."""
    c = psycopg2.connect(cluster.dsn(i), options="-c lock_timeout=10000 "
                                                 "-c statement_timeout=60000", **kw)
    c.autocommit = True
    return c


def shard_rows(conn, sql, params=None):
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall() if cur.description else []


def log_dir():
    d = os.path.join(tempfile.gettempdir(), "shardgate-logs")
    os.makedirs(d, exist_ok=True)
    return d


class Proxy:
    """One shardgate process with its own config file in the cluster's work directory."""

    def __init__(self, cluster, name, proxy=None, tables=(), users=None, sharding=None,
                 admin=None, stats=None, shards=None, user="postgres", password=None, health=None,
                 cluster_section=None, extra_toml="", replicas=True):
        self.cluster = cluster
        self.replicas = replicas  # list the cluster's standbys (add_replica) in [[shards]]
        self.extra_toml = extra_toml  # appended verbatim (sections the helper has no keys for)
        self.name = name
        self.proxy_keys = dict(proxy or {})
        self.tables = list(tables)
        self.users = users
        self.sharding = sharding
        self.admin_keys = admin if admin is not None else {"http_listen": ""}
        self.stats = stats
        self.health = health
        self.cluster_section = cluster_section   # [cluster] keys (etcd), or None
        self.shards = shards
        self.user = user
        self.password = password
        self.port = pgcluster.free_port()
        self.config_path = os.path.join(cluster.workdir, f"{name}.toml")
        self.log_path = os.path.join(log_dir(), f"{name}.log")
        self.proc = None

    def write_config(self, **proxy_changes):
        self.proxy_keys.update(proxy_changes)
        users = self.users
        if users is None:
            users = [{"name": "postgres", "password": "", "auth": "trust", "admin": True}]
        pgcluster.write_shardgate_config(
            self.config_path, self.cluster, proxy={"port": self.port, **self.proxy_keys},
            admin=self.admin_keys, stats=self.stats, health=self.health, sharding=self.sharding,
            tables=self.tables, users=users, shards=self.shards, cluster_section=self.cluster_section,
            replicas=self.replicas)
        if self.extra_toml:
            with open(self.config_path, "a") as f:
                f.write("\n" + self.extra_toml + "\n")
        return self.config_path

    def start(self):
        shardgate_proc.shardgate_bin()
        self.write_config()
        open(self.log_path, "w").close()
        self.proc = shardgate_proc.ShardgateProcess(self.config_path, self.port,
                                                    log_path=self.log_path).start()
        return self

    def stop(self):
        if self.proc is not None:
            p, self.proc = self.proc, None
            return p.stop()
        return None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.proc is not None and \
            self.proc.proc.poll() is None

    def log_tail(self, n=40):
        return pgcluster.log_tail(self.log_path, n)

    def rss_kib(self):
        return self.proc.rss_kib()

    # -- clients ---------------------------------------------------------------------------

    def dsn(self, user=None, password=None, dbname=None, **params):
        parts = {"host": "127.0.0.1", "port": self.port, "user": user or self.user,
                 "dbname": dbname or self.cluster.dbname, "connect_timeout": 10,
                 "sslmode": "disable", **params}
        pw = password if password is not None else self.password
        if pw:
            parts["password"] = pw
        return " ".join(f"{k}={v}" for k, v in parts.items())

    def connect(self, autocommit=False, **params):
        c = psycopg2.connect(self.dsn(**params))
        c.autocommit = autocommit
        return c

    def admin_connect(self, user=None, password=None):
        c = psycopg2.connect(self.dsn(user=user, password=password, dbname="shardgate"))
        c.autocommit = True
        return c

    def admin(self, sql, conn=None):
        """Runs an admin console command; returns its rows as dicts (column -> value)."""
        own = conn is None
        conn = conn or self.admin_connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                if cur.description is None:
                    return []
                cols = [d[0] for d in cur.description]
                return [dict(zip(cols, r)) for r in cur.fetchall()]
        finally:
            if own:
                conn.close()


def start_pool_mode_proxies(cluster, name, tables, transaction, session):
    """A proxy over `cluster` in each pool mode, for a setUpModule that checks both against one
    plain PostgreSQL: {"transaction": Proxy, "session": Proxy}, started in that order, named
    <name>_transaction and <name>_session, each stopped by a module cleanup.
    `transaction` / `session`: that proxy's [proxy] keys besides pool_mode."""
    proxies = {}
    for mode, keys in (("transaction", transaction), ("session", session)):
        p = Proxy(cluster, f"{name}_{mode}", tables=tables, proxy={"pool_mode": mode, **keys}).start()
        unittest.addModuleCleanup(p.stop)
        proxies[mode] = p
    return proxies


def direct_connect(cluster, shard=0):
    """connect(autocommit=False) straight to one shard (shard_conn's bounded waits): the plain
    PostgreSQL that a test compares the proxy's answers with."""
    def connect(autocommit=False):
        c = shard_conn(cluster, shard)
        c.autocommit = autocommit
        return c
    return connect


def wait_readable(conn_or_sock, timeout):
    """True when the peer sends something unsolicited or closes (the descriptor of a psycopg2
    connection or a socket becomes readable) within `timeout` seconds."""
    r, _, _ = select.select([conn_or_sock.fileno()], [], [], timeout)
    return bool(r)


class Deadline:
    """Bounds a blocking psycopg2 call: when `seconds` pass first, the connection's socket is
    shut down (so libpq returns with an error) and TimeoutError is raised from the block.

        with Deadline(conn, 20, "COPY into items"):
            cur.copy_expert(...)
    """

    def __init__(self, conn, seconds, what="the statement"):
        self.conn = conn
        self.seconds = seconds
        self.what = what
        self.fired = False
        self.timer = None

    def _fire(self):
        self.fired = True
        try:
            s = socket.socket(fileno=os.dup(self.conn.fileno()))
            try:
                s.shutdown(socket.SHUT_RDWR)
            finally:
                s.close()
        except OSError:
            pass

    def __enter__(self):
        self.timer = threading.Timer(self.seconds, self._fire)
        self.timer.daemon = True
        self.timer.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        self.timer.cancel()
        if self.fired:
            raise TimeoutError(f"no answer from the proxy within {self.seconds}s for "
                               f"{self.what}") from exc
        return False
