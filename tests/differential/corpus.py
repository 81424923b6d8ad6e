"""Findings and corpus records (one JSON object a line) and their replay as cases.

A record holds both spellings of a minimised statement (literal SQL for the simple protocol,
`$n` SQL plus typed parameters for the extended ones), the protocol and session settings it
needs, whether its row order is determined, and what it is: production, verdict, reason and,
in the corpus and open_cases files, a one-line `class` description.
"""

import json
import os

from tree import Case
from values import lit_from_json, lit_to_json

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus.jsonl")
OPEN_CASES = os.path.join(HERE, "open_cases.jsonl")


class FixedCase(Case):
    """A case replayed from a record: both spellings are fixed text."""

    def __init__(self, rec):
        super().__init__(None, rec["kind"], rec.get("production", "corpus"),
                         table=rec.get("table"), in_order=rec.get("ordered", False))
        self.sql_text = rec["sql"]
        self.param_sql = rec.get("param_sql") or rec["sql"]
        self.params = [lit_from_json(p) for p in rec.get("params", [])]
        self.batch = rec.get("batch")

    def render(self, parameterised):
        if parameterised:
            return self.param_sql, list(self.params)
        return self.sql_text, []

    def statements(self, parameterised):
        if not self.batch:
            return [self.render(parameterised)]
        if parameterised:
            return [(b["param_sql"], [lit_from_json(p) for p in b["params"]])
                    for b in self.batch]
        return [(b["sql"], []) for b in self.batch]

    def sql(self):
        return self.sql_text


def record(v, original=None):
    """The JSON record of a Verdict."""
    sql = v.case.render(False)[0]
    param_sql, params = v.case.render(True)
    rec = {"verdict": v.verdict, "reason": v.reason, "production": v.case.production,
           "features": list(v.case.features),
           "protocol": v.protocol, "profile": v.profile, "kind": v.case.kind,
           "table": v.case.table, "ordered": v.case.ordered(), "sql": sql,
           "param_sql": param_sql, "params": [lit_to_json(p) for p in params],
           "detail": v.detail[:2000]}
    if original is not None and original != sql:
        rec["original_sql"] = original
    stmts = v.case.statements(False)
    if len(stmts) > 1:
        rec["batch"] = [{"sql": s, "param_sql": ps, "params": [lit_to_json(p) for p in pp]}
                        for (s, _), (ps, pp) in zip(stmts, v.case.statements(True))]
    return rec


def load(path):
    out = []
    if not os.path.exists(path):
        return out
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if line and not line.startswith("#"):
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}:{n}: {e}") from e
    return out


def append(path, rec):
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(rec, ensure_ascii=False, sort_keys=True) + "\n")
