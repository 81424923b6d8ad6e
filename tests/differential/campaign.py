"""One fuzzing campaign: generate, run in every protocol and settings profile, count, minimise.

Each read runs four times: the simple protocol, the extended protocol with text parameters,
with binary parameters and results (all under default settings), and once more in a random
protocol under a random non-default settings profile. Each write runs once (it changes the
data), in a random protocol and profile. Every 300 statements the tables go back to their
initial rows, so long runs keep finding rows to read, update and delete.
"""

import collections
import random
import time

import dataset
from compare import PROFILES, PROTOCOLS
from corpus import append, record
from gen_common import Gen
from gen_read import gen_read
from gen_write import gen_write

FAILURES = ("wrong", "other_error", "crash")
RESET_EVERY = 300


class Counts:
    def __init__(self):
        self.verdicts = collections.Counter()
        self.refused = collections.Counter()          # construct -> count
        self.by_production = collections.defaultdict(collections.Counter)
        self.by_feature = collections.defaultdict(collections.Counter)
        self.statements = 0
        self.findings = []                            # minimised failure records

    def add(self, v):
        self.verdicts[v.verdict] += 1
        self.by_production[v.case.production][v.verdict] += 1
        for f in v.case.features:
            self.by_feature[f][v.verdict] += 1
        if v.verdict == "refused":
            self.refused[v.reason] += 1

    def report(self):
        lines = [f"statements: {self.statements}, executions: {sum(self.verdicts.values())}"]
        for k in ("agree", "refused", "wrong", "other_error", "crash"):
            lines.append(f"  {k:<12} {self.verdicts.get(k, 0)}")
        if self.refused:
            lines.append("refused by construct:")
            for c, n in self.refused.most_common():
                lines.append(f"  {n:>6}  {c}")
        for title, table in (("production", self.by_production),
                             ("feature", self.by_feature)):
            lines.append(f"by {title} (agree/refused/wrong/other_error/crash):")
            for p in sorted(table):
                c = table[p]
                lines.append(f"  {p:<26} " + "/".join(str(c.get(k, 0)) for k in
                                                        ("agree", "refused", "wrong",
                                                         "other_error", "crash")))
        if self.findings:
            lines.append("failures (minimised):")
            for f in self.findings:
                lines.append(f"  [{f['verdict']}/{f['reason']}] {f['production']} "
                             f"{f['protocol']}/{f['profile']}: {f['sql'][:300]}")
        return "\n".join(lines)


def modes_for(case, rng, exclude=()):
    non_default = [p for p in PROFILES if p not in ("default", "kolkata_postgres_mdy")]
    if "datestyle_partial" in exclude:
        non_default = [("kolkata_postgres_mdy" if p == "kolkata_postgres" else p)
                       for p in non_default]
    if case.kind == "read":
        return [(p, "default") for p in PROTOCOLS] + \
            [(rng.choice(PROTOCOLS), rng.choice(non_default))]
    return [(rng.choice(PROTOCOLS), rng.choice(["default"] + non_default))]


def campaign(runner, seed, n=None, minutes=None, exclude=(), findings_path=None,
             minimise=True, write_share=0.3, log=print, max_findings=60):
    """Runs statements until `n` are done or `minutes` pass; returns Counts."""
    rng = random.Random(seed)
    gen = Gen(random.Random(seed * 7919 + 1), dataset.key_values(runner.env.rows), exclude)
    counts = Counts()
    seen = set()
    deadline = time.monotonic() + minutes * 60 if minutes else None
    runner.env.reset_all()
    while True:
        if n is not None and counts.statements >= n:
            break
        if deadline is not None and time.monotonic() > deadline:
            break
        if counts.statements and counts.statements % RESET_EVERY == 0:
            runner.env.reset_all()
        gen.features = set()
        case = gen_write(gen) if gen.chance(write_share) else gen_read(gen)
        case.features = sorted(gen.features)
        counts.statements += 1
        for protocol, profile in modes_for(case, rng, exclude):
            v = runner.run_case(case, protocol, profile)
            counts.add(v)
            if v.verdict not in FAILURES:
                continue
            # one minimisation per kind of failure: a class keeps failing the same way in
            # every protocol and profile, and minimising costs up to 150 executions
            key = (v.verdict, v.reason, case.production, tuple(case.features))
            if key in seen or len(counts.findings) >= max_findings:
                continue
            seen.add(key)
            original = case.sql()
            small = runner.minimise(v) if minimise else v
            rec = record(small, original)
            counts.findings.append(rec)
            log(f"[{v.verdict}/{v.reason}] {case.production} {protocol}/{profile}\n"
                f"  {rec['sql']}\n  {small.detail[:600]}")
            if findings_path:
                append(findings_path, rec)
            if case.kind != "read":
                break                     # the write already ran; do not run it again
    return counts
