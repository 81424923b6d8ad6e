#!/usr/bin/python3
"""One client's large statement vs another client's point reads (issue 21): how long does a
statement of many megabytes hold up the other clients of the proxy?

    SHARDGATE_BIN=build/release/shardgate bench/large_statement/run.py [--mb 60] [--rounds 3]

One client sends `INSERT INTO docs VALUES (k, '<MB megabytes>')` (a document as a literal, as
an application storing blobs in text does); meanwhile another client reads one row by key in a
loop and records each read's latency. Reported per target: the big statement's time, and the
slowest and 99th-percentile point read while it ran. Targets alternate which goes first by
round: shardgate over 2 shards, and one PostgreSQL directly (its own backend per client, so
its reads are the floor). The proxy runs every client on one event loop: whatever it does to
the big text on that loop (reading, hashing, parsing, fingerprinting) delays the reads.
"""
import argparse
import os
import statistics
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))  # bench/: sharded_vs_direct (it adds tests/harness)
import sharded_vs_direct  # noqa: E402
import pgwire  # noqa: E402

SCHEMA = "CREATE TABLE docs (id bigint PRIMARY KEY, body text NOT NULL)"
TABLES = [{"name": "docs", "kind": "sharded", "shard_key": "id", "key_type": "bigint"}]


def one_round(target, big_sql, big_id):
    host, port, dbname, user = target
    reader = pgwire.WireConn(host, port, timeout=300)
    writer = pgwire.WireConn(host, port, timeout=300)
    reader.startup(user, dbname)
    writer.startup(user, dbname)
    try:
        writer.query(f"DELETE FROM docs WHERE id = {big_id}")
        lat = []
        stop = threading.Event()

        def reads():
            while not stop.is_set():
                t0 = time.perf_counter()
                rows = reader.query("SELECT id FROM docs WHERE id = 1")
                lat.append(time.perf_counter() - t0)
                if not rows or not rows[0].rows:
                    raise RuntimeError("point read found nothing")

        t = threading.Thread(target=reads)
        t.start()
        time.sleep(0.3)  # the reads' steady state first
        before = len(lat)
        t0 = time.perf_counter()
        writer.query(big_sql)
        big = time.perf_counter() - t0
        during = lat[before:]
        stop.set()
        t.join()
        during = during or lat[-1:]
        during.sort()
        p99 = during[min(len(during) - 1, int(0.99 * len(during)))]
        return big, max(during), p99, len(during)
    finally:
        reader.terminate()
        writer.terminate()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    body = "x" * (args.mb * 1024 * 1024)
    with sharded_vs_direct.targets(2, SCHEMA, TABLES, "bench_large_statement") as targets:
        for t in targets.values():
            c = pgwire.WireConn(t[0], t[1], timeout=60)
            c.startup(t[3], t[2])
            c.query("INSERT INTO docs VALUES (1, 'small')")
            c.terminate()
        res = {k: [] for k in targets}
        for r in range(args.rounds):
            order = list(targets) if r % 2 == 0 else list(reversed(targets))
            for k in order:
                big_id = 1000 + r
                out = one_round(targets[k], f"INSERT INTO docs VALUES ({big_id}, '{body}')", big_id)
                res[k].append(out)
                print(f"round {r + 1} {k:10} statement {out[0]:.3f} s; point reads during it: "
                      f"{out[3]}, slowest {out[1] * 1000:.1f} ms, p99 {out[2] * 1000:.1f} ms", flush=True)
    print(f"\n{args.mb} MB INSERT by one client, point reads by another; median of {args.rounds} rounds")
    med = {}
    for k, v in res.items():
        med[k] = [statistics.median(x[i] for x in v) for i in range(3)]
        print(f"{k:10} statement {med[k][0]:.3f} s  slowest read {med[k][1] * 1000:8.1f} ms  "
              f"p99 read {med[k][2] * 1000:8.1f} ms")
    print(f"slowest point read, shardgate - direct: {(med['shardgate'][1] - med['direct'][1]) * 1000:.1f} ms "
          f"(target: a few ms)")


if __name__ == "__main__":
    main()
