#!/usr/bin/python3
"""A throwaway 3-node etcd cluster on loopback: the coordination service of the multi-proxy tests.

    with EtcdCluster(3) as e:
        e.endpoints()                  # ["127.0.0.1:P1", "127.0.0.1:P2", "127.0.0.1:P3"]
        e.put("/k", "v"); e.get("/k")  # through etcdctl
        leader = e.leader()            # index of the member that leads now
        e.kill(leader); e.restart(leader)

Invariants:
- Members always stop: EtcdCluster is a context manager, every started cluster is also stopped
  by atexit, and each member is our child with PR_SET_PDEATHSIG (pgcluster.child_setup), so a
  SIGKILLed harness does not leak it. Members are stopped by their PID only.
- Ports are free loopback ports below 32768 (outside Linux's ephemeral range, so a port we
  picked is not taken by an outgoing connection between picking and binding); data lives in a
  temporary directory removed at stop.
- Every wait is bounded; a member that does not come up is reported with its log tail.
"""

import atexit
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import weakref

import pgcluster
from pgcluster import child_setup, log_tail, _pid_alive

ETCD = os.environ.get("SG_ETCD_BIN", "/usr/bin/etcd")
ETCDCTL = os.environ.get("SG_ETCDCTL_BIN", "/usr/bin/etcdctl")
START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 10
CTL_TIMEOUT_S = 10


class EtcdError(RuntimeError):
    pass


def free_low_port(taken=()):
    """A loopback port in [20000, 32768) that nobody listens on now and is not in `taken`."""
    rng = random.Random(os.getpid() ^ int(time.time() * 1000))
    for _ in range(500):
        port = rng.randrange(20000, 32768)
        if port in taken:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise EtcdError("no free loopback port below 32768 after 500 tries")


class Member:
    """One etcd member: name, client and peer ports, data dir; the Popen while it runs."""

    def __init__(self, name, client_port, peer_port, datadir, logpath):
        self.name = name
        self.client_port = client_port
        self.peer_port = peer_port
        self.datadir = datadir
        self.logpath = logpath
        self.proc = None

    @property
    def endpoint(self):
        return f"127.0.0.1:{self.client_port}"

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None and _pid_alive(self.proc.pid)


_live = weakref.WeakSet()


def _stop_all_at_exit():
    for c in list(_live):
        c.stop()


atexit.register(_stop_all_at_exit)


class EtcdCluster:
    def __init__(self, n=3, workdir=None):
        if n < 1:
            raise EtcdError("an etcd cluster needs at least one member")
        self._own_dir = workdir is None
        # Data on tmpfs when there is one: on this machine's disk a loaded run saw fsyncs stall
        # the leader's heartbeats ("leader is overloaded likely from slow disk") and etcd calls
        # time out; the tests are about what the proxies and the rebalancer do with etcd's
        # answers, not about the disk under etcd (members restarted on their data dir keep it).
        shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
        self.dir = workdir or tempfile.mkdtemp(prefix="sg-etcd-", dir=shm)
        taken = set()
        self.members = []
        for i in range(n):
            cp = free_low_port(taken)
            taken.add(cp)
            pp = free_low_port(taken)
            taken.add(pp)
            name = f"e{i}"
            self.members.append(Member(name, cp, pp, os.path.join(self.dir, name),
                                       os.path.join(self.dir, f"{name}.log")))
        self.token = f"sg-{os.getpid()}-{int(time.time())}"

    # ---- lifecycle -----------------------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def _initial_cluster(self):
        return ",".join(f"{m.name}=http://127.0.0.1:{m.peer_port}" for m in self.members)

    def _spawn(self, m, state):
        args = [ETCD, "--name", m.name, "--data-dir", m.datadir,
                "--listen-client-urls", f"http://127.0.0.1:{m.client_port}",
                "--advertise-client-urls", f"http://127.0.0.1:{m.client_port}",
                "--listen-peer-urls", f"http://127.0.0.1:{m.peer_port}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{m.peer_port}",
                "--initial-cluster", self._initial_cluster(),
                "--initial-cluster-state", state,
                "--initial-cluster-token", self.token,
                # Short elections keep leader-loss tests quick; loopback has no real latency.
                "--heartbeat-interval", "50", "--election-timeout", "500",
                "--log-level", "warn", "--logger", "zap"]
        log = open(m.logpath, "ab")
        try:
            m.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      preexec_fn=child_setup(signal.SIGKILL))
        finally:
            log.close()

    def start(self):
        _live.add(self)
        os.makedirs(self.dir, exist_ok=True)
        for m in self.members:
            self._spawn(m, "new")
        try:
            self.wait_healthy()
        except Exception:
            self.stop()
            raise
        return self

    def wait_healthy(self, members=None, timeout=START_TIMEOUT_S):
        """Waits until each member (default: all running ones) answers `endpoint health`."""
        members = members if members is not None else [m for m in self.members if m.proc]
        deadline = time.monotonic() + timeout
        for m in members:
            while True:
                if m.proc is not None and m.proc.poll() is not None:
                    raise EtcdError(f"etcd member {m.name} exited with {m.proc.returncode}:\n"
                                    f"{log_tail(m.logpath)}")
                r = self._ctl([m.endpoint], "endpoint", "health", check=False, timeout=3)
                if r.returncode == 0:
                    break
                if time.monotonic() > deadline:
                    raise EtcdError(f"etcd member {m.name} not healthy within {timeout} s:\n"
                                    f"{r.stderr}\n{log_tail(m.logpath)}")
                time.sleep(0.1)

    def _stop_member(self, m, sig):
        if m.proc is None:
            return
        if m.proc.poll() is None:
            try:
                os.kill(m.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                m.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.kill(m.proc.pid, signal.SIGKILL)
                m.proc.wait(timeout=STOP_TIMEOUT_S)
        m.proc = None

    def stop(self):
        for m in self.members:
            self._stop_member(m, signal.SIGTERM)
        _live.discard(self)
        if self._own_dir:
            # The members' logs outlive the cluster (next to the proxies' logs): a run that
            # failed on an etcd timeout can tell an election from a slow disk.
            logs = os.path.join(tempfile.gettempdir(), "shardgate-logs")
            try:
                os.makedirs(logs, exist_ok=True)
                for m in self.members:
                    if os.path.exists(m.logpath):
                        shutil.copyfile(m.logpath, os.path.join(logs, f"etcd-member-{m.name}.log"))
            except OSError:
                pass
            shutil.rmtree(self.dir, ignore_errors=True)

    # ---- one member ----------------------------------------------------------------------

    def stop_member(self, i):
        self._stop_member(self.members[i], signal.SIGTERM)

    def kill(self, i):
        self._stop_member(self.members[i], signal.SIGKILL)

    def restart(self, i, wait=True):
        """Starts a stopped member again on its data dir (it rejoins the existing cluster)."""
        m = self.members[i]
        if m.running():
            raise EtcdError(f"etcd member {m.name} is still running")
        self._spawn(m, "existing")
        if wait:
            self.wait_healthy([m])

    # ---- queries -------------------------------------------------------------------------

    def endpoints(self, running_only=False):
        return [m.endpoint for m in self.members if not running_only or m.running()]

    def _ctl(self, endpoints, *args, check=True, timeout=CTL_TIMEOUT_S, stdin=None):
        env = dict(os.environ, ETCDCTL_API="3")
        r = subprocess.run([ETCDCTL, "--endpoints", ",".join(endpoints), "--dial-timeout", "2s",
                            "--command-timeout", f"{max(1, int(timeout) - 1)}s", *args],
                           capture_output=True, text=True, env=env, timeout=timeout, input=stdin)
        if check and r.returncode != 0:
            raise EtcdError(f"etcdctl {' '.join(args)}: {r.stderr.strip()}")
        return r

    def ctl(self, *args, **kw):
        """etcdctl against every running member."""
        return self._ctl(self.endpoints(running_only=True), *args, **kw)

    def status(self):
        """`endpoint status` of every running member: a list of dicts (member index added)."""
        out = []
        for i, m in enumerate(self.members):
            if not m.running():
                continue
            r = self._ctl([m.endpoint], "endpoint", "status", "-w", "json", check=False, timeout=5)
            if r.returncode != 0:
                continue
            for st in json.loads(r.stdout):
                st["index"] = i
                out.append(st)
        return out

    def leader(self, timeout=10):
        """Index of the member that is leader now (waits, bounded, through an election)."""
        deadline = time.monotonic() + timeout
        while True:
            for st in self.status():
                s = st.get("Status", {})
                if s.get("leader") and s.get("leader") == s.get("header", {}).get("member_id"):
                    return st["index"]
            if time.monotonic() > deadline:
                raise EtcdError(f"no etcd leader within {timeout} s")
            time.sleep(0.1)

    def put(self, key, value):
        self.ctl("put", key, "--", value) if value.startswith("-") else self.ctl("put", key, value)

    def get(self, key):
        """The value of `key`, or None when absent."""
        r = self.ctl("get", key, "-w", "json")
        kvs = json.loads(r.stdout).get("kvs") or []
        if not kvs:
            return None
        import base64
        return base64.b64decode(kvs[0]["value"]).decode()

    def get_prefix(self, prefix):
        """{key: value} of every key under `prefix`."""
        import base64
        r = self.ctl("get", prefix, "--prefix", "-w", "json")
        return {base64.b64decode(kv["key"]).decode(): base64.b64decode(kv.get("value", "")).decode()
                for kv in json.loads(r.stdout).get("kvs") or []}


def range_http(endpoint, prefix, timeout=2.0):
    """(revision, {key: (value, mod_revision, lease)}) of every key under `prefix`, read in one
    request through the member's HTTP/JSON gateway: one consistent snapshot in ~1 ms, fast
    enough to poll through a switch that lasts a few hundred ms (etcdctl takes ~30 ms a call)."""
    import base64
    import urllib.request
    end = bytearray(prefix.encode())
    end[-1] += 1
    body = json.dumps({"key": base64.b64encode(prefix.encode()).decode(),
                       "range_end": base64.b64encode(bytes(end)).decode()}).encode()
    req = urllib.request.Request(f"http://{endpoint}/v3/kv/range", data=body,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        j = json.loads(r.read())
    kvs = {}
    for kv in j.get("kvs") or []:
        kvs[base64.b64decode(kv["key"]).decode()] = (base64.b64decode(kv.get("value", "")).decode(),
                                                     int(kv.get("mod_revision", 0)), int(kv.get("lease", 0)))
    return int(j["header"]["revision"]), kvs


# ---------------------------------------------------------------------------------------------
# The multi-proxy tests' setup: PostgreSQL shards, a 3-member etcd and proxies following its map.

def start_with_pg(test, n_shards, load):
    """A PostgreSQL cluster of `n_shards` and a 3-member etcd for one test (from its setUp),
    each stopped by a cleanup of `test`; `load(cluster)` fills the shards once both run, before
    any proxy starts. Returns (cluster, etcd)."""
    cluster = pgcluster.Cluster(n_shards).start()
    test.addCleanup(cluster.stop)
    etcd = EtcdCluster(3).start()
    test.addCleanup(etcd.stop)
    load(cluster)
    return cluster, etcd


def cluster_section(etcd, prefix, lease_ttl_s=3):
    """A proxy's [cluster] keys: every member of `etcd`, its keys under `prefix`; a short etcd
    timeout so a test of etcd failures does not wait long for each call."""
    return {"etcd": etcd.endpoints(), "prefix": prefix, "lease_ttl_s": lease_ttl_s,
            "etcd_timeout_ms": 500}


def start_following_proxies(test, cluster, etcd, names, prefix, tables, loaded, proxy,
                            lease_ttl_s=3, sharding=None, proxy_of=None, after_publish=None,
                            health=None):
    """Proxies named `names` over `cluster` that all follow the map in `etcd` under `prefix`,
    each stopped by a cleanup of `test`. Returns them in the order of `names`.

    The first proxy of a brand-new etcd prefix publishes map v1 over the shards its config
    lists: so it starts once with only shards 0..loaded-1 (the loaded ones) and stops, and
    `after_publish()` (if given) runs then. Then every proxy starts with all of the cluster's
    shards listed: the others own nothing until a rebalance moves buckets to them.
    proxy: [proxy] keys of every proxy; proxy_of: {name: more [proxy] keys of that one};
    sharding: [sharding] keys besides each proxy's own map_file (<name>.map.json);
    health: [health] keys of every proxy."""
    from sgfixture import Proxy  # here, not at the top: the benchmarks use etcd without psycopg2
    section = cluster_section(etcd, prefix, lease_ttl_s)
    proxies = []
    for name in names:
        p = Proxy(cluster, name, tables=tables, shards=list(range(loaded)),
                  proxy={**proxy, **(proxy_of or {}).get(name, {})},
                  sharding={"map_file": f"{name}.map.json", **(sharding or {})},
                  cluster_section=section, health=health)
        test.addCleanup(p.stop)
        proxies.append(p)
    proxies[0].start().stop()
    if after_publish:
        after_publish()
    for p in proxies:
        p.shards = None
        p.start()
    return proxies
