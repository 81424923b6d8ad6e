#!/usr/bin/python3
"""Pipelined extended protocol (issue 21): one Parse and N Bind/Execute pairs before one Sync,
the shape of a JDBC executeBatch, through shardgate over 4 shards vs the same batch sent to
one PostgreSQL directly.

    SHARDGATE_BIN=build/release/shardgate bench/pipeline/run.py [--rows 20000] [--rounds 3]

The statement is an upsert by key (`INSERT ... ON CONFLICT (id) DO UPDATE`), so every round
writes the same rows again and the tables do not grow. Targets alternate which goes first by
round; the report gives the median seconds of each and the shardgate/direct ratio (target
<= 2). The client sends from a thread while the main thread reads the replies, as a driver
does (sending everything first could fill both socket buffers and stall).
"""
import argparse
import os
import statistics
import struct
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))  # bench/: sharded_vs_direct (it adds tests/harness)
import sharded_vs_direct  # noqa: E402
import pgwire  # noqa: E402

SCHEMA = "CREATE TABLE items (id bigint PRIMARY KEY, v text NOT NULL)"
SQL = "INSERT INTO items VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET v = excluded.v"
TABLES = [{"name": "items", "kind": "sharded", "shard_key": "id", "key_type": "bigint"}]


def batch_bytes(rows, round_no):
    out = [pgwire.frame("P", b"ins\0" + SQL.encode() + b"\0" + struct.pack(">h", 0))]
    for i in range(rows):
        out.append(pgwire.stmt_frames(pgwire.Stmt(params=[str(i + 1), f"r{round_no}-{i}"], name="ins",
                                                  prepare=False, describe=False)))
    out.append(pgwire.frame("S"))
    return b"".join(out)


def run_batch(host, port, dbname, user, payload, rows):
    c = pgwire.WireConn(host, port, timeout=300)
    try:
        c.startup(user, dbname)
        sender = threading.Thread(target=c.send_raw, args=(payload,))
        t0 = time.perf_counter()
        sender.start()
        results = c._collect(raise_error=True)
        elapsed = time.perf_counter() - t0
        sender.join()
        done = sum(1 for r in results if r.tag.startswith("INSERT"))
        if done != rows:
            raise RuntimeError(f"{done} of {rows} inserts answered")
        return elapsed
    finally:
        c.terminate()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with sharded_vs_direct.targets(4, SCHEMA, TABLES, "bench_pipeline") as targets:
        times = {k: [] for k in targets}
        warm = batch_bytes(min(args.rows, 1000), -1)
        for k, t in targets.items():
            run_batch(*t, warm, min(args.rows, 1000))
        for r in range(args.rounds):
            payload = batch_bytes(args.rows, r)
            order = list(targets)
            if r % 2:
                order.reverse()
            for k in order:
                s = run_batch(*targets[k], payload, args.rows)
                times[k].append(s)
                print(f"round {r + 1} {k:10} {s:.3f} s", flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\none Parse + {args.rows} Bind/Execute + one Sync (upsert by key), median of {args.rounds} rounds")
    for k, v in med.items():
        print(f"{k:10} {v:8.3f} s  ({args.rows / v:,.0f} rows/s)")
    print(f"shardgate (4 shards) / direct (1 PostgreSQL): {med['shardgate'] / med['direct']:.2f}x (target <= 2)")


if __name__ == "__main__":
    main()
