#!/usr/bin/python3
"""The differential SQL fuzzer's command line (`make fuzz-sql SEED=... N=... MINUTES=...`).

Starts an oracle PostgreSQL and shardgate over 4 shards (tests/harness), runs a campaign, and
prints the counts: agree / refused by construct / wrong / other error / crash. Minimised
failures are appended to the findings file (JSON lines, the corpus format).

    SHARDGATE_BIN=build/test/shardgate PYTHONPATH=tests/harness \\
        /usr/bin/python3 tests/differential/fuzz.py --seed 1 --n 500
Exit status: 0 when no statement was answered wrong, failed otherwise or crashed the proxy.
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "harness"))

import compare  # noqa: E402
from campaign import campaign  # noqa: E402
from env import Env  # noqa: E402
from runner import Runner  # noqa: E402
from exclusions import OPEN_CLASS_EXCLUSIONS  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--n", type=int, default=None, help="statements to generate")
    ap.add_argument("--minutes", type=float, default=None, help="stop after this long")
    ap.add_argument("--findings", default="differential-findings.jsonl",
                    help="minimised failures are appended here")
    ap.add_argument("--exclude", action="append", default=[],
                    help="a production to leave out (repeatable); see README.md")
    ap.add_argument("--exclude-open", action="store_true",
                    help="leave out the productions of the still-open classes "
                         "(exclusions.py), as the make test slice does")
    ap.add_argument("--no-minimise", action="store_true")
    ap.add_argument("--write-share", type=float, default=0.3)
    ap.add_argument("--nice", type=int, default=None,
                    help="after setup, lower this process's, the servers' and the proxy's "
                         "priority to this niceness (setup runs at normal priority)")
    ap.add_argument("--statement-timeout", type=float, default=60,
                    help="seconds without an answer before the proxy counts as crashed")
    args = ap.parse_args(argv)
    compare.STATEMENT_TIMEOUT_S = args.statement_timeout
    if args.n is None and args.minutes is None:
        args.n = 300
    exclude = list(args.exclude)
    if args.exclude_open:
        exclude += list(OPEN_CLASS_EXCLUSIONS)
    started = time.monotonic()
    env = Env("fuzz_sql").start()
    for table, why in env.unavailable.items():
        print(f"left out {table}: the proxy refused its CREATE TABLE ({why})", flush=True)
    if args.nice is not None:
        env.renice(args.nice)
    try:
        runner = Runner(env)
        counts = campaign(runner, args.seed, n=args.n, minutes=args.minutes, exclude=exclude,
                          findings_path=args.findings, minimise=not args.no_minimise,
                          write_share=args.write_share,
                          log=lambda s: print(s, flush=True))
        runner.close()
    finally:
        env.stop()
    print(f"seed {args.seed}, {time.monotonic() - started:.0f} s, excluded: "
          f"{', '.join(exclude) or 'nothing'}")
    print(counts.report())
    if counts.findings:
        print(f"minimised failures appended to {args.findings}")
    bad = sum(counts.verdicts.get(k, 0) for k in ("wrong", "other_error", "crash"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
