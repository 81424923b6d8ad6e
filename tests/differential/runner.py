"""Runs generated cases on both sides and keeps them in step.

Reads run on the oracle and on the proxy. Writes run on the proxy first: when it refuses, the
oracle does not run them (a refused write must change nothing, which the table check then
verifies); otherwise the oracle runs them too, and every table is compared in full and its
placement checked (env.check_table). On any difference the table is rewritten on both
sides from the oracle's rows, so one finding does not cascade. DDL is followed by a catalog
comparison of every shard with the oracle.
"""

import copy

from compare import connect, construct_of, judge, run
from tree import mutations


class Verdict:
    def __init__(self, verdict, reason, detail, case, protocol, profile):
        self.verdict = verdict
        self.reason = reason
        self.detail = detail
        self.case = case
        self.protocol = protocol
        self.profile = profile

    def signature(self):
        return (self.verdict, self.reason)


class Runner:
    def __init__(self, env):
        self.env = env
        self.conns = {}               # profile -> (oracle WireConn, proxy WireConn)

    def close(self):
        for o, p in self.conns.values():
            o.close()
            p.close()
        self.conns = {}

    def pair(self, profile):
        if profile not in self.conns:
            user = self.env.proxy.user
            db = self.env.cluster.dbname
            o = connect(self.env.cluster.shards[-1].port, user, db, profile)
            try:
                p = connect(self.env.proxy.port, user, db, profile)
            except BaseException:
                o.close()
                raise
            self.conns[profile] = (o, p)
        return self.conns[profile]

    def drop_proxy_side(self):
        """After a lost connection: every proxy connection is renewed (and the proxy process
        restarted when it died)."""
        if not self.env.proxy.alive():
            self.env.restart_proxy()
        self.close()

    def execute(self, case, protocol, profile):
        """Runs one case; returns a Verdict. Leaves both sides equal."""
        oracle, proxy = self.pair(profile)
        if case.kind == "read":
            want = run(oracle, case, protocol)
            if want.status == "lost":
                raise RuntimeError(f"the oracle connection failed: {want.detail}")
            got = run(proxy, case, protocol)
            v = Verdict(*judge(case, want, got), case, protocol, profile)
        else:
            v = self._write(case, protocol, profile, oracle, proxy)
        if v.verdict == "crash":
            self.drop_proxy_side()
        elif proxy.tx_status not in (None, "I"):
            self.close()              # never carry an open transaction into the next case
        return v

    def _write(self, case, protocol, profile, oracle, proxy):
        got = run(proxy, case, protocol)
        if got.status == "lost":
            v = Verdict("crash", "crash", got.detail, case, protocol, profile)
        elif got.status == "error" and got.sqlstate == "0A000":
            v = Verdict("refused", construct_of(got.message), got.message, case, protocol,
                        profile)
        else:
            want = run(oracle, case, protocol)
            if want.status == "lost":
                raise RuntimeError(f"the oracle connection failed: {want.detail}")
            v = Verdict(*judge(case, want, got), case, protocol, profile)
        if case.kind == "ddl":
            problem = self.env.catalog_problem()
            if problem:
                self._repair_catalog(case)
        else:
            # every table, not only the written one: a write must not touch the others
            problem = None
            for table in [case.table] + [t for t in self.env.tables if t != case.table]:
                p = self.env.check_table(table)
                if p:
                    problem = problem or p
                    self.env.restore(table, self.env.snapshot(table))
        if problem and v.verdict in ("agree", "refused"):
            kind = "placement" if "maps to" in problem else "contents"
            what = "refused write changed rows: " if v.verdict == "refused" else ""
            v = Verdict("wrong", kind, what + problem, case, protocol, profile)
        return v

    def _repair_catalog(self, case):
        """Runs an idempotent DDL straight on every shard (the oracle ran it or not)."""
        sql = case.render(False)[0]
        want = self.env.catalog_problem
        for s in self.env.shards:
            with s.cursor() as cur:
                cur.execute(sql)
        if want():
            raise RuntimeError(f"cannot bring the shards' catalogs back in step after {sql}")

    # -- minimising ----------------------------------------------------------------------

    def minimise(self, verdict, budget=150):
        """Shrinks verdict.case while it fails with the same signature (verdict and reason),
        in the same protocol and settings. Writes restart from the table's rows as they were
        before the statement each time. Returns the smallest failing Verdict found."""
        case = verdict.case
        pre = copy.deepcopy(verdict.pre_rows) if hasattr(verdict, "pre_rows") else None
        best = verdict
        tries = 0
        improved = True
        while improved and tries < budget:
            improved = False
            current = best.case.sql()
            for cand in mutations(best.case):
                if cand.sql() == current:
                    continue
                tries += 1
                if tries > budget:
                    break
                if pre is not None:
                    self.env.restore(case.table, pre)
                v = self.execute(cand, best.protocol, best.profile)
                if v.signature() == verdict.signature():
                    best = v
                    improved = True
                    break
        if pre is not None:
            self.env.restore(case.table, pre)
        best.tries = tries
        return best

    def run_case(self, case, protocol, profile):
        """execute() that remembers a write table's rows from before the statement, which the
        minimiser needs to replay it."""
        pre = None
        if case.kind == "write":
            pre = self.env.snapshot(case.table)
        v = self.execute(case, protocol, profile)
        if pre is not None:
            v.pre_rows = pre
        return v

