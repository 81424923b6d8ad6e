#!/usr/bin/python3
"""Sorts minimised cases into corpus.jsonl (answered right or refused) and open_cases.jsonl
(still failing), against the shardgate binary in SHARDGATE_BIN.

    triage.py issue              the issue-16 reproductions below, each sorted into one file
    triage.py recheck            open cases now answered right or refused move to the corpus
    triage.py add FINDINGS [--class TEXT]
                                 findings lines (fuzz.py output) sorted into the two files

A record is kept once (same SQL, protocol and settings). Run with the harness on PYTHONPATH:
    SHARDGATE_BIN=build/test/shardgate PYTHONPATH=tests/harness \\
        /usr/bin/python3 tests/differential/triage.py recheck
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "harness"))

import corpus  # noqa: E402
from env import Env  # noqa: E402
from exclusions import OPEN_CLASS_EXCLUSIONS  # noqa: E402
from runner import Runner  # noqa: E402
from sgfixture import shard_of  # noqa: E402


def _rec(cls, sql, protocol="simple", profile="default", kind="read", table=None,
         ordered=False, param_sql=None, params=()):
    return {"class": cls, "sql": sql, "param_sql": param_sql or sql, "params": list(params),
            "protocol": protocol, "profile": profile, "kind": kind, "table": table,
            "ordered": ordered, "production": "issue16"}


def issue_cases(env):
    """Reproductions of issue 16's sections 2-4 on the fuzzer's tables."""
    ids = [r[0] for r in env.rows["t_int"]]
    # two ids on different shards, for a sum that overflows only when combined
    a = ids[0]
    b = next(i for i in ids if shard_of(i, "integer") != shard_of(a, "integer"))
    semi = ("id IN (SELECT DISTINCT ON (c.qty) c.id FROM t_intc c ORDER BY c.qty, c.cid)")
    out = [
        _rec("class 1: key IN (SELECT DISTINCT ON ...) is not a same-shard semi-join",
             f"SELECT count(*) FROM t_int WHERE {semi}"),
        _rec("class 1: DELETE ... WHERE key IN (SELECT DISTINCT ON ...) deletes only those rows",
             f"DELETE FROM t_int WHERE {semi}", kind="write", table="t_int"),
        _rec("class 2: a multi-row INSERT with one duplicate key leaves no row behind",
             "INSERT INTO t_big (k, val) VALUES (9000001, 1), (9000002, 2), (9000003, 3), "
             "(9000004, 4), (9000005, 5), (1, 6)", kind="write", table="t_big"),
        _rec("class 2: a fan-out UPDATE failing on one shard changes nothing",
             "UPDATE t_int SET val = 100 / (val - 7)", kind="write", table="t_int"),
        _rec("class 4: the bpchar[] cast around = ANY is kept when routing",
             "SELECT k FROM t_text WHERE k = ANY('{\"alpha  \"}'::bpchar[])"),
        _rec("class 4: the varchar(2)[] cast around = ANY is kept when routing",
             "SELECT k FROM t_text WHERE k = ANY('{\"zzz\"}'::varchar(2)[])"),
        _rec("class 5: a bpchar parameter against a text key is routed without its padding",
             "SELECT k FROM t_text WHERE k = 'alpha  '::bpchar", protocol="ext_text",
             param_sql="SELECT k FROM t_text WHERE k = $1",
             params=[{"kind": "bpchar", "value": "alpha  ", "infer": False}]),
        _rec("class 6: merged timestamptz under Asia/Kolkata and DateStyle SQL",
             "SELECT ts FROM t_int WHERE ts IS NOT NULL", profile="kolkata_sql_dmy"),
        _rec("class 6: merged timestamptz under Asia/Kolkata and DateStyle Postgres",
             "SELECT max(ts) FROM t_int", profile="kolkata_postgres"),
        _rec("class 7: count(DISTINCT x), count(*) over no rows is (0, 0)",
             "SELECT count(DISTINCT val), count(*) FROM t_empty"),
        _rec("class 7: ... and with HAVING the row stays",
             "SELECT count(DISTINCT val), count(*) FROM t_empty HAVING count(*) = 0"),
        _rec("class 8: a window function in ORDER BY is computed over all shards' rows",
             "SELECT id FROM t_int ORDER BY row_number() OVER (ORDER BY id DESC), id LIMIT 5",
             ordered=True),
        _rec("class 9: merged float8 order under extra_float_digits = 0",
             "SELECT id, f FROM t_int ORDER BY f, id", profile="float_digits_0", ordered=True),
        _rec("class 10: a SQL function reading a sharded table sees every shard",
             "SELECT sg_count_int()"),
        _rec("class 11: avg(float8) overflow raises 22003",
             f"SELECT avg(CASE WHEN id IN ({a}, {b}) THEN 1.7e308::float8 ELSE 0 END) "
             "FROM t_int"),
        _rec("class 12: multi-row INSERT ... RETURNING in VALUES order",
             "INSERT INTO t_big (k, val) VALUES (9100001, 1), (9100002, 2), (9100003, 3), "
             "(9100004, 4), (9100005, 5) RETURNING k", kind="write", table="t_big",
             ordered=True),
        _rec("class 13: merged GROUP BY numeric(12,2) keeps its typmod",
             "SELECT score FROM t_int GROUP BY score"),
        _rec("class 13: merged GROUP BY varchar(40) keeps its typmod",
             "SELECT name, count(*) FROM t_int GROUP BY name"),
        _rec("section 3: HAVING ... $1 on a merged aggregate",
             "SELECT grp, count(*) FROM t_int GROUP BY grp HAVING count(*) > 3",
             protocol="ext_text",
             param_sql="SELECT grp, count(*) FROM t_int GROUP BY grp HAVING count(*) > $1",
             params=[{"kind": "int4", "value": "3", "infer": False}]),
        _rec("section 3: numeric array values against an integer key",
             "SELECT id FROM t_int WHERE id = ANY('{5.0,6}'::numeric[])"),
        _rec("section 3: float8 array values against an integer key",
             "SELECT id FROM t_int WHERE id = ANY('{1e2}'::float8[])"),
        _rec("section 3: a numeric parameter '5.0' against an integer key",
             "SELECT id FROM t_int WHERE id = 5.0", protocol="ext_text",
             param_sql="SELECT id FROM t_int WHERE id = $1",
             params=[{"kind": "numeric", "value": "5.0", "infer": False}]),
        _rec("section 3: a multi-dimensional array in = ANY",
             "SELECT id FROM t_int WHERE id = ANY('{{1,2},{3,4}}'::int[])"),
        _rec("section 3: an integer key against an int8 parameter above 2^31 matches no row",
             "SELECT id FROM t_int WHERE id = 3000000000", protocol="ext_binary",
             param_sql="SELECT id FROM t_int WHERE id = $1",
             params=[{"kind": "int8", "value": "3000000000", "infer": False}]),
        _rec("section 3: LIMIT $1 bound as numeric 2.5 rounds",
             "SELECT id FROM t_int ORDER BY id LIMIT 2.5", protocol="ext_text", ordered=True,
             param_sql="SELECT id FROM t_int ORDER BY id LIMIT $1",
             params=[{"kind": "numeric", "value": "2.5", "infer": False}]),
        _rec("section 4: an aggregate wrapped in a cast",
             "SELECT count(*)::int FROM t_int"),
        _rec("section 4: coalesce around sum",
             "SELECT coalesce(sum(val), 0) FROM t_int"),
        _rec("section 4: GROUP BY 1", "SELECT grp, count(*) FROM t_int GROUP BY 1"),
        _rec("section 4: UNION ... ORDER BY a text column",
             "SELECT name FROM t_int UNION SELECT txt FROM t_big ORDER BY 1", ordered=True),
        _rec("section 4: text ORDER BY with binary results",
             "SELECT k FROM t_text ORDER BY k", protocol="ext_binary", ordered=True),
    ]
    # found by this fuzzer (minimised, then written on fixed keys)
    # a two-character id whose text bytes, read as an int2, hash to another shard
    two = next(i for i in ids if 10 <= i <= 99 and
               shard_of(int.from_bytes(str(i).encode(), "big"), "integer") !=
               shard_of(i, "integer"))
    out += [
        _rec("found here: a 2-byte text parameter cast to the key type, sent in binary, is "
             "looked up on the wrong shard (no row)",
             f"SELECT id FROM t_int WHERE id = '{two}'::integer", protocol="ext_binary",
             param_sql="SELECT id FROM t_int WHERE id = $1::integer",
             params=[{"kind": "text", "value": str(two), "infer": False}]),
        _rec("found here: a text parameter cast to the key type, sent in binary, is read as "
             "the key's binary form (22P03)",
             f"SELECT id FROM t_int WHERE id = '{a}'::integer", protocol="ext_binary",
             param_sql="SELECT id FROM t_int WHERE id = $1::integer",
             params=[{"kind": "text", "value": str(a), "infer": False}]),
        _rec("found here: UPDATE of a reference table over the extended protocol reports the "
             "sum of the shards' counts", "UPDATE r_kind SET label = 'x' WHERE kind = 1",
             protocol="ext_text", kind="write", table="r_kind",
             param_sql="UPDATE r_kind SET label = $1 WHERE kind = $2",
             params=[{"kind": "text", "value": "x", "infer": False},
                     {"kind": "int4", "value": "1", "infer": False}]),
        _rec("found here: a merged ORDER BY a.id sorts by the output column c.id of the same "
             "name", "SELECT c.id FROM t_int a LEFT JOIN t_intc c ON c.id = a.id "
             "ORDER BY a.id, c.cid", ordered=True),
        _rec("found here: COMMENT ON an unlisted table is sent to every shard (42P01)",
             "COMMENT ON TABLE u_misc IS 'fuzz'", kind="ddl"),
        _rec("found here: a unique constraint without the shard key (unique per shard only) "
             "is refused at DDL", "ALTER TABLE t_intc ADD CONSTRAINT t_intc_cid_key UNIQUE (cid)",
             kind="ddl"),
        _rec("class 12: multi-row INSERT ... RETURNING in VALUES order (text key)",
             "INSERT INTO t_text (k, grp) VALUES ('new1', 1), ('Nëw2', 2), ('new3', 3), "
             "('n''4', 4), ('new5', 5), ('new6', 6) RETURNING k", kind="write",
             table="t_text", ordered=True),
    ]
    return out


def _key(rec):
    return (rec["sql"], rec.get("param_sql"), rec["protocol"], rec["profile"])


def _check(runner, rec):
    case = corpus.FixedCase(rec)
    env = runner.env
    if case.kind == "write":
        env.restore(case.table, env.rows[case.table])
    v = runner.execute(case, rec["protocol"], rec["profile"])
    if case.kind == "write":
        env.restore(case.table, env.rows[case.table])
    return v


def _rewrite(path, records):
    with open(path, "w", encoding="utf-8") as f:
        f.write("# " + ("must be answered right or refused; replayed by make test"
                        if path == corpus.CORPUS else
                        "still failing (not replayed); move to corpus.jsonl once fixed") + "\n")
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n")


def sort_into_files(runner, records, log=print):
    kept = corpus.load(corpus.CORPUS)
    open_ = corpus.load(corpus.OPEN_CASES)
    known = {_key(r) for r in kept} | {_key(r) for r in open_}
    for rec in records:
        if _key(rec) in known:
            continue
        known.add(_key(rec))
        v = _check(runner, rec)
        rec = dict(rec, verdict=v.verdict, reason=v.reason, detail=v.detail[:1500])
        passing = v.verdict in ("agree", "refused")
        (kept if passing else open_).append(rec)
        log(f"{'corpus' if passing else 'OPEN  '} [{v.verdict}/{v.reason}] {rec['class']}")
    _rewrite(corpus.CORPUS, kept)
    _rewrite(corpus.OPEN_CASES, open_)


def recheck(runner, log=print):
    kept = corpus.load(corpus.CORPUS)
    still = []
    for rec in corpus.load(corpus.OPEN_CASES):
        v = _check(runner, rec)
        if v.verdict in ("agree", "refused"):
            kept.append(dict(rec, verdict=v.verdict, reason=v.reason, detail=""))
            log(f"fixed: {rec['class']}")
        else:
            still.append(rec)
            log(f"open:  [{v.verdict}/{v.reason}] {rec['class']}")
    _rewrite(corpus.CORPUS, kept)
    _rewrite(corpus.OPEN_CASES, still)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("issue")
    sub.add_parser("recheck")
    add = sub.add_parser("add")
    add.add_argument("findings")
    add.add_argument("--class", dest="cls", default=None)
    args = ap.parse_args(argv)
    env = Env("triage").start()
    try:
        runner = Runner(env)
        if args.cmd == "issue":
            sort_into_files(runner, issue_cases(env))
        elif args.cmd == "recheck":
            recheck(runner)
        else:
            recs = []
            for r in corpus.load(args.findings):
                feats = [f for f in r.get("features", []) if f in OPEN_CLASS_EXCLUSIONS]
                r["class"] = args.cls or (OPEN_CLASS_EXCLUSIONS[feats[0]] if feats else
                                          f"found by the fuzzer: {r['verdict']}/{r['reason']} "
                                          f"in {r['production']}")
                recs.append(r)
            sort_into_files(runner, recs)
        runner.close()
    finally:
        env.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
