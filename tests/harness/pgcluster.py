#!/usr/bin/python3
"""Throwaway PostgreSQL 15 shards on loopback ports: the one cluster fixture of shardgate.

Used by the demo (CLI below), the integration tests and the benchmarks. Stdlib only.

    with Cluster(4, auth="scram", password="secret") as c:
        c.psql(0, "select 1")          # -> [("1",)]
        write_shardgate_config(path, c, proxy={"port": 6543})

Invariants:
- Servers always stop: Cluster is a context manager, every started cluster is also stopped
  by atexit and by SIGTERM/SIGINT handlers, and an attached server (a direct child of this
  process) gets PR_SET_PDEATHSIG so even a SIGKILLed harness does not leak it.
- PostgreSQL refuses to run as root, so as root every server program (initdb, postgres) runs
  as the `postgres` user, and the work directory is handed to that user.
- Every wait is bounded; a server that dies while starting is reported with its log tail.

CLI (detached clusters that outlive the command, used by the demo):
    /usr/bin/python3 tests/harness/pgcluster.py start --shards 4 --dir DIR [--auth scram --password P]
    /usr/bin/python3 tests/harness/pgcluster.py status --dir DIR
    /usr/bin/python3 tests/harness/pgcluster.py stop --dir DIR
"""

import argparse
import atexit
import concurrent.futures
import ctypes
import faulthandler
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import weakref

PG_BIN = os.environ.get("SG_PG_BIN", "/usr/lib/postgresql/15/bin")
SERVER_USER = "postgres"          # the OS user servers run as when we are root
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 30
PSQL_TIMEOUT_S = 120

# Settings every shard gets. Logical replication and prepared transactions are needed by the
# rebalancer; durability is traded for speed because the data is thrown away.
SERVER_SETTINGS = {
    "wal_level": "logical",
    "max_prepared_transactions": "64",
    "max_wal_senders": "20",
    "max_replication_slots": "20",
    "max_connections": "200",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "listen_addresses": "127.0.0.1",
}

AUTH_METHODS = {"trust": "trust", "scram": "scram-sha-256"}


class ClusterError(RuntimeError):
    pass


# ---------------------------------------------------------------------------------------------
# Small helpers shared with shardgate_proc.py and the benchmarks.

def free_port():
    """A loopback TCP port nobody listens on right now (the caller must tolerate a race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_accepts(host, port, timeout=0.5):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def log_tail(path, n=30):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
        return "\n".join(lines[-n:])
    except OSError as e:
        return f"(no log: {e})"


_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def child_setup(pdeathsig=None):
    """A preexec_fn: dies with this process (PR_SET_PDEATHSIG), if asked.

    Runs in the child after Popen's user/group change: the kernel clears the parent-death
    signal on credential changes, so it must be set after dropping privileges. The signal is
    tied to the thread that forked, so clusters must be started from a long-lived thread."""
    parent = os.getpid()      # evaluated here, in the parent

    def setup():
        if pdeathsig is not None:
            _libc.prctl(_PR_SET_PDEATHSIG, int(pdeathsig), 0, 0, 0)
            if os.getppid() != parent:     # the parent died before prctl took effect
                os._exit(1)
    return setup


def _run_as_server_user():
    """Popen keyword arguments that run a program as the postgres user when we are root."""
    if os.geteuid() != 0:
        return {}
    pw = pwd.getpwnam(SERVER_USER)
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}


def _chown_to_server_user(path):
    if os.geteuid() == 0:
        pw = pwd.getpwnam(SERVER_USER)
        os.chown(path, pw.pw_uid, pw.pw_gid)


def _pid_alive(pid):
    """True while `pid` exists and is not a zombie (a zombie has already stopped serving)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return False


# ---------------------------------------------------------------------------------------------

class Shard:
    """One PostgreSQL server: name 's0'.., host, port, datadir; pid while running."""

    def __init__(self, name, port, datadir, host="127.0.0.1"):
        self.name = name
        self.host = host
        self.port = port
        self.datadir = datadir
        self.pid = None
        self._proc = None          # Popen when the server is our child

    @property
    def logfile(self):
        return os.path.join(os.path.dirname(self.datadir), f"{self.name}.log")

    @property
    def running(self):
        if self._proc is not None:
            return self._proc.poll() is None
        return self.pid is not None and _pid_alive(self.pid)

    def __repr__(self):
        return f"Shard({self.name} {self.host}:{self.port} pid={self.pid})"


_live_clusters = weakref.WeakSet()
_handlers_installed = False
_handlers_lock = threading.Lock()


def _stop_all_live():
    for c in list(_live_clusters):
        try:
            c.stop()
        except Exception as e:                       # keep stopping the others
            print(f"pgcluster: stopping {c.workdir} failed: {e}", file=sys.stderr)


def _on_signal(signum, frame, previous):
    _stop_all_live()
    if callable(previous):
        previous(signum, frame)
    else:
        # Default action (terminate) once the servers are gone.
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def _install_cleanup_handlers():
    global _handlers_installed
    with _handlers_lock:
        if _handlers_installed:
            return
        _handlers_installed = True
        atexit.register(_stop_all_live)
        if threading.current_thread() is not threading.main_thread():
            return                       # signal handlers can only be set from the main thread
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(sig)
            if previous is signal.SIG_IGN:
                continue
            signal.signal(sig, lambda s, f, p=previous: _on_signal(s, f, p))


class Cluster:
    """N PostgreSQL 15 shards, each in its own data directory under `workdir`.

    auth: 'trust' or 'scram' (SCRAM-SHA-256 for every connection, superuser `superuser` with
    `password`). roles: {name: password} LOGIN roles created on every shard; db_owner: the role
    that owns database `dbname` (default: the superuser). detached: servers are not our
    children and outlive this process (the CLI); no parent-death signal then.
    """

    def __init__(self, n, auth="trust", password=None, dbname="app", workdir=None,
                 superuser="postgres", roles=None, db_owner=None, settings=None,
                 detached=False, keep_data=False):
        if auth not in AUTH_METHODS:
            raise ValueError(f"auth must be one of {sorted(AUTH_METHODS)}, not {auth!r}")
        if auth == "scram" and not password:
            raise ValueError("auth='scram' needs a superuser password")
        self.n = n
        self.auth = auth
        self.password = password
        self.dbname = dbname
        self.superuser = superuser
        self.roles = dict(roles or {})
        self.db_owner = db_owner or superuser
        self.settings = {**SERVER_SETTINGS, **(settings or {})}
        self.detached = detached
        self.keep_data = keep_data
        self._own_workdir = workdir is None
        self.workdir = os.path.abspath(workdir) if workdir else None
        self.shards = []
        self.replicas = {}          # shard index -> [Shard]: streaming standbys (add_replica)
        self._started = False

    # -- lifecycle ------------------------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        if self._started:
            return self
        _install_cleanup_handlers()
        if self.workdir is None:
            self.workdir = tempfile.mkdtemp(prefix="sg-cluster-")
        os.makedirs(self.workdir, exist_ok=True)
        _chown_to_server_user(self.workdir)
        self._started = True
        _live_clusters.add(self)
        try:
            for i in range(self.n):
                shard = Shard(f"s{i}", None, os.path.join(self.workdir, f"s{i}", "data"))
                os.makedirs(os.path.dirname(shard.datadir), exist_ok=True)
                _chown_to_server_user(os.path.dirname(shard.datadir))
                self.shards.append(shard)
            # initdb is short-lived and CPU-bound: run them side by side.
            with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
                list(pool.map(self._initdb, self.shards))
            # Launch all (each returns once it owns its port), then wait until each accepts:
            # the servers finish booting in parallel.
            for shard in self.shards:
                self._launch(shard, port=None)
            for shard in self.shards:
                self._await_ready(shard)
                self._bootstrap(shard)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        """Stops every server (bounded) and removes the data unless keep_data."""
        if not self._started:
            return
        errors = []
        standbys = [r for rs in self.replicas.values() for r in rs]
        for shard in standbys + self.shards:
            try:
                self._terminate(shard)
            except ClusterError as e:
                errors.append(str(e))
        self._started = False
        _live_clusters.discard(self)
        if not self.keep_data and not errors:
            for shard in standbys + self.shards:
                shutil.rmtree(os.path.dirname(shard.datadir), ignore_errors=True)
            if self._own_workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)
            else:
                try:
                    os.remove(os.path.join(self.workdir, "cluster.json"))
                except FileNotFoundError:
                    pass
        if errors:
            raise ClusterError("; ".join(errors))

    def stop_shard(self, i):
        """Stops one server and keeps its data, so start_shard(i) brings it back."""
        self._terminate(self.shards[i])

    def start_shard(self, i):
        shard = self.shards[i]
        if shard.running:
            return
        self._launch(shard, port=shard.port)
        self._await_ready(shard)

    # -- streaming standbys (issue 19) --------------------------------------------------------

    def add_replica(self, i):
        """Makes a streaming standby of shard i with `pg_basebackup -R` (as the server user),
        starts it and waits until it accepts connections and streams. Returns its Shard
        (also in self.replicas[i]; stopped with the cluster, even on failure)."""
        primary = self.shards[i]
        k = len(self.replicas.get(i, []))
        standby = Shard(f"s{i}r{k}", None, os.path.join(self.workdir, f"s{i}r{k}", "data"))
        os.makedirs(os.path.dirname(standby.datadir), exist_ok=True)
        _chown_to_server_user(os.path.dirname(standby.datadir))
        self.replicas.setdefault(i, []).append(standby)
        user, password = self.credentials()
        env = dict(os.environ)
        if password:
            env["PGPASSWORD"] = password
        r = subprocess.run([os.path.join(PG_BIN, "pg_basebackup"), "-h", primary.host,
                            "-p", str(primary.port), "-U", user, "-D", standby.datadir,
                            "-R", "-X", "stream", "--checkpoint=fast", "--no-sync"],
                           capture_output=True, text=True, timeout=120, cwd="/", env=env,
                           **_run_as_server_user())
        if r.returncode != 0:
            raise ClusterError(f"pg_basebackup of {primary.name} failed:\n{r.stdout}{r.stderr}")
        with open(os.path.join(standby.datadir, "postgresql.auto.conf"), "a") as f:
            f.write(f"unix_socket_directories = '{standby.datadir}'\n")
        self._launch(standby, port=None)
        self._await_ready(standby)
        deadline = time.monotonic() + START_TIMEOUT_S
        while self.psql_at(standby, "SELECT count(*) FROM pg_stat_wal_receiver "
                                    "WHERE status = 'streaming'")[0][0] != "1":
            if time.monotonic() > deadline:
                raise ClusterError(f"{standby.name} does not stream; log:\n{log_tail(standby.logfile)}")
            time.sleep(0.05)
        return standby

    def promote(self, standby):
        """`pg_ctl promote -w` of a standby: returns once it accepts writes."""
        r = subprocess.run([os.path.join(PG_BIN, "pg_ctl"), "promote", "-w", "-t", "60",
                            "-D", standby.datadir], capture_output=True, text=True,
                           timeout=90, cwd="/", **_run_as_server_user())
        if r.returncode != 0:
            raise ClusterError(f"pg_ctl promote {standby.name} failed:\n{r.stdout}{r.stderr}")

    def crash(self, shard):
        """`pg_ctl stop -m immediate` of one server (SIGQUIT to the postmaster: every backend
        exits at once, no checkpoint), bounded; its data stays."""
        self._terminate(shard, first=signal.SIGQUIT)

    def env_at(self, shard, dbname=None):
        """PG* variables for any server (a shard or a standby), as the superuser."""
        user, password = self.credentials()
        env = dict(os.environ, PGHOST=shard.host, PGPORT=str(shard.port),
                   PGDATABASE=dbname or self.dbname, PGUSER=user, PGCONNECT_TIMEOUT="10")
        env.pop("PGPASSWORD", None)
        if password:
            env["PGPASSWORD"] = password
        return env

    def psql_at(self, shard, sql, dbname=None, timeout=PSQL_TIMEOUT_S):
        return run_psql(self.env_at(shard, dbname), sql, timeout=timeout)

    # -- client side ------------------------------------------------------------------------

    def credentials(self, user=None, password=None):
        """(user, password) for a login: the superuser's unless told, a role's from `roles`."""
        user = user or self.superuser
        if password is None:
            password = self.password if user == self.superuser else self.roles.get(user)
        return user, password

    def dsn(self, i, dbname=None, user=None, password=None):
        """A libpq key/value connection string for shard i (superuser unless told)."""
        s = self.shards[i]
        user, password = self.credentials(user, password)
        parts = [f"host={s.host}", f"port={s.port}", f"dbname={dbname or self.dbname}",
                 f"user={user}", "connect_timeout=10"]
        if password:
            parts.append("password=" + _libpq_quote(password))
        return " ".join(parts)

    def env(self, i, dbname=None, user=None, password=None):
        """PG* environment variables that point libpq clients (psql, pgbench) at shard i."""
        s = self.shards[i]
        user, password = self.credentials(user, password)
        env = dict(os.environ, PGHOST=s.host, PGPORT=str(s.port),
                   PGDATABASE=dbname or self.dbname, PGUSER=user, PGCONNECT_TIMEOUT="10")
        env.pop("PGPASSWORD", None)
        if password:
            env["PGPASSWORD"] = password
        return env

    def psql(self, i, sql, dbname=None, user=None, password=None, timeout=PSQL_TIMEOUT_S):
        """Runs `sql` on shard i with ON_ERROR_STOP; returns the last result's rows as tuples
        of strings (NULL -> None). Raises ClusterError with psql's message on failure."""
        return run_psql(self.env(i, dbname, user, password), sql, timeout=timeout)

    # -- describing ------------------------------------------------------------------------

    def to_json(self):
        return {
            "workdir": self.workdir, "auth": self.auth, "dbname": self.dbname,
            "superuser": self.superuser, "password": self.password, "roles": self.roles,
            "shards": [{"name": s.name, "host": s.host, "port": s.port, "datadir": s.datadir,
                        "pid": s.pid, "log": s.logfile} for s in self.shards],
        }

    @classmethod
    def from_json(cls, data):
        """A handle on a detached cluster described by cluster.json (for stop/status)."""
        c = cls(len(data["shards"]), auth=data["auth"], password=data["password"],
                dbname=data["dbname"], workdir=data["workdir"], superuser=data["superuser"],
                roles=data.get("roles"), detached=True)
        for s in data["shards"]:
            shard = Shard(s["name"], s["port"], s["datadir"], s["host"])
            shard.pid = s["pid"]
            c.shards.append(shard)
        c._started = True
        return c

    @classmethod
    def load(cls, directory):
        """A handle on the detached cluster the CLI started in `directory`."""
        return cls.from_json(_load_state(directory))

    # -- internals --------------------------------------------------------------------------

    def _initdb(self, shard):
        method = AUTH_METHODS[self.auth]
        cmd = [os.path.join(PG_BIN, "initdb"), "--nosync", "-D", shard.datadir,
               "-U", self.superuser, "-E", "UTF8", "--locale=C.UTF-8",
               f"--auth-local={method}", f"--auth-host={method}"]
        pwfile = None
        if self.password:
            pwfile = os.path.join(os.path.dirname(shard.datadir), "pwfile")
            with open(pwfile, "w") as f:
                f.write(self.password + "\n")
            _chown_to_server_user(pwfile)
            cmd.append(f"--pwfile={pwfile}")
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                               cwd="/", **_run_as_server_user())
        finally:
            if pwfile:
                os.remove(pwfile)
        if r.returncode != 0:
            raise ClusterError(f"initdb for {shard.name} failed:\n{r.stdout}{r.stderr}")
        # Only loopback connections, with the chosen method (initdb's default pg_hba also
        # allows replication connections, which the rebalancer needs).
        with open(os.path.join(shard.datadir, "postgresql.auto.conf"), "a") as f:
            f.write(f"unix_socket_directories = '{shard.datadir}'\n")

    def _launch(self, shard, port):
        """Starts the postmaster; retries on another port if the free one got taken."""
        for attempt in range(5):
            shard.port = port or free_port()
            cmd = [os.path.join(PG_BIN, "postgres"), "-D", shard.datadir, "-p", str(shard.port)]
            for k, v in self.settings.items():
                cmd += ["-c", f"{k}={v}"]
            log = open(shard.logfile, "ab")
            try:
                shard._proc = subprocess.Popen(
                    cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    cwd="/", start_new_session=True, **_run_as_server_user(),
                    # Fast exit if we die: SIGQUIT is an immediate shutdown, which cannot hang.
                    preexec_fn=None if self.detached else child_setup(signal.SIGQUIT))
            finally:
                log.close()
            shard.pid = shard._proc.pid
            if port is not None or self._wait_bound(shard):
                return
        raise ClusterError(f"{shard.name}: could not find a free port; log:\n"
                           f"{log_tail(shard.logfile)}")

    def _wait_bound(self, shard):
        """False if the postmaster exited because its port was taken meanwhile."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if shard._proc.poll() is not None:
                if "could not bind" in log_tail(shard.logfile, 10) or \
                        "Address already in use" in log_tail(shard.logfile, 10):
                    return False
                raise ClusterError(f"{shard.name} exited with {shard._proc.returncode}; "
                                   f"log:\n{log_tail(shard.logfile)}")
            if self._pidfile_status(shard) is not None:
                return True   # it owns the port once postmaster.pid lists the socket
            time.sleep(0.02)
        raise ClusterError(f"{shard.name} did not start within {START_TIMEOUT_S}s; log:\n"
                           f"{log_tail(shard.logfile)}")

    def _pidfile_status(self, shard):
        """The status line of postmaster.pid ('starting', 'ready', ...) once sockets exist."""
        try:
            with open(os.path.join(shard.datadir, "postmaster.pid")) as f:
                lines = f.read().splitlines()
        except OSError:
            return None
        # Line 8 (PM_STATUS) is written after the listen sockets are created.
        if len(lines) >= 8 and lines[0].strip() == str(shard.pid):
            return lines[7].strip()
        return None

    @staticmethod
    def _pidfile_owner(shard):
        try:
            with open(os.path.join(shard.datadir, "postmaster.pid")) as f:
                return int(f.readline().strip())
        except (OSError, ValueError):
            return None

    def _await_ready(self, shard):
        """Waits until the server accepts connections (pg_isready), bounded."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if not shard.running:
                raise ClusterError(f"{shard.name} exited while starting; log:\n"
                                   f"{log_tail(shard.logfile)}")
            r = subprocess.run([os.path.join(PG_BIN, "pg_isready"), "-q", "-h", shard.host,
                                "-p", str(shard.port), "-d", "postgres", "-t", "2"],
                               timeout=10)
            if r.returncode == 0:
                return
            time.sleep(0.05)
        raise ClusterError(f"{shard.name} not ready within {START_TIMEOUT_S}s; log:\n"
                           f"{log_tail(shard.logfile)}")

    def _bootstrap(self, shard):
        idx = self.shards.index(shard)
        stmts = []
        for role, pw in self.roles.items():
            stmts.append(f"CREATE ROLE {_ident(role)} LOGIN PASSWORD {_literal(pw)};")
        stmts.append(f"CREATE DATABASE {_ident(self.dbname)} OWNER {_ident(self.db_owner)};")
        self.psql(idx, "\n".join(stmts), dbname="postgres")
        if self.roles:
            grants = "".join(f"GRANT ALL ON SCHEMA public TO {_ident(r)};" for r in self.roles)
            self.psql(idx, grants)

    def _terminate(self, shard, first=signal.SIGINT):
        """Fast shutdown, then immediate, then SIGKILL; each step bounded."""
        if not shard.running:
            shard._proc = None
            return
        steps = ((signal.SIGINT, STOP_TIMEOUT_S), (signal.SIGQUIT, 10), (signal.SIGKILL, 10))
        for sig, wait_s in (s for s in steps if s[0] != signal.SIGINT or first == signal.SIGINT):
            try:
                os.kill(shard.pid, sig)
            except ProcessLookupError:
                break
            if self._wait_exit(shard, wait_s):
                break
        else:
            raise ClusterError(f"{shard.name} (pid {shard.pid}) survived SIGKILL")
        shard._proc = None

    @staticmethod
    def _wait_exit(shard, timeout):
        if shard._proc is not None:
            try:
                shard._proc.wait(timeout)
                return True
            except subprocess.TimeoutExpired:
                return False
        # Not our child (detached cluster stopped from another process): poll the pid.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _pid_alive(shard.pid):
                return True
            time.sleep(0.05)
        return False


def start_module_cluster(n, schema, watchdog_s, standbys_of=()):
    """The cluster of a test module, for its setUpModule: a watchdog that ends a hung module
    after `watchdog_s` with every thread's traceback; `n` shards, each given `schema` (SQL run
    by psql); a streaming standby of each shard index in `standbys_of`. Returns
    (cluster, [standby Shard per index of standbys_of]).

    The module cleanups undo all of it, the cluster's stop first (it stops the standbys too);
    its stop is registered before the start, so even a failed setup leaves no server behind."""
    faulthandler.dump_traceback_later(watchdog_s, exit=True)
    unittest.addModuleCleanup(faulthandler.cancel_dump_traceback_later)
    cluster = Cluster(n)
    unittest.addModuleCleanup(cluster.stop)
    cluster.start()
    for i in range(n):
        cluster.psql(i, schema)
    return cluster, [cluster.add_replica(i) for i in standbys_of]


def run_psql(env, sql, timeout=PSQL_TIMEOUT_S):
    """psql -X with ON_ERROR_STOP; returns the rows of every result set, in order, as tuples
    of strings (NULL -> None). Raises ClusterError with psql's message on failure."""
    # Records end with NUL and fields are split by US (0x1f), so values may hold newlines;
    # NULL prints as DEL, a byte that no text value of ours contains.
    cmd = ["psql", "-X", "-q", "-A", "-t", "-0", "-F", "\x1f", "-v", "ON_ERROR_STOP=1",
           "-P", "null=\x7f", "-f", "-"]
    try:
        r = subprocess.run(cmd, input=sql.encode(), capture_output=True, env=env,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ClusterError(f"psql timed out after {timeout}s running: {sql[:200]}")
    if r.returncode != 0:
        raise ClusterError(f"psql failed ({r.returncode}): {r.stderr.decode().strip()}")
    records = r.stdout.decode().split("\0")[:-1]
    return [tuple(None if v == "\x7f" else v for v in rec.split("\x1f")) for rec in records]


def _ident(name):
    return '"' + name.replace('"', '""') + '"'


def _literal(s):
    return "'" + s.replace("'", "''") + "'"


def _libpq_quote(v):
    return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"


# ---------------------------------------------------------------------------------------------
# shardgate configuration

def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)       # JSON string escapes are valid TOML basic-string escapes
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _toml_table(header, values):
    lines = [header]
    lines += [f"{k} = {_toml_value(v)}" for k, v in values.items() if v is not None]
    return "\n".join(lines) + "\n"


def write_shardgate_config(path, cluster, proxy=None, admin=None, stats=None, sharding=None,
                           tables=(), users=None, shard_user=None, shard_password=None,
                           shards=None, health=None, replicas=True, cluster_section=None):
    """Writes a shardgate TOML config for `cluster` (keys as in common/config.h).

    proxy/admin/stats/sharding: dicts of keys for those sections (e.g. proxy={"port": 6543,
    "pool_mode": "transaction", "pool_size": 20}); tables: dicts with name, kind, shard_key,
    key_type; users: dicts with name, password, auth, admin, server_user, server_password —
    default: the cluster's superuser with its password. shard_user/shard_password: the login
    every [[shards]] entry uses (omitted when None, so the user's server login applies).
    shards: indexes of the cluster's shards to include (default all). replicas: list the
    standbys of add_replica() as each shard's `replicas` (default). cluster_section: keys of
    [cluster] (etcd, prefix, lease_ttl_s), omitted when None. Returns `path`."""
    proxy = {"listen_addr": "127.0.0.1", **(proxy or {})}
    sharding = {"database": cluster.dbname, **(sharding or {})}
    if users is None:
        users = [{"name": cluster.superuser, "password": cluster.password or "",
                  "auth": "scram-sha-256" if cluster.password else "trust"}]
    parts = ["# Written by tests/harness/pgcluster.py for a throwaway cluster.\n",
             _toml_table("[proxy]", proxy)]
    if admin:
        parts.append(_toml_table("[admin]", admin))
    if stats:
        parts.append(_toml_table("[stats]", stats))
    if health:
        parts.append(_toml_table("[health]", health))
    parts.append(_toml_table("[sharding]", sharding))
    if cluster_section:
        parts.append(_toml_table("[cluster]", cluster_section))
    for i in (shards if shards is not None else range(len(cluster.shards))):
        s = cluster.shards[i]
        parts.append(_toml_table("[[shards]]", {
            "name": s.name, "host": s.host, "port": s.port, "dbname": cluster.dbname,
            "user": shard_user, "password": shard_password}))
        standbys = cluster.replicas.get(i, []) if replicas else []
        if standbys:  # an array of inline tables (_toml_value writes no tables)
            parts[-1] += "replicas = [" + ", ".join(
                f'{{ host = "{r.host}", port = {r.port} }}' for r in standbys) + "]\n"
    for t in tables:
        parts.append(_toml_table("[[tables]]", t))
    for u in users:
        parts.append(_toml_table("[[users]]", u))
    with open(path, "w") as f:
        f.write("\n".join(parts))
    return path


# ---------------------------------------------------------------------------------------------
# CLI for detached clusters (the demo)

def _state_path(d):
    return os.path.join(os.path.abspath(d), "cluster.json")


def _load_state(d):
    try:
        with open(_state_path(d)) as f:
            return json.load(f)
    except FileNotFoundError:
        raise SystemExit(f"pgcluster: no cluster in {d} (no cluster.json)")


def _cmd_start(args):
    if os.path.exists(_state_path(args.dir)):
        raise SystemExit(f"pgcluster: {_state_path(args.dir)} exists; run `stop --dir "
                         f"{args.dir}` first")
    roles = dict(r.split(":", 1) for r in args.role)
    c = Cluster(args.shards, auth=args.auth, password=args.password, dbname=args.dbname,
                workdir=args.dir, roles=roles, detached=True)
    c.start()
    with open(_state_path(args.dir), "w") as f:
        json.dump(c.to_json(), f, indent=2)
    # The servers are ours no more: this process exits, they keep running.
    _live_clusters.discard(c)
    print(f"pgcluster: {args.shards} shard(s) running, auth={args.auth}, "
          f"database={args.dbname}, state in {_state_path(args.dir)}")
    for s in c.shards:
        print(f"  {s.name}  {s.host}:{s.port}  pid {s.pid}  data {s.datadir}")
    return 0


def _cmd_stop(args):
    c = Cluster.load(args.dir)
    for s in c.shards:
        # Never signal a recycled pid: the pid must still own this shard's data directory.
        if s.pid and _pid_alive(s.pid) and c._pidfile_owner(s) != s.pid:
            s.pid = None
    c.stop()
    print(f"pgcluster: stopped {len(c.shards)} shard(s) in {args.dir}")
    return 0


def _cmd_status(args):
    c = Cluster.load(args.dir)
    bad = 0
    for s in c.shards:
        r = subprocess.run([os.path.join(PG_BIN, "pg_isready"), "-q", "-h", s.host,
                            "-p", str(s.port), "-t", "3"], timeout=10)
        state = "accepting" if r.returncode == 0 else "DOWN"
        bad += r.returncode != 0
        print(f"  {s.name}  {s.host}:{s.port}  pid {s.pid}  {state}")
    return 1 if bad else 0


def main(argv=None):
    p = argparse.ArgumentParser(description="throwaway PostgreSQL shards for shardgate")
    sub = p.add_subparsers(dest="cmd", required=True)
    st = sub.add_parser("start", help="start a detached cluster")
    st.add_argument("--shards", type=int, default=4)
    st.add_argument("--dir", required=True)
    st.add_argument("--auth", choices=sorted(AUTH_METHODS), default="trust")
    st.add_argument("--password")
    st.add_argument("--dbname", default="app")
    st.add_argument("--role", action="append", default=[], metavar="NAME:PASSWORD")
    for name in ("stop", "status"):
        sp = sub.add_parser(name)
        sp.add_argument("--dir", required=True)
    args = p.parse_args(argv)
    return {"start": _cmd_start, "stop": _cmd_stop, "status": _cmd_status}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
