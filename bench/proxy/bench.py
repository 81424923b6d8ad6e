"""Proxy benchmark of issue 3: pgbench -S against direct PostgreSQL, pgbouncer and shardgate.

One shard (tests/harness/pgcluster.py), pgbouncer (Debian package, transaction mode) and
shardgate ($SHARDGATE_BIN, a Release build) with the same pool size. For every query mode
(-M simple/extended/prepared) and client count the three targets run back to back, so
machine noise hits them alike; with --rounds N the whole interleaved sweep repeats N times, the
targets' order rotating from round to round (no target always runs first or last), and each row
reports the median round (by TPS). The sg/pgbouncer ratio is also given per round (the two ran
seconds apart in it): its median and range say more about a noisy machine than one ratio does. p99 latency comes from pgbench's per-transaction
logs. "CPU us/tx" is the proxy process's own CPU time (user + system, from /proc) divided by the
transactions pgbench completed: the cost of the proxy per query, less sensitive to the noise of
a shared 2-core machine than TPS is.
Then each proxy's RSS is read with 1000 idle, logged-in clients.

With --etcd a one-node etcd (tests/harness/etcdcluster.py) holds the shard map, and a second
shardgate, sg-etcd, follows it ([cluster] etcd: map watched, registration under a lease,
routing window checked per statement) next to the file-based shardgate, interleaved: the
sg-etcd/shardgate ratio per round shows what following etcd costs on the hot path (issue 22:
routing stays a lookup in memory).

A target that fails to start or whose run fails is reported as FAILED with the reason; the
other targets still run. Exit status: 0 when every run succeeded, 1 otherwise.

Run with bench/proxy/run.sh (options: --help).
"""

import argparse
import glob
import math
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pgcluster
import shardgate_proc
from idle_clients import IdleClients, raise_fd_limit, read_rss_kib

USER, PASSWORD = "bench", "bench-secret"
SUPERUSER_PASSWORD = "bench-super"
DBNAME = "app"


class Target:
    """A place pgbench connects to; `error` set when it could not be started."""

    def __init__(self, name, port=None, pid=None, error=None):
        self.name, self.port, self.pid, self.error = name, port, pid, error


# ---------------------------------------------------------------------------------------------
# pgbouncer

class Pgbouncer:
    """pgbouncer in the foreground as the postgres user (it refuses root), dying with us."""

    def __init__(self, shard, pool_size, workdir):
        self.dir = os.path.join(workdir, "pgbouncer")
        os.makedirs(self.dir, exist_ok=True)
        self.port = pgcluster.free_port()
        self.log = os.path.join(self.dir, "pgbouncer.log")
        with open(os.path.join(self.dir, "userlist.txt"), "w") as f:
            f.write(f'"{USER}" "{PASSWORD}"\n')
        with open(os.path.join(self.dir, "pgbouncer.ini"), "w") as f:
            f.write(f"""[databases]
{DBNAME} = host={shard.host} port={shard.port} dbname={DBNAME}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {self.dir}/userlist.txt
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 5000
logfile = {self.log}
log_connections = 0
log_disconnections = 0
ignore_startup_parameters = extra_float_digits
""")
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            for p in [self.dir] + glob.glob(os.path.join(self.dir, "*")):
                os.chown(p, pw.pw_uid, pw.pw_gid)
        self.proc = None

    def start(self):
        kw = {}
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            kw = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
        self.proc = subprocess.Popen(
            ["pgbouncer", os.path.join(self.dir, "pgbouncer.ini")], cwd=self.dir,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
            preexec_fn=pgcluster.child_setup(signal.SIGKILL), **kw)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pgbouncer exited with {self.proc.returncode}:\n"
                                   f"{pgcluster.log_tail(self.log)}")
            if pgcluster.port_accepts("127.0.0.1", self.port):
                return self
            time.sleep(0.02)
        raise RuntimeError("pgbouncer did not accept connections within 20s")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)      # SIGINT: safe shutdown
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


# ---------------------------------------------------------------------------------------------
# pgbench runs

def pgbench_env(port):
    return dict(os.environ, PGHOST="127.0.0.1", PGPORT=str(port), PGUSER=USER,
                PGPASSWORD=PASSWORD, PGDATABASE=DBNAME, PGCONNECT_TIMEOUT="10")


def p99_from_logs(prefix):
    """99th percentile of per-transaction latency (ms) from pgbench --log files."""
    lat = []
    for path in glob.glob(prefix + ".*"):
        with open(path) as f:
            for line in f:
                fields = line.split()
                if len(fields) >= 3 and fields[2].isdigit():   # "failed"/"skipped" ignored
                    lat.append(int(fields[2]))
        os.remove(path)
    if not lat:
        return None
    lat.sort()
    return lat[max(0, math.ceil(0.99 * len(lat)) - 1)] / 1000.0


def cpu_ticks(pid):
    """utime + stime of a process, in clock ticks (None when it is not readable)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return None


def run_pgbench(target, mode, clients, duration, logdir):
    proxy = target.name != "direct" and target.pid
    cpu0 = cpu_ticks(target.pid) if proxy else None
    r = _run_pgbench(target, mode, clients, duration, logdir)
    cpu1 = cpu_ticks(target.pid) if proxy else None
    if "tps" in r and cpu0 is not None and cpu1 is not None and r.get("transactions"):
        r["cpu_us_per_tx"] = (cpu1 - cpu0) / os.sysconf("SC_CLK_TCK") * 1e6 / r["transactions"]
    return r


WORKLOAD = ["-S"]  # --tpcb: pgbench's built-in TPC-B-like transaction instead


def _run_pgbench(target, mode, clients, duration, logdir):
    prefix = os.path.join(logdir, f"{target.name}-{mode}-{clients}")
    cmd = ["pgbench", "-n", *WORKLOAD, "-M", mode, "-c", str(clients), "-j", "2",
           "-T", str(duration), "--log", f"--log-prefix={prefix}"]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, env=pgbench_env(target.port),
                           timeout=duration + 120)
    except subprocess.TimeoutExpired:
        return {"error": f"pgbench did not finish within {duration + 120}s"}
    p99 = p99_from_logs(prefix)
    tps = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", r.stdout)
    avg = re.search(r"latency average = ([0-9.]+) ms", r.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", r.stdout)
    done = re.search(r"number of transactions actually processed: (\d+)", r.stdout)
    if r.returncode != 0 or not tps or (failed and int(failed.group(1)) > 0):
        errors = [line for line in r.stderr.splitlines() if "ERROR" in line or "FATAL" in line
                  or "error" in line] or r.stderr.strip().splitlines()[-1:] or ["no output"]
        return {"error": f"pgbench exit {r.returncode}: {errors[0].strip()[:150]}"}
    return {"tps": float(tps.group(1)), "avg_ms": float(avg.group(1)), "p99_ms": p99,
            "transactions": int(done.group(1)) if done else None}


def median_round(runs):
    """The run with the median TPS among a row's rounds (an error if any round failed)."""
    errors = [r for r in runs if "error" in r]
    if errors:
        return errors[0]
    ordered = sorted(runs, key=lambda r: r["tps"])
    return dict(ordered[(len(ordered) - 1) // 2], rounds=[r["tps"] for r in runs])


# ---------------------------------------------------------------------------------------------
# report

def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def print_table(results, modes, client_counts, targets):
    print()
    print(f"{'mode':<9} {'clients':>7}  {'target':<10} {'TPS':>10} {'avg ms':>8} "
          f"{'p99 ms':>8} {'CPU us/tx':>9}   {'sg/pgbouncer':>12} {'sg/direct':>9}")
    print("-" * 98)
    for mode in modes:
        for c in client_counts:
            row = {t.name: results.get((mode, c, t.name), {}) for t in targets}
            for t in targets:
                r = row[t.name]
                ratios = ""
                sg = r.get("tps")
                if is_shardgate(t.name):
                    pgb, direct = row.get("pgbouncer", {}).get("tps"), \
                        row.get("direct", {}).get("tps")
                    ratios = f"{fmt(sg / pgb if sg and pgb else None, '.2f'):>12} " \
                             f"{fmt(sg / direct if sg and direct else None, '.2f'):>9}"
                    paired = sorted(r.get("paired") or [])
                    if len(paired) > 1:
                        ratios += (f"   per round {paired[(len(paired) - 1) // 2]:.2f} "
                                   f"({paired[0]:.2f}..{paired[-1]:.2f})")
                if "error" in r:
                    print(f"{mode:<9} {c:>7}  {t.name:<10} FAILED: {r['error']}")
                else:
                    print(f"{mode:<9} {c:>7}  {t.name:<10} {fmt(r.get('tps'), '10.0f')} "
                          f"{fmt(r.get('avg_ms'), '8.3f')} {fmt(r.get('p99_ms'), '8.3f')} "
                          f"{fmt(r.get('cpu_us_per_tx'), '9.1f'):>9}   {ratios}")
        print()


def measure_idle_memory(target, n):
    """RSS of a proxy before and while n idle clients are connected."""
    before = read_rss_kib(target.pid)
    dsn = (f"host=127.0.0.1 port={target.port} dbname={DBNAME} user={USER} "
           f"password={PASSWORD} connect_timeout=10")
    t0 = time.monotonic()
    with IdleClients(dsn, n):
        during = read_rss_kib(target.pid)
    return before, during, time.monotonic() - t0


# ---------------------------------------------------------------------------------------------

def is_shardgate(name):
    return name == "shardgate" or name.startswith("sg-")


def start_shardgate(cluster, pool_size, workdir, workers, name="shardgate", extra=None, binary=None,
                    cluster_section=None, sharding=None):
    binary = binary or os.environ.get("SHARDGATE_BIN")
    if not binary:
        return None, Target(name, error="SHARDGATE_BIN is not set")
    port = pgcluster.free_port()
    proxy = {"port": port, "pool_mode": "transaction", "pool_size": pool_size,
             "max_client_conn": 5000, "log_level": "warn", **(extra or {})}
    if workers:
        proxy["workers"] = workers
    config = pgcluster.write_shardgate_config(
        os.path.join(workdir, f"{name}.toml"), cluster, proxy=proxy, cluster_section=cluster_section,
        sharding=sharding,
        users=[{"name": USER, "password": PASSWORD, "auth": "scram-sha-256",
                "server_user": USER, "server_password": PASSWORD}])
    log = os.path.join(workdir, f"{name}.log")
    try:
        sg = shardgate_proc.ShardgateProcess(config, port, log_path=log, binary=binary).start()
    except Exception as e:
        # The first line says what happened, the log's last line usually says why.
        first = str(e).splitlines()[0].split("; log ")[0]
        why = [line for line in pgcluster.log_tail(log, 20).splitlines() if line.strip()]
        return None, Target(name, error=f"{first}: {why[-1] if why else 'empty log'} "
                                          f"(log: {log})")
    return sg, Target(name, port=port, pid=sg.pid)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-T", "--duration", type=int, default=int(os.environ.get("DURATION", 10)),
                    help="seconds per pgbench run (default 10, env DURATION)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="repeat the interleaved sweep; each row reports its median round")
    ap.add_argument("--scale", type=int, default=10)
    ap.add_argument("--pool-size", type=int, default=20,
                    help="server connections per pool, same for pgbouncer and shardgate")
    ap.add_argument("--clients", default="8,64")
    ap.add_argument("--modes", default="simple,extended,prepared")
    ap.add_argument("--targets", default="direct,pgbouncer,shardgate")
    ap.add_argument("--idle-clients", type=int, default=1000,
                    help="idle connections for the memory measurement (0 = skip)")
    ap.add_argument("--workers", type=int, default=0,
                    help="shardgate [proxy] workers (default: shardgate's default)")
    ap.add_argument("--unprepared", action="store_true",
                    help="also run shardgate with [proxy] prepare_lookups = false (target sg-noprep)")
    ap.add_argument("--baseline-bin", default="",
                    help="also run this shardgate binary (an older build) as target sg-base, "
                         "interleaved with the others; its ratio to shardgate is reported")
    ap.add_argument("--tpcb", action="store_true",
                    help="pgbench's TPC-B-like transaction (BEGIN; 3 UPDATEs, SELECT, INSERT; "
                         "END) instead of -S: one-shard transactions through the proxy")
    ap.add_argument("--etcd", action="store_true",
                    help="also run a shardgate following its map in a one-node etcd (target "
                         "sg-etcd), interleaved; its ratio to the file-based shardgate is reported")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    if args.tpcb:
        WORKLOAD[:] = []
    modes = args.modes.split(",")
    client_counts = [int(c) for c in args.clients.split(",")]
    wanted = args.targets.split(",")

    raise_fd_limit(args.idle_clients + 1024)   # before the proxies start: they inherit it
    workdir = tempfile.mkdtemp(prefix="sg-bench-")
    pgcluster._chown_to_server_user(workdir)
    cluster = pgcluster.Cluster(1, auth="scram", password=SUPERUSER_PASSWORD, dbname=DBNAME,
                                roles={USER: PASSWORD}, db_owner=USER,
                                workdir=os.path.join(workdir, "cluster"))
    bouncer = sg = sg_noprep = sg_base = sg_etcd = etcd = None
    failures = 0
    try:
        cluster.start()
        shard = cluster.shards[0]
        print(f"bench: shard {shard.host}:{shard.port} (pid {shard.pid}); "
              f"pgbench -i -s {args.scale} ...", flush=True)
        r = subprocess.run(["pgbench", "-i", "-q", "-s", str(args.scale)], capture_output=True,
                           text=True, env=pgbench_env(shard.port), timeout=600)
        if r.returncode != 0:
            raise SystemExit(f"bench: pgbench -i failed:\n{r.stderr}")

        targets = []
        if "direct" in wanted:
            targets.append(Target("direct", port=shard.port, pid=shard.pid))
        if "pgbouncer" in wanted:
            try:
                bouncer = Pgbouncer(shard, args.pool_size, workdir).start()
                targets.append(Target("pgbouncer", port=bouncer.port, pid=bouncer.proc.pid))
            except Exception as e:
                targets.append(Target("pgbouncer", error=str(e).splitlines()[0]))
        if "shardgate" in wanted:
            sg, t = start_shardgate(cluster, args.pool_size, workdir, args.workers)
            targets.append(t)
            if args.baseline_bin:
                sg_base, t = start_shardgate(cluster, args.pool_size, workdir, args.workers,
                                             name="sg-base", binary=os.path.realpath(args.baseline_bin))
                targets.append(t)
            if args.etcd:
                from etcdcluster import EtcdCluster
                etcd = EtcdCluster(1).start()
                sg_etcd, t = start_shardgate(
                    cluster, args.pool_size, workdir, args.workers, name="sg-etcd",
                    # Same map file: the file-based proxy wrote version 1 (and stamped the
                    # shard); this one publishes it to the empty etcd and follows the key.
                    cluster_section={"etcd": etcd.endpoints(), "prefix": "/shardgate/bench"})
                targets.append(t)
            if args.unprepared:
                sg_noprep, t = start_shardgate(cluster, args.pool_size, workdir, args.workers,
                                               name="sg-noprep", extra={"prepare_lookups": False})
                targets.append(t)
        for t in targets:
            state = f"FAILED to start: {t.error}" if t.error else f"port {t.port} pid {t.pid}"
            print(f"bench: {t.name:<10} {state}", flush=True)

        logdir = os.path.join(workdir, "logs")
        os.makedirs(logdir)
        runs = {}
        total = args.rounds * len(modes) * len(client_counts) * len(targets)
        done = 0
        for rnd in range(args.rounds):
            for mode in modes:
                for c in client_counts:
                    shift = rnd % len(targets)  # rotated: each target takes every position
                    for t in targets[shift:] + targets[:shift]:  # interleaved: same conditions
                        done += 1
                        if t.error:
                            runs.setdefault((mode, c, t.name), []).append(
                                {"error": f"not started: {t.error}"})
                            continue
                        print(f"bench: [{done}/{total}] -M {mode} -c {c} -> {t.name}", flush=True)
                        runs.setdefault((mode, c, t.name), []).append(
                            run_pgbench(t, mode, c, args.duration, logdir))
        results = {k: median_round(v) for k, v in runs.items()}
        for (mode, c, name), rs in runs.items():  # per-round shardgate/pgbouncer ratios
            if is_shardgate(name) and (mode, c, "pgbouncer") in runs:
                pairs = zip(rs, runs[(mode, c, "pgbouncer")])
                results[(mode, c, name)]["paired"] = [
                    a["tps"] / b["tps"] for a, b in pairs if "tps" in a and "tps" in b and b["tps"]]
        failures = sum("error" in r for r in results.values())

        print(f"\npgbench {'TPC-B-like' if args.tpcb else '-S'}, scale {args.scale}, -j 2, -T {args.duration}s, pool size "
              f"{args.pool_size} (pgbouncer {pgbouncer_version()}, transaction mode), "
              f"median of {args.rounds} interleaved round(s)")
        print_table(results, modes, client_counts, targets)
        for enabled, top, bottom, what in ((args.baseline_bin, "shardgate", "sg-base",
                                            "this build against the baseline binary"),
                                           (args.etcd, "sg-etcd", "shardgate",
                                            "following etcd against the file-based map")):
            if not enabled:
                continue
            print(f"{top} / {bottom} ({what}, per round):")
            for mode in modes:
                for c in client_counts:
                    a, b = runs.get((mode, c, top), []), runs.get((mode, c, bottom), [])
                    ratios = sorted(x["tps"] / y["tps"] for x, y in zip(a, b)
                                    if "tps" in x and "tps" in y and y["tps"])
                    if ratios:
                        print(f"  -M {mode:<9} -c {c:<4} median {ratios[(len(ratios) - 1) // 2]:.3f} "
                              f"({ratios[0]:.3f}..{ratios[-1]:.3f}, {len(ratios)} rounds)")

        if args.idle_clients:
            print(f"memory with {args.idle_clients} idle client connections (VmRSS):")
            for t in targets:
                if t.name == "direct" or t.error or t.name == "sg-noprep":
                    continue
                try:
                    before, during, secs = measure_idle_memory(t, args.idle_clients)
                    print(f"  {t.name:<10} {before / 1024:8.1f} MiB idle -> {during / 1024:8.1f}"
                          f" MiB with {args.idle_clients} clients "
                          f"({(during - before) / args.idle_clients:.1f} KiB/client; "
                          f"connected in {secs:.1f}s)")
                except Exception as e:
                    failures += 1
                    print(f"  {t.name:<10} FAILED: {str(e).strip().splitlines()[0]}")
    finally:
        if sg:
            sg.stop()
        if sg_noprep:
            sg_noprep.stop()
        if sg_base:
            sg_base.stop()
        if sg_etcd:
            sg_etcd.stop()
        if etcd:
            etcd.stop()
        if bouncer:
            bouncer.stop()
        cluster.stop()
        if args.keep:
            print(f"bench: kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failures else 0


def pgbouncer_version():
    r = subprocess.run(["pgbouncer", "--version"], capture_output=True, text=True, timeout=10)
    return r.stdout.split("\n")[0].replace("PgBouncer ", "") if r.returncode == 0 else "?"


if __name__ == "__main__":
    sys.exit(main())
