"""Pieces shared by the read and write productions: constants of a column's type (existing
keys, misses, negatives, NULL), key predicates with casts, and column predicates."""

import datetime
import decimal
import uuid

from dataset import COLUMN_KIND, SCHEMA, WORDS
from tree import Choice, Frag, Seq
from values import Lit

SHARDED = ["t_int", "t_big", "t_text", "t_uuid", "t_empty"]
CHILD = {"t_int": "t_intc", "t_big": "t_bigc"}      # co-located child tables
KEY_SQL_TYPE = {"int4": "integer", "int8": "bigint", "text": "text", "uuid": "uuid"}


class Gen:
    """Shared state of one generator: the rng, existing keys (so lookups hit), the next fresh
    key for INSERTs, and the production exclusions."""

    def __init__(self, rng, keys, exclude=()):
        self.rng = rng
        self.keys = keys
        self.exclude = set(exclude)
        self.fresh = 100000
        self.features = set()      # sub-productions used by the case being generated

    def mark(self, name):
        self.features.add(name)

    def tables(self, names):
        """`names` without the case-insensitive table when it is absent or switched off;
        marks the feature when it is picked."""
        ok = "t_ci" in self.keys and self.allowed("ci_collation")
        return [t for t in names if t != "t_ci" or ok]

    def pick_table(self, names):
        t = self.pick(self.tables(names))
        if t == "t_ci":
            self.mark("ci_collation")
        return t

    def pick(self, seq):
        return self.rng.choice(seq)

    def chance(self, p):
        return self.rng.random() < p

    def allowed(self, name):
        return name not in self.exclude

    # -- constants -----------------------------------------------------------------------

    def value(self, table, col):
        """A Python value for table.col: mostly an existing key for key columns."""
        kind = COLUMN_KIND[(table, col)]
        key = SCHEMA[table][1]
        if col == key and table in self.keys and self.keys[table] and self.chance(0.8):
            v = self.pick(self.keys[table])
            if table == "t_ci" and self.chance(0.6):
                v = self.pick([v.lower(), v.upper(), v.swapcase()])   # equal under sg_ci
            return v
        r = self.rng
        if kind in ("int2", "int4"):
            return r.choice([r.randrange(-40, 300), 0, -1, r.randrange(0, 5)])
        if kind == "int8":
            return r.choice([r.randrange(-2**40, 2**40), 2**31, -2**31, 1, 0])
        if kind == "numeric":
            return decimal.Decimal(r.randrange(-500, 2000, 25)) / 100
        if kind == "float8":
            return r.choice([0.1, 2.5, -3.25, 123.456, 0.0])
        if kind in ("text", "varchar"):
            return r.choice(WORDS + ["nope", "Beta7"])
        if kind == "bool":
            return r.random() < 0.5
        if kind == "uuid":
            return uuid.UUID(int=r.getrandbits(128), version=4)
        if kind == "date":
            return datetime.date(2024, 1, 1) + datetime.timedelta(days=r.randrange(0, 60))
        if kind == "timestamptz":
            return datetime.datetime(2024, 3, 30, 22, 30, tzinfo=datetime.timezone.utc) + \
                datetime.timedelta(minutes=r.randrange(-5000, 5000) * 7)
        raise ValueError(kind)

    def lit(self, table, col, value=None, **kw):
        kind = COLUMN_KIND[(table, col)]
        v = self.value(table, col) if value is None else value
        return Lit(v, kind, infer=self.chance(0.3), **kw)

    # -- predicates ----------------------------------------------------------------------

    def key_eq(self, alias, table):
        """`key = const` in one of its spellings (casts on the constant or the column)."""
        key = SCHEMA[table][1]
        kind = COLUMN_KIND[(table, key)]
        col = f"{alias}{key}"
        v = self.value(table, key)
        form = self.rng.randrange(6)
        if form == 1 and kind in ("int4", "int8") and self.allowed("key_text_cast"):
            self.mark("key_text_cast")
            return Frag(col, " = ", Lit(str(v), "text", cast="::" + KEY_SQL_TYPE[kind]))
        if form == 2 and kind in ("int4", "int8"):
            return Frag(col, " = ", Lit(v, "int8", typed=True))
        if form == 3 and kind == "text":
            return Frag(col, " = ", Lit(v, "varchar", cast="::varchar"))
        if form == 4 and kind == "int4" and self.allowed("key_int8_param"):
            self.mark("key_int8_param")
            return Frag(col, " = ", Lit(self.pick([v, 2**31 + 5, -2**33]), "int8"))
        if form == 5 and kind == "text" and self.allowed("key_bpchar"):
            self.mark("key_bpchar")
            # bpchar drops trailing spaces when compared: 'alpha  '::bpchar finds 'alpha'
            return Frag(col, " = ", Lit(v + "  ", "bpchar", cast="::bpchar"))
        return Frag(col, " = ", Lit(v, kind, infer=self.chance(0.3)))

    def key_in(self, alias, table):
        key = SCHEMA[table][1]
        kind = COLUMN_KIND[(table, key)]
        lits = [Lit(self.value(table, key), kind, infer=self.chance(0.3))
                for _ in range(self.rng.randrange(1, 5))]
        neg = " NOT" if self.chance(0.1) else ""
        return Frag(f"{alias}{key}{neg} IN (", Seq(lits), ")")

    def key_any(self, alias, table):
        key = SCHEMA[table][1]
        kind = COLUMN_KIND[(table, key)]
        vals = [self.value(table, key) for _ in range(self.rng.randrange(1, 4))]
        if self.chance(0.15):
            vals.append(None)
        col = f"{alias}{key}"
        if kind == "text" and self.allowed("any_cast") and self.chance(0.3):
            cast = self.pick(["::bpchar[]", "::varchar(2)[]", "::varchar[]"])
            self.mark("any_cast")
            return Frag(col, " = ANY(", Lit(vals, "text[]", cast=cast), ")")
        if kind in ("int4", "int8") and self.allowed("any_numeric") and self.chance(0.2):
            nv = [decimal.Decimal(v) if v is not None else None for v in vals]
            self.mark("any_numeric")
            if self.chance(0.5):
                nv.append(decimal.Decimal("5.0"))
            return Frag(col, " = ANY(", Lit(nv, "numeric[]"), ")")
        return Frag(col, " = ANY(", Lit(vals, kind + "[]"), ")")

    def key_or(self, alias, table):
        return Frag("(", Seq([self.key_eq(alias, table) for _ in range(self.rng.randrange(2, 4))],
                             sep=" OR ", min_items=1), ")")

    def key_pred(self, alias, table):
        f = self.rng.randrange(4)
        return [self.key_eq, self.key_in, self.key_any, self.key_or][f](alias, table)

    def col_pred(self, alias, table):
        """A condition on a non-key column (NULL tests, comparisons, BETWEEN, LIKE)."""
        cols = [c for c in SCHEMA[table][0] if c != SCHEMA[table][1]] or SCHEMA[table][0]
        col = self.pick(cols)
        kind = COLUMN_KIND[(table, col)]
        ref = f"{alias}{col}"
        f = self.rng.randrange(5)
        if f == 0:
            return Frag(ref, self.pick([" IS NULL", " IS NOT NULL"]))
        if kind == "bool":
            return Frag(ref, self.pick([" IS TRUE", " IS NOT FALSE", ""]))
        if f == 1 and kind in ("int4", "int8", "numeric", "date", "timestamptz"):
            a, b = sorted([self.value(table, col), self.value(table, col)])
            return Frag(ref, " BETWEEN ", Lit(a, kind), " AND ", Lit(b, kind))
        if f == 2 and kind in ("text", "varchar"):
            return Frag(ref, " LIKE ", Lit(self.pick(["%a%", "B%", "%\\_%", "_"]), "text"))
        op = self.pick(["=", "<", ">=", "<>"])
        return Frag(ref, f" {op} ", self.lit(table, col))

    def where(self, alias, table, key_chance=0.5):
        preds = []
        if SCHEMA[table][1] and self.chance(key_chance):
            preds.append(self.key_pred(alias, table))
        for _ in range(self.rng.randrange(0, 3)):
            preds.append(self.col_pred(alias, table))
        return preds


def simpler_true(frag):
    return Choice(frag, simpler=["true"])
