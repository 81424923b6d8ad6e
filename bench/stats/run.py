#!/usr/bin/python3
"""Statistics cost benchmark (issues 5, 20): pgbench -S through shardgate with [stats] enabled
and disabled, one shard, interleaved in one run (which goes first alternates by round); prints
TPS of each and the relative cost. With literals in every text (simple mode) each statement is
a new text: that is what the shape cache's literal-free keys are for.

    SHARDGATE_BIN=build/release/shardgate bench/stats/run.py [-T SECONDS] [--rounds N]
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "harness"))
import pgcluster  # noqa: E402
from shardgate_proc import ShardgateProcess, free_port  # noqa: E402


def pgbench(env, mode, clients, seconds):
    out = subprocess.run(["pgbench", "-n", "-S", "-M", mode, "-c", str(clients), "-j", "2", "-T", str(seconds)],
                         env=env, capture_output=True, text=True, timeout=seconds + 60)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip()[-400:])
    return float(re.search(r"tps = ([0-9.]+)", out.stdout).group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-T", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--modes", default="simple,prepared")
    args = ap.parse_args()
    binary = os.environ.get("SHARDGATE_BIN", os.path.join(HERE, "..", "..", "build", "release", "shardgate"))
    work = tempfile.mkdtemp(prefix="sg-stats-bench-")
    with pgcluster.Cluster(1) as cluster:
        env0 = dict(os.environ, PGHOST="127.0.0.1", PGPORT=str(cluster.shards[0].port), PGDATABASE=cluster.dbname,
                    PGUSER=cluster.superuser)
        subprocess.run(["pgbench", "-q", "-i", "-s", "10"], env=env0, check=True, capture_output=True)
        targets, procs = {}, []
        try:
            for name, enabled in (("stats on", True), ("stats off", False)):
                port = free_port()
                cfg = pgcluster.write_shardgate_config(os.path.join(work, f"{enabled}.toml"), cluster,
                                                       proxy={"port": port, "pool_size": 20},
                                                       stats={"enabled": enabled})
                proc = ShardgateProcess(cfg, port, log_path=os.path.join(work, f"{enabled}.log"), binary=binary)
                proc.start()
                procs.append(proc)
                targets[name] = dict(env0, PGPORT=str(port))
            results = {}
            for rnd in range(args.rounds):
                for mode in args.modes.split(","):
                    # Alternating which runs first cancels drift (caches warming, a neighbour's load).
                    order = list(targets.items())
                    if rnd % 2:
                        order.reverse()
                    for name, env in order:
                        tps = pgbench(env, mode, args.clients, args.T)
                        results.setdefault((mode, name), []).append(tps)
                        print(f"round {rnd + 1} -M {mode:8s} {name:9s} tps {tps:9.0f}", flush=True)
            print(f"\npgbench -S, scale 10, -c {args.clients} -j 2, {args.rounds} x {args.T}s interleaved, "
                  f"order alternating\n")
            print(f"{'mode':9s} {'stats on':>10s} {'stats off':>10s} {'cost':>7s}")
            for mode in args.modes.split(","):
                on = sum(results[(mode, "stats on")]) / args.rounds
                off = sum(results[(mode, "stats off")]) / args.rounds
                print(f"{mode:9s} {on:10.0f} {off:10.0f} {100 * (1 - on / off):6.1f}%")
        finally:
            for p in procs:
                p.stop()


if __name__ == "__main__":
    main()
