"""Replica benchmark of issue 19: pgbench -S through shardgate, primary alone vs primary + standby.

Targets, all the same binary, interleaved round by round (each takes every position):
  sg-primary   one shard, no replicas listed: every read on the primary
  sg-any       the same shard with its streaming standby listed, [proxy] read_from = "any":
               reads go to whichever endpoint has fewer statements running
  sg-nocheck   like sg-primary with [health] check_enabled = false: the health checks' cost on
               the hot path is the difference to sg-primary
The ratio sg-any / sg-primary is the figure of the issue. On a 2-core machine the proxy, the
pgbench clients and both servers share the cores, so the gain is bounded by the CPU the
primary alone cannot use: each round also prints the CPU per transaction of the primary's and
the standby's processes (postmaster and children), of the proxy and of the whole machine
(everything running on it, other work included) — when the machine has no idle time left, the
sum is what bounds the TPS. --shared-buffers sets both servers' shared_buffers (e.g. 16MB: the
data no longer fits in one server's buffers).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

import pgcluster
import shardgate_proc
from bench import (DBNAME, PASSWORD, SUPERUSER_PASSWORD, USER, Target, pgbench_env, run_pgbench)


def tree_cpu_ticks(root):
    """CPU ticks (user + system) of process `root` and its children (a postmaster's backends)."""
    total = 0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(d) == root or int(fields[1]) == root:
            total += int(fields[11]) + int(fields[12])
    return total


def machine_ticks():
    """(busy, idle) CPU ticks of the whole machine."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v[:3]) + sum(v[5:8]), v[3] + v[4]


def standby_commits(cluster, standby):
    """Transactions the standby has run in the bench database (its pg_stat_database)."""
    rows = pgcluster.run_psql(cluster.env_at(standby),
                              f"SELECT xact_commit FROM pg_stat_database WHERE datname = '{DBNAME}'")
    return int(rows[0][0])


def start_sg(cluster, workdir, name, pool_size, proxy_extra=None, health=None, replicas=False):
    port = pgcluster.free_port()
    proxy = {"port": port, "pool_mode": "transaction", "pool_size": pool_size,
             "max_client_conn": 5000, "log_level": "warn", **(proxy_extra or {})}
    config = pgcluster.write_shardgate_config(
        os.path.join(workdir, f"{name}.toml"), cluster, proxy=proxy, health=health,
        replicas=replicas,
        users=[{"name": USER, "password": PASSWORD, "auth": "scram-sha-256",
                "server_user": USER, "server_password": PASSWORD}])
    sg = shardgate_proc.ShardgateProcess(config, port, log_path=os.path.join(workdir, f"{name}.log")).start()
    return sg, Target(name, port=port, pid=sg.pid)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-T", "--duration", type=int, default=10, help="seconds per pgbench run")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--mode", default="simple", help="pgbench -M")
    ap.add_argument("--scale", type=int, default=10)
    ap.add_argument("--pool-size", type=int, default=20)
    ap.add_argument("--shared-buffers", help="both servers' shared_buffers (default: PostgreSQL's 128MB)")
    args = ap.parse_args()
    shardgate_proc.shardgate_bin()
    workdir = tempfile.mkdtemp(prefix="sg-bench-replicas-")
    pgcluster._chown_to_server_user(workdir)
    cluster = pgcluster.Cluster(1, auth="scram", password=SUPERUSER_PASSWORD, dbname=DBNAME,
                                roles={USER: PASSWORD}, db_owner=USER,
                                workdir=os.path.join(workdir, "cluster"),
                                settings={"shared_buffers": args.shared_buffers} if args.shared_buffers else None)
    procs = []
    try:
        cluster.start()
        shard = cluster.shards[0]
        r = subprocess.run(["pgbench", "-i", "-q", "-s", str(args.scale)], capture_output=True, text=True,
                           env=pgbench_env(shard.port), timeout=600)
        if r.returncode != 0:
            raise SystemExit(f"bench: pgbench -i failed:\n{r.stderr}")
        standby = cluster.add_replica(0)
        print(f"bench: primary {shard.host}:{shard.port}, standby {standby.host}:{standby.port}", flush=True)
        targets = []
        for name, extra, health, replicas in (
                ("sg-primary", None, None, False),
                ("sg-any", {"read_from": "any"}, None, True),
                ("sg-nocheck", None, {"check_enabled": False}, False)):
            sg, t = start_sg(cluster, workdir, name, args.pool_size, extra, health, replicas)
            procs.append(sg)
            targets.append(t)
        # The standby must be known eligible before measuring (its first role check).
        import time
        time.sleep(2)
        logdir = os.path.join(workdir, "logs")
        os.makedirs(logdir)
        tps = {t.name: [] for t in targets}
        for rnd in range(args.rounds):
            shift = rnd % len(targets)
            for t in targets[shift:] + targets[:shift]:
                servers = (shard.pid, standby.pid)
                served0 = standby_commits(cluster, standby)
                cpu0, m0 = [tree_cpu_ticks(p) for p in servers], machine_ticks()
                res = run_pgbench(t, args.mode, args.clients, args.duration, logdir)
                if "error" in res:
                    raise SystemExit(f"bench: {t.name}: {res['error']}")
                cpu1, m1 = [tree_cpu_ticks(p) for p in servers], machine_ticks()
                served = (standby_commits(cluster, standby) - served0) / max(res["transactions"] or 1, 1)
                per_tx = 1e6 / os.sysconf("SC_CLK_TCK") / max(res["transactions"] or 1, 1)
                tps[t.name].append(res["tps"])
                print(f"bench: round {rnd + 1} {t.name:<11} {res['tps']:10.0f} tps  avg {res['avg_ms']:.2f} ms"
                      f"  p99 {res['p99_ms']} ms  cpu/tx: proxy {res.get('cpu_us_per_tx', 0):.1f}"
                      f"  primary {(cpu1[0] - cpu0[0]) * per_tx:.1f}  standby {(cpu1[1] - cpu0[1]) * per_tx:.1f}"
                      f"  machine {(m1[0] - m0[0]) * per_tx:.1f} us, idle {(m1[1] - m0[1]) * per_tx:.1f} us/tx;"
                      f"  standby served {100 * served:.0f}%",
                      flush=True)
        med = {k: statistics.median(v) for k, v in tps.items()}
        print(f"\npgbench -S -M {args.mode} -c {args.clients} -j 2 -T {args.duration}s, scale {args.scale}, "
              f"shared_buffers {args.shared_buffers or 'default'}, {args.rounds} rounds, medians:")
        for k, v in med.items():
            print(f"  {k:<11} {v:10.0f} tps  (rounds: {', '.join(f'{x:.0f}' for x in tps[k])})")
        print(f"  primary + standby / primary alone: {med['sg-any'] / med['sg-primary']:.2f}x")
        print(f"  health checks off / on:            {med['sg-nocheck'] / med['sg-primary']:.3f}x")
    finally:
        for p in procs:
            p.stop()
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
