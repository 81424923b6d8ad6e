#!/usr/bin/python3
"""Routing benchmark (issue 4): pgbench -S through shardgate over 4 shards against shardgate over
1 shard, interleaved in one run, pgbench_accounts sharded on aid.

    SHARDGATE_BIN=build/release/shardgate bench/routing/run.py [-T SECONDS] [--rows N] [--clients 8]

The 4 shards share this machine's cores with the 1-shard cluster, the proxy and pgbench, so the
figure is the proxy's routing cost plus 4x the server processes, not a scale-out measurement.
To separate the two, the same script also runs without the proxy ("direct"): one pgbench on the
1-shard cluster, and one pgbench per shard at the same time on the 4-shard cluster (clients
split between them) against `direct_accounts`, an unsharded copy of all rows on every shard, so
each lookup finds its row as it does through the proxy. The routing overhead is then
(4-shard / 1-shard through shardgate) / (4-shard / 1-shard direct).

Each run through shardgate also reports CPU time per transaction, user + system, of the
cluster's PostgreSQL processes (postmasters and their backends), of shardgate and of pgbench:
it shows where a lower 4-shard figure comes from.

With --etcd a third shardgate over the same 4 shards follows its map in a one-node etcd
([cluster] etcd: the map watched, a registration under a lease, the routing window checked per
statement), interleaved with the others: its TPS against the file-based 4-shard proxy's, per
round, is what following etcd costs on the routing path (issue 22: routing stays a lookup in
memory).
"""
import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "harness"))
import pgcluster  # noqa: E402
from shardgate_proc import ShardgateProcess, free_port  # noqa: E402

SCRIPT = "\\set aid random(1, {rows})\nSELECT abalance FROM pgbench_accounts WHERE aid = :aid;\n"


def load(env, rows):
    ddl = "CREATE TABLE pgbench_accounts (aid integer PRIMARY KEY, bid integer, abalance integer, filler char(84))"
    subprocess.run(["psql", "-qX", "-v", "ON_ERROR_STOP=1", "-c", ddl], env=env, check=True)
    data = "".join(f"{i}\t1\t0\t\n" for i in range(1, rows + 1))
    subprocess.run(["psql", "-qX", "-v", "ON_ERROR_STOP=1", "-c",
                    "COPY pgbench_accounts (aid, bid, abalance, filler) FROM STDIN"],
                   env=env, input=data, text=True, check=True)


TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pids):
    """CPU seconds (user + system) of `pids` and of their child processes, live or exited (a
    postmaster reaps its backends, so their time is in its cutime/cstime)."""
    parents = set(pids)
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[1] is the parent pid; [11] and [12] are utime and stime in clock ticks.
        if int(entry) in parents:
            total += sum(int(x) for x in fields[11:15])
        elif int(fields[1]) in parents:
            total += int(fields[11]) + int(fields[12])
    return total / TICK


def children_cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def pgbench(env, script, mode, clients, seconds):
    out = subprocess.run(["pgbench", "-n", "-f", script, "-M", mode, "-c", str(clients), "-j", "2",
                          "-T", str(seconds)], env=env, capture_output=True, text=True, timeout=seconds + 60)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip()[-400:])
    tps = float(re.search(r"tps = ([0-9.]+)", out.stdout).group(1))
    lat = float(re.search(r"latency average = ([0-9.]+)", out.stdout).group(1))
    return tps, lat


def load_direct(cluster, rows):
    """Every shard gets all rows in `direct_accounts` (not in [[tables]]; only direct runs read it)."""
    sql = ("CREATE TABLE direct_accounts (aid integer PRIMARY KEY, bid integer, abalance integer, "
           f"filler char(84)); INSERT INTO direct_accounts SELECT g, 1, 0, '' FROM generate_series(1, {rows}) g")
    for i in range(len(cluster.shards)):
        # VACUUM sets the hint bits and the visibility map now, and CHECKPOINT writes what the load
        # dirtied, so neither lands in whichever measured run comes first.
        subprocess.run(["psql", "-qX", "-v", "ON_ERROR_STOP=1", "-c", sql,
                        "-c", "VACUUM (ANALYZE) direct_accounts", "-c", "VACUUM (ANALYZE) pgbench_accounts",
                        "-c", "CHECKPOINT"], env=cluster.env(i), check=True)


def pgbench_direct(cluster, script, mode, clients, seconds):
    """pgbench straight at every shard of `cluster` at once, clients split between them."""
    procs = []
    n = len(cluster.shards)
    for i in range(n):
        env = cluster.env(i)
        share = clients // n + (1 if i < clients % n else 0)
        procs.append(subprocess.Popen(
            ["pgbench", "-n", "-f", script, "-M", mode, "-c", str(share), "-j", "1", "-T", str(seconds)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    total = 0.0
    for p in procs:
        out, err = p.communicate(timeout=seconds + 60)
        if p.returncode != 0:
            raise RuntimeError(err.strip()[-400:])
        total += float(re.search(r"tps = ([0-9.]+)", out).group(1))
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-T", type=int, default=10)
    ap.add_argument("--rows", type=int, default=100000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--modes", default="simple,prepared")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--pool-size", type=int, default=0,
                    help="server connections per shard (default: clients / shards, at least 2, so both "
                         "setups run about as many PostgreSQL backends)")
    ap.add_argument("--etcd", action="store_true",
                    help="also run a 4-shard shardgate following its map in etcd (see the top)")
    args = ap.parse_args()
    binary = os.environ.get("SHARDGATE_BIN", os.path.join(HERE, "..", "..", "build", "release", "shardgate"))
    work = tempfile.mkdtemp(prefix="sg-routing-bench-")
    script = os.path.join(work, "select.sql")
    with open(script, "w") as f:
        f.write(SCRIPT.format(rows=args.rows))
    direct_script = os.path.join(work, "select-direct.sql")
    with open(direct_script, "w") as f:
        f.write(SCRIPT.format(rows=args.rows).replace("pgbench_accounts", "direct_accounts"))
    targets = {}
    clusters = {}
    with pgcluster.Cluster(4) as four, pgcluster.Cluster(1) as one:
        procs = []
        etcd = None
        try:
            for name, cluster in (("4 shards", four), ("1 shard", one)):
                port = free_port()
                cfg = pgcluster.write_shardgate_config(
                    os.path.join(work, f"{len(cluster.shards)}.toml"), cluster,
                    proxy={"port": port,
                           "pool_size": args.pool_size or max(2, args.clients // len(cluster.shards))},
                    sharding={"map_file": f"shardmap-{len(cluster.shards)}.json"},
                    tables=[{"name": "pgbench_accounts", "shard_key": "aid", "key_type": "integer"}])
                proc = ShardgateProcess(cfg, port, log_path=os.path.join(work, f"{len(cluster.shards)}.log"),
                                        binary=binary)
                proc.start()
                procs.append(proc)
                env = dict(os.environ, PGHOST="127.0.0.1", PGPORT=str(port), PGDATABASE=cluster.dbname,
                           PGUSER=cluster.superuser)
                load(env, args.rows)
                targets[name] = env
                clusters[name] = cluster
                load_direct(cluster, args.rows)
            if args.etcd:
                from etcdcluster import EtcdCluster
                etcd = EtcdCluster(1).start()
                port = free_port()
                # The 4-shard proxy's map file (version 1, stamped on the shards): this proxy
                # publishes it to the empty etcd, then follows the key.
                cfg = pgcluster.write_shardgate_config(
                    os.path.join(work, "4-etcd.toml"), four,
                    proxy={"port": port, "pool_size": args.pool_size or max(2, args.clients // 4)},
                    sharding={"map_file": "shardmap-4.json"},
                    tables=[{"name": "pgbench_accounts", "shard_key": "aid", "key_type": "integer"}],
                    cluster_section={"etcd": etcd.endpoints(), "prefix": "/shardgate/routing-bench"})
                proc = ShardgateProcess(cfg, port, log_path=os.path.join(work, "4-etcd.log"), binary=binary)
                proc.start()
                procs.append(proc)
                targets["4 shards etcd"] = dict(targets["4 shards"], PGPORT=str(port))
                clusters["4 shards etcd"] = four
            # Warm-up, not measured: server connections opened, lookups prepared, caches filled.
            for mode in args.modes.split(","):
                for env in targets.values():
                    pgbench(env, script, mode, args.clients, 2)
            results = {}
            for rnd in range(args.rounds):
                # Alternate which setup runs first, so a drift of the machine over a round (another
                # tenant, a PostgreSQL background task) does not always fall on the same one.
                order = list(targets) if rnd % 2 == 0 else list(reversed(targets))
                for mode in args.modes.split(","):
                    for name in order:
                        env = targets[name]
                        shard_pids = [s.pid for s in clusters[name].shards]
                        sg_pid = procs[list(targets).index(name)].pid
                        pg0, sg0, bench0 = proc_cpu(shard_pids), proc_cpu([sg_pid]), children_cpu()
                        tps, lat = pgbench(env, script, mode, args.clients, args.T)
                        txs = tps * args.T
                        cpu = ((proc_cpu(shard_pids) - pg0) / txs * 1e6, (proc_cpu([sg_pid]) - sg0) / txs * 1e6,
                               (children_cpu() - bench0) / txs * 1e6)
                        results.setdefault((mode, name), []).append((tps, lat))
                        results.setdefault((mode, name, "cpu"), []).append(cpu)
                        print(f"round {rnd + 1} -M {mode:8s} {name:9s} tps {tps:9.0f}  avg {lat:.3f} ms  "
                              f"CPU us/tx: postgres {cpu[0]:.1f}, shardgate {cpu[1]:.1f}, pgbench {cpu[2]:.1f}",
                              flush=True)
                    for name in order:
                        if name.endswith("etcd"):
                            continue  # the direct runs are the 4-shard ones
                        cluster = clusters[name]
                        shard_pids = [s.pid for s in cluster.shards]
                        pg0 = proc_cpu(shard_pids)
                        tps = pgbench_direct(cluster, direct_script, mode, args.clients, args.T)
                        pg_cpu = (proc_cpu(shard_pids) - pg0) / (tps * args.T) * 1e6
                        results.setdefault((mode, name + " direct"), []).append((tps, 0.0))
                        results.setdefault((mode, name + " direct", "cpu"), []).append((pg_cpu, 0.0, 0.0))
                        print(f"round {rnd + 1} -M {mode:8s} {name:9s} direct tps {tps:9.0f}  "
                              f"CPU us/tx: postgres {pg_cpu:.1f}", flush=True)
            print(f"\npgbench -S (custom script), {args.rows} rows, -c {args.clients} -j 2, "
                  f"{args.rounds} x {args.T}s interleaved, order alternating by round\n")
            print(f"{'mode':9s} {'4-shard tps':>12s} {'1-shard tps':>12s} {'ratio':>7s}   "
                  f"{'direct 4':>9s} {'direct 1':>9s} {'ratio':>7s}   {'routing overhead':>16s}")

            def avg(key):
                return sum(t for t, _ in results[key]) / args.rounds

            def per_round(a, b):
                return [x[0] / y[0] for x, y in zip(results[a], results[b])]

            def median(xs):
                xs = sorted(xs)
                return (xs[(len(xs) - 1) // 2] + xs[len(xs) // 2]) / 2

            for mode in args.modes.split(","):
                four_tps, one_tps = avg((mode, "4 shards")), avg((mode, "1 shard"))
                d4, d1 = avg((mode, "4 shards direct")), avg((mode, "1 shard direct"))
                sg_ratio, direct_ratio = four_tps / one_tps, d4 / d1
                print(f"{mode:9s} {four_tps:12.0f} {one_tps:12.0f} {sg_ratio:7.2f}   "
                      f"{d4:9.0f} {d1:9.0f} {direct_ratio:7.2f}   {sg_ratio / direct_ratio:16.2f}")
            print("\n4-shard / 1-shard TPS per round (a round runs both back to back), and its median\n")
            for mode in args.modes.split(","):
                for label, suffix in (("shardgate", ""), ("direct", " direct")):
                    rs = per_round((mode, "4 shards" + suffix), (mode, "1 shard" + suffix))
                    print(f"{mode:9s} {label:9s} {' '.join(f'{r:.2f}' for r in rs)}   median {median(rs):.2f}")
            if args.etcd:
                print("\n4-shard etcd / 4-shard file-based map TPS per round, and its median\n")
                for mode in args.modes.split(","):
                    rs = per_round((mode, "4 shards etcd"), (mode, "4 shards"))
                    print(f"{mode:9s} {' '.join(f'{r:.3f}' for r in rs)}   median {median(rs):.3f}")
            print(f"\nCPU per transaction through shardgate, then of PostgreSQL alone in the direct runs "
                  f"(us, user + system, mean of rounds)\n")
            print(f"{'mode':9s} {'setup':9s} {'postgres':>9s} {'shardgate':>10s} {'pgbench':>8s}")
            for mode in args.modes.split(","):
                for name in targets:
                    rows = results[(mode, name, "cpu")]
                    pg, sg, pb = (sum(r[i] for r in rows) / len(rows) for i in range(3))
                    print(f"{mode:9s} {name:9s} {pg:9.1f} {sg:10.1f} {pb:8.1f}")
                for name in targets:
                    if (mode, name + " direct", "cpu") not in results:
                        continue
                    rows = results[(mode, name + " direct", "cpu")]
                    print(f"{mode:9s} {name + ' direct':16s} {sum(r[0] for r in rows) / len(rows):9.1f}")
        finally:
            for p in procs:
                p.stop()
            if etcd:
                etcd.stop()


if __name__ == "__main__":
    main()
