"""The differential fuzzer's tables and rows: the same DDL and the same deterministic rows on
the oracle (one plain PostgreSQL) and behind shardgate, plus the checks run after each write.

Tables (each kind the router distinguishes):
  t_int   integer key, co-located with t_intc (child rows, several per parent, NULL keys)
  t_big   bigint key,  co-located with t_bigc
  t_text  text key (unicode, spaces, case variants, backslashes)
  t_uuid  uuid key
  t_empty integer key, no rows
  r_kind  reference table (a copy on every shard)
  u_misc  unlisted table (default shard s0 only)
Rows carry NULLs, duplicates and ties in every non-key column, negative numbers and unicode.
"""

import datetime
import decimal
import random
import uuid as uuid_mod

from sgfixture import shard_of

SEED = 16

TABLES = [
    {"name": "t_int", "shard_key": "id", "key_type": "integer"},
    {"name": "t_intc", "shard_key": "id", "key_type": "integer"},
    {"name": "t_big", "shard_key": "k", "key_type": "bigint"},
    {"name": "t_bigc", "shard_key": "k", "key_type": "bigint"},
    {"name": "t_text", "shard_key": "k", "key_type": "text"},
    {"name": "t_uuid", "shard_key": "u", "key_type": "uuid"},
    {"name": "t_empty", "shard_key": "id", "key_type": "integer"},
    {"name": "r_kind", "kind": "reference"},
    {"name": "t_ci", "shard_key": "k", "key_type": "text"},
]

DDL = [
    "CREATE TABLE t_int (id integer PRIMARY KEY, grp int, val int, score numeric(12,2), "
    "f float8, name varchar(40), note text, ts timestamptz, d date, flag boolean)",
    # A child's row id cid is unique together with the shard key (a unique constraint without
    # the key is refused: each shard would enforce it over its own rows only).
    "CREATE TABLE t_intc (cid integer NOT NULL, id integer, qty int, label text, UNIQUE (cid, id))",
    "CREATE TABLE t_big (k bigint PRIMARY KEY, grp int, val int, txt text)",
    "CREATE TABLE t_bigc (cid bigint NOT NULL, k bigint, amount numeric(10,2), UNIQUE (cid, k))",
    "CREATE TABLE t_text (k text PRIMARY KEY, grp int, val int, note varchar(20))",
    "CREATE TABLE t_uuid (u uuid PRIMARY KEY, grp int, val int)",
    "CREATE TABLE t_empty (id integer PRIMARY KEY, grp int, val int)",
    "CREATE TABLE r_kind (kind int PRIMARY KEY, label text)",
    "CREATE TABLE u_misc (id int, grp int, txt text)",
]

# A case-insensitive (nondeterministic) ICU collation, created straight on every server, and
# a table whose text shard key uses it (issue 16, class 3). Its CREATE TABLE goes through the
# proxy; when the proxy refuses it (0A000), the table is left out on both sides.
CI_COLLATION = ("CREATE COLLATION IF NOT EXISTS sg_ci (provider = icu, "
                "locale = 'und-u-ks-level2', deterministic = false)")
OPTIONAL_DDL = {
    "t_ci": "CREATE TABLE t_ci (k text COLLATE sg_ci PRIMARY KEY, grp int, val int, "
            "tag text COLLATE sg_ci)",
}

# name -> (columns in order, key column, key type or 'reference'/'unlisted', unique columns)
SCHEMA = {
    "t_int": (["id", "grp", "val", "score", "f", "name", "note", "ts", "d", "flag"],
              "id", "integer"),
    "t_intc": (["cid", "id", "qty", "label"], "id", "integer"),
    "t_big": (["k", "grp", "val", "txt"], "k", "bigint"),
    "t_bigc": (["cid", "k", "amount"], "k", "bigint"),
    "t_text": (["k", "grp", "val", "note"], "k", "text"),
    "t_uuid": (["u", "grp", "val"], "u", "uuid"),
    "t_empty": (["id", "grp", "val"], "id", "integer"),
    "r_kind": (["kind", "label"], None, "reference"),
    "u_misc": (["id", "grp", "txt"], None, "unlisted"),
    "t_ci": (["k", "grp", "val", "tag"], "k", "text"),
}
# the column that identifies a row (every table but u_misc has one)
ROW_ID = {"t_int": "id", "t_intc": "cid", "t_big": "k", "t_bigc": "cid", "t_text": "k",
          "t_uuid": "u", "t_empty": "id", "r_kind": "kind", "u_misc": None, "t_ci": "k"}

# column -> value kind (values.TYPES names)
COLUMN_KIND = {
    ("t_int", "id"): "int4", ("t_int", "grp"): "int4", ("t_int", "val"): "int4",
    ("t_int", "score"): "numeric", ("t_int", "f"): "float8", ("t_int", "name"): "varchar",
    ("t_int", "note"): "text", ("t_int", "ts"): "timestamptz", ("t_int", "d"): "date",
    ("t_int", "flag"): "bool",
    ("t_intc", "cid"): "int4", ("t_intc", "id"): "int4", ("t_intc", "qty"): "int4",
    ("t_intc", "label"): "text",
    ("t_big", "k"): "int8", ("t_big", "grp"): "int4", ("t_big", "val"): "int4",
    ("t_big", "txt"): "text",
    ("t_bigc", "cid"): "int8", ("t_bigc", "k"): "int8", ("t_bigc", "amount"): "numeric",
    ("t_text", "k"): "text", ("t_text", "grp"): "int4", ("t_text", "val"): "int4",
    ("t_text", "note"): "varchar",
    ("t_uuid", "u"): "uuid", ("t_uuid", "grp"): "int4", ("t_uuid", "val"): "int4",
    ("t_empty", "id"): "int4", ("t_empty", "grp"): "int4", ("t_empty", "val"): "int4",
    ("r_kind", "kind"): "int4", ("r_kind", "label"): "text",
    ("u_misc", "id"): "int4", ("u_misc", "grp"): "int4", ("u_misc", "txt"): "text",
    ("t_ci", "k"): "text", ("t_ci", "grp"): "int4", ("t_ci", "val"): "int4",
    ("t_ci", "tag"): "text",
}

WORDS = ["alpha", "Beta", "beta", "gamma", "Δelta", "épsilon", "zeta", "ŋ", "日本", "a b",
         "O'Hara", "back\\slash", "", "dave", "Dave", "zz", "k0  "]


def _rows(rng):
    """Deterministic rows for every table: {table: [tuple, ...]} (Python values)."""
    rows = {}
    ids = sorted(rng.sample(range(-40, 300), 120))
    base_ts = datetime.datetime(2024, 3, 30, 22, 30, tzinfo=datetime.timezone.utc)

    def maybe(v, p=0.12):
        return None if rng.random() < p else v

    t_int = []
    for i in ids:
        t_int.append((
            i, maybe(rng.randrange(0, 5)), maybe(rng.randrange(-20, 50)),
            maybe(decimal.Decimal(rng.randrange(-500, 2000, 25)) / 100),
            maybe(rng.choice([0.1, 0.2, 0.30000000000000004, 1e-7, 2.5, -3.25, 1e15 / 3,
                              123.456])),
            maybe(rng.choice(WORDS)), maybe(rng.choice(WORDS + ["x" * 30])),
            maybe(base_ts + datetime.timedelta(minutes=rng.randrange(-5000, 5000) * 7)),
            maybe(datetime.date(2024, 1, 1) + datetime.timedelta(days=rng.randrange(0, 60))),
            maybe(rng.random() < 0.5)))
    rows["t_int"] = t_int
    cid = 1
    t_intc = []
    for i in ids:
        for _ in range(rng.choice([0, 0, 1, 2, 3])):
            t_intc.append((cid, i, maybe(rng.randrange(1, 6)), maybe(rng.choice(WORDS))))
            cid += 1
    for _ in range(4):                       # orphans and NULL keys
        t_intc.append((cid, rng.choice([None, 999, -999]), rng.randrange(1, 6), "orphan"))
        cid += 1
    rows["t_intc"] = t_intc
    bigs = sorted(set([rng.randrange(-2**40, 2**40) for _ in range(70)] +
                      [2**31 - 1, 2**31, -2**31, 2**33 + 7, 0, 1, -1]))
    rows["t_big"] = [(k, maybe(rng.randrange(0, 4)), maybe(rng.randrange(-9, 9)),
                      maybe(rng.choice(WORDS))) for k in bigs]
    t_bigc = []
    cid = 1
    for k in bigs:
        for _ in range(rng.choice([0, 1, 2])):
            t_bigc.append((cid, k, maybe(decimal.Decimal(rng.randrange(-999, 9999)) / 100)))
            cid += 1
    t_bigc.append((cid, None, decimal.Decimal("1.00")))
    rows["t_bigc"] = t_bigc
    keys = set(w for w in WORDS)
    while len(keys) < 60:
        keys.add(rng.choice(WORDS) + str(rng.randrange(0, 40)))
    rows["t_text"] = [(k, maybe(rng.randrange(0, 4)), maybe(rng.randrange(-9, 9)),
                       maybe(rng.choice(["n1", "n2", "ü", None])))
                      for k in sorted(keys)]
    rows["t_uuid"] = [(uuid_mod.UUID(int=rng.getrandbits(128), version=4),
                       maybe(rng.randrange(0, 4)), maybe(rng.randrange(-9, 9)))
                      for _ in range(40)]
    rows["t_empty"] = []
    rows["r_kind"] = [(k, rng.choice(WORDS)) for k in range(0, 6)]
    # keys distinct under the case-insensitive collation; tags differ only in case
    rows["t_ci"] = [(k, rng.randrange(0, 3), rng.randrange(-9, 9), rng.choice(["x", "X", "y"]))
                    for k in ["Dave", "alpha", "BETA", "Gamma", "ärger", "Zulu", "k7", "Q"]]
    rows["u_misc"] = [(rng.randrange(0, 10), maybe(rng.randrange(0, 3)), rng.choice(WORDS))
                      for _ in range(25)]
    return rows


def build_rows(seed=SEED):
    return _rows(random.Random(seed))


def key_values(rows):
    """Existing keys per sharded table (for point lookups that hit)."""
    out = {}
    for t in rows:
        cols, key, _kt = SCHEMA[t]
        if key is None:
            continue
        i = cols.index(key)
        out[t] = [r[i] for r in rows[t] if r[i] is not None]
    return out


def shard_for(table, key_value, n_shards):
    cols, key, key_type = SCHEMA[table]
    return shard_of(key_value, key_type, n_shards)
