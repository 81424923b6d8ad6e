"""The rebalancer through etcd (issue 22): 3 proxies, 4 -> 5 shards, no --proxy list.

A 3-node etcd holds the map; three proxies follow it and register under leases. While client
threads write and read through all three proxies (round robin: each thread sticks to one),
`shardgate rebalance run` takes the cluster's rebalance lock, finds the proxies from their
registrations, and publishes every switch's map version to etcd by compare-and-swap (the
decision), before the proxies reload it and resume. Afterwards: zero client errors, zero lost,
duplicated or misplaced rows (test_rebalance.RebalanceCase.check_final, which also runs
`rebalance verify`), every proxy routes by etcd's final version and registers it, and the
lock is released. A second rebalancer finds the lock taken while one runs.

The switches' pauses go through etcd (no admin console): a poller reads the whole prefix in one
request every few ms through the run and checks the protocol in those consistent snapshots:
the pause key `<prefix>/pause` appears with every proxy's registration acknowledging it
("held", its buckets paused), the map moves to V+1 while it is still there and every proxy
registers V+1 before the key disappears; at the end no pause key is left.
"""

import itertools
import json
import os
import subprocess
import threading
import time
import unittest

import test_rebalance as tr
from etcdcluster import range_http, start_following_proxies, start_with_pg

tr.ROWS = 20000          # enough rows for ~800 buckets of data; keeps the test well under 90 s
PREFIX = "/shardgate/rbtest"
# Each switch through etcd costs a few round trips (pause key, acknowledgements, decision,
# resume: ~250-300 ms on the loaded Debug+ASan build) on top of the pause itself: with the
# file-based tests' 250 ms bound the mover halves its groups to one bucket and the run takes
# minutes. A 1 s bound keeps groups of several buckets; the figure names the bound it ran with.
PAUSE_MS = os.environ.get("SG_ETCD_REBALANCE_PAUSE_MS", "1000")


class RoundRobin:
    """Looks like one proxy to tr.Workload; each connection goes to the next proxy."""

    def __init__(self, proxies):
        self._next = itertools.cycle(proxies)

    def connect(self, **kw):
        return next(self._next).connect(**kw)


class PausePoller:
    """Snapshots of the prefix while the pause key exists (see the module's docstring)."""

    def __init__(self, endpoint):
        self.endpoint = endpoint
        self.with_key = []       # (order, registrations, map version) while the key existed
        self.errors = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._t.start()
        return self

    def stop(self):
        self._stop.set()
        self._t.join(10)

    def _run(self):
        while not self._stop.is_set():
            try:
                _, kvs = range_http(self.endpoint, PREFIX + "/")
            except OSError:
                self.errors += 1
                time.sleep(0.05)
                continue
            if PREFIX + "/pause" in kvs:
                order = json.loads(kvs[PREFIX + "/pause"][0])
                regs = {k: json.loads(v[0]) for k, v in kvs.items() if k.startswith(PREFIX + "/proxies/")}
                version = json.loads(kvs[PREFIX + "/map"][0])["version"]
                self.with_key.append((order, regs, version))
            time.sleep(0.002)


def normalized_runs(runs):
    out = set()
    for part in filter(None, runs.split(",")):
        a, _, b = part.partition("-")
        out.update(range(int(a), int(b or a) + 1))
    return out


class EtcdRebalance(unittest.TestCase):
    def setUp(self):
        self.cluster, self.etcd = start_with_pg(self, 5, lambda c: tr.load_initial(c, 4))
        # The first proxy of the brand-new cluster publishes map v1 over the 4 loaded shards;
        # then every proxy runs with the 5th shard listed (it owns nothing until the run).
        self.proxies = start_following_proxies(
            self, self.cluster, self.etcd, ("rbe-a", "rbe-b", "rbe-c"), PREFIX, tr.TABLES, loaded=4,
            proxy={"pool_size": 8},
            after_publish=lambda: self.assertEqual(json.loads(self.etcd.get(PREFIX + "/map"))["version"], 1))
        self.config = self.proxies[0].config_path

    def registrations(self):
        return {k: json.loads(v) for k, v in self.etcd.get_prefix(PREFIX + "/proxies/").items()}

    def check_pause_snapshots(self, snaps):
        self.assertTrue(snaps, "the pause key was never seen during the run")
        ids = {o["id"] for o, _, _ in snaps}
        acked, switched = set(), set()
        for order, regs, version in snaps:
            self.assertEqual(len(regs), 3, regs)
            # Only the run's own switch moves the map while its pause exists: V or V+1.
            self.assertIn(version, (order["version"], order["version"] + 1), order)
            held = [r for r in regs.values() if (r.get("pause") or {}).get("id") == order["id"]
                    and r["pause"]["state"] == "held"]
            for r in held:   # "held" is written after the paused buckets are registered
                self.assertEqual(normalized_runs(r["paused_buckets"]), normalized_runs(order["buckets"]), (order, r))
            if len(held) == 3:
                acked.add(order["id"])
            if version == order["version"] + 1 and all(r["map_version"] == version for r in regs.values()):
                switched.add(order["id"])
        print(f"\nFIGURE etcd pause keys: {len(ids)} pauses seen, {len(acked)} with all 3 acknowledgements and "
              f"paused buckets in the registrations, {len(switched)} with every proxy on V+1 before the key went "
              f"({len(snaps)} snapshots)")
        self.assertTrue(acked, "no snapshot showed all 3 proxies acknowledging a pause with its buckets")
        self.assertTrue(switched, "no snapshot showed every proxy on V+1 while the pause key was still there")

    def test_rebalance_through_etcd(self):
        deadline = time.monotonic() + 5
        while len(self.registrations()) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(len(self.registrations()), 3)

        poller = PausePoller(self.etcd.endpoints()[0]).start()
        self.addCleanup(poller.stop)
        work = tr.Workload(RoundRobin(self.proxies))
        work.start()
        time.sleep(1)
        # A concurrent rebalancer is refused while this one holds the lock.
        run = subprocess.Popen([tr.rebalancer_bin(), "rebalance", "run", "--json", "--max-pause-ms", PAUSE_MS,
                                "-c", self.config], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 20
            while self.etcd.get(PREFIX + "/rebalance/lock") is None and time.monotonic() < deadline \
                    and run.poll() is None:
                time.sleep(0.02)
            second = tr.run_rebalance(self.config, "run", "--max-pause-ms", PAUSE_MS, timeout=60)
            self.assertNotEqual(second.returncode, 0, second.stdout)
            self.assertIn("another rebalance holds the lock", second.stderr)
            out, err = run.communicate(timeout=600)
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()
        if os.environ.get("SG_RB_LOG"):   # the rebalancer's log, to study the switches' timings
            with open(os.environ["SG_RB_LOG"], "w") as f:
                f.write(err)
        time.sleep(1)
        work.finish()
        self.assertEqual(run.returncode, 0, out + err[-4000:])
        summary = json.loads(out)
        self.assertEqual(summary["buckets"], 819)
        p50, p99, mx = summary["pause_ms_p50"], summary["pause_ms_p99"], summary["pause_ms_max"]
        print(f"\nFIGURE etcd rebalance 4->5 shards with 3 proxies: {summary['switches']} switches, "
              f"pause p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {mx:.1f} ms "
              f"(--max-pause-ms {PAUSE_MS}, Debug+ASan build)")

        poller.stop()
        self.check_pause_snapshots(poller.with_key)
        self.assertIsNone(self.etcd.get(PREFIX + "/pause"), "a pause key was left behind")

        final = json.loads(self.etcd.get(PREFIX + "/map"))
        self.assertGreater(final["version"], 1)
        self.assertEqual(final["shards"][4] if len(final["shards"]) > 4 else None, "s4")
        for p in self.proxies:
            m = p.admin("SHOW MAP")[0]
            self.assertEqual(int(m["version"]), final["version"], p.name)
            self.assertEqual(m["refused"], "", p.name)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            regs = self.registrations()
            if all(r["map_version"] == final["version"] and r["paused_buckets"] == ""
                   and r["pause"]["state"] == "resumed" for r in regs.values()):
                break
            time.sleep(0.05)
        self.assertTrue(all(r["map_version"] == final["version"] for r in regs.values()), regs)
        self.assertTrue(all(r["pause"]["state"] == "resumed" for r in regs.values()), regs)
        self.assertIsNone(self.etcd.get(PREFIX + "/rebalance/lock"), "the lock must be released")
        try:
            tr.RebalanceCase.check_final(self, work)
        except AssertionError:
            # The rebalancer's own account of its switches (aborted ones and why) is what
            # explains a wrong row.
            print("rebalancer log (tail):\n" + "\n".join(
                line for line in err.splitlines()[-400:]
                if any(w in line for w in ("abort", "error", "switched", "etcd", "warn"))))
            raise


if __name__ == "__main__":
    unittest.main()
