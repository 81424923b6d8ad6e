#!/usr/bin/python3
"""Commit latency of a two-shard write vs a one-shard write through shardgate (issue 18).

    SHARDGATE_BIN=build/release/shardgate bench/txn/run.py [--seconds 5] [--rounds 3]

One 2-shard cluster, one proxy. Each measured unit is one autocommit transfer
    UPDATE accounts SET balance = balance + CASE WHEN id = a THEN -1 ELSE 1 END WHERE id IN (a, b)
with a and b on the same shard (one shard: BEGIN-less autocommit, one round trip) or on
different shards (two-phase commit: BEGIN + UPDATE, PREPARE on both with the decision row on
the coordinator, COMMIT PREPARED on the coordinator, COMMIT PREPARED on the other). A third
setup runs the two-shard transfer with [transactions] two_phase_commit = false (each shard
commits its part alone: not atomic), which is what the same statement cost before two-phase
commit. Setups alternate by round; each reports p50/p95 latency and throughput of one client,
and the 2PC/one-shard ratio at p50 (target <= 2.5).

With --unit transaction the measured unit is the issue's "transaction of the same statements":
    BEGIN; UPDATE accounts SET balance = balance - 1 WHERE id = a;
           UPDATE accounts SET balance = balance + 1 WHERE id = b; COMMIT
(four client round trips), a and b on one shard or on two.
"""
import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "harness"))
import psycopg2  # noqa: E402

import pgcluster  # noqa: E402
from sgfixture import Proxy, shard_conn, shard_rows, shard_of  # noqa: E402
from shardgate_proc import ShardgateProcess  # noqa: E402

ACCOUNTS = 1000
TABLES = [{"name": "accounts", "kind": "sharded", "shard_key": "id", "key_type": "bigint"}]
SQL = "UPDATE accounts SET balance = balance + CASE WHEN id = %s THEN -1 ELSE 1 END WHERE id IN (%s, %s)"


def start_proxy(cluster, name, two_phase):
    p = Proxy(cluster, name, tables=TABLES)
    p.write_config()
    with open(p.config_path, "a") as f:
        f.write(f"\n[transactions]\ntwo_phase_commit = {'true' if two_phase else 'false'}\n")
    p.proc = ShardgateProcess(p.config_path, p.port, log_path=p.log_path).start()
    return p


DEBIT = "UPDATE accounts SET balance = balance - 1 WHERE id = %s"
CREDIT = "UPDATE accounts SET balance = balance + 1 WHERE id = %s"
UNIT = "statement"


def measure(proxy, pairs, seconds):
    conn = proxy.connect(autocommit=True)
    cur = conn.cursor()
    lat = []
    i = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        a, b = pairs[i % len(pairs)]
        i += 1
        t = time.perf_counter()
        if UNIT == "transaction":
            cur.execute("BEGIN")
            cur.execute(DEBIT, (a,))
            cur.execute(CREDIT, (b,))
            cur.execute("COMMIT")
        else:
            cur.execute(SQL, (a, a, b))
        lat.append(time.perf_counter() - t)
    conn.close()
    lat.sort()
    return {"n": len(lat), "p50_ms": lat[len(lat) // 2] * 1e3, "p95_ms": lat[int(len(lat) * 0.95)] * 1e3,
            "tps": len(lat) / seconds}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--unit", choices=("statement", "transaction"), default="statement")
    args = ap.parse_args()
    global UNIT
    UNIT = args.unit
    with pgcluster.Cluster(2) as cluster:
        for i in range(2):
            c = shard_conn(cluster, i)
            shard_rows(c, "CREATE TABLE accounts (id bigint PRIMARY KEY, balance bigint NOT NULL)")
            mine = [a for a in range(1, ACCOUNTS + 1) if shard_of(a, "bigint", 2) == i]
            shard_rows(c, "INSERT INTO accounts SELECT unnest(%s::bigint[]), 1000", (mine,))
            c.close()
        by_shard = {0: [], 1: []}
        for a in range(1, ACCOUNTS + 1):
            by_shard[shard_of(a, "bigint", 2)].append(a)
        same = [(by_shard[s][i], by_shard[s][i + 1]) for s in (0, 1) for i in range(0, 200, 2)]
        cross = [(by_shard[0][i], by_shard[1][i]) for i in range(200)]
        with_2pc = start_proxy(cluster, "bench_txn_2pc", True)
        without = start_proxy(cluster, "bench_txn_no2pc", False)
        try:
            measure(with_2pc, same, 1)  # warm-up: pools, caches
            measure(with_2pc, cross, 1)
            # Without 2PC a transaction cannot span shards (refused): the statement unit only.
            with_baseline = UNIT == "statement"
            if with_baseline:
                measure(without, cross, 1)
            results = {"one-shard": [], "two-shard 2PC": []}
            if with_baseline:
                results["two-shard no 2PC"] = []
            for r in range(args.rounds):
                order = [("one-shard", with_2pc, same), ("two-shard 2PC", with_2pc, cross)]
                if with_baseline:
                    order.append(("two-shard no 2PC", without, cross))
                if r % 2:
                    order.reverse()
                for name, proxy, pairs in order:
                    results[name].append(measure(proxy, pairs, args.seconds))
        finally:
            with_2pc.stop()
            without.stop()
    print(f"unit: {args.unit}")
    print(f"{'setup':18} {'p50 ms':>8} {'p95 ms':>8} {'tps':>8}   (median of {args.rounds} rounds, 1 client)")
    med = {}
    for name, rs in results.items():
        med[name] = {k: statistics.median(x[k] for x in rs) for k in ("p50_ms", "p95_ms", "tps")}
        print(f"{name:18} {med[name]['p50_ms']:8.3f} {med[name]['p95_ms']:8.3f} {med[name]['tps']:8.0f}")
    line = (f"2PC / one-shard at p50: {med['two-shard 2PC']['p50_ms'] / med['one-shard']['p50_ms']:.2f}x "
            f"(target <= 2.5)")
    if "two-shard no 2PC" in med:
        line += f"; 2PC / no-2PC two-shard: {med['two-shard 2PC']['p50_ms'] / med['two-shard no 2PC']['p50_ms']:.2f}x"
    print(line)


if __name__ == "__main__":
    main()
