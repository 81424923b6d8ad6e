"""Write productions: INSERT (single and multi-row, RETURNING, ON CONFLICT, INSERT ... SELECT),
UPDATE and DELETE (by key and fanned out, with subqueries, RETURNING), writes to the
reference and the unlisted table, and DDL. New keys come from a counter, so INSERTs mostly
add rows; the duplicate-key production reuses an existing key on purpose."""

import uuid as uuid_mod

from dataset import COLUMN_KIND, SCHEMA
from gen_common import CHILD
from gen_read import where_extra
from tree import BatchCase, Case, Choice, Frag, Opt, Seq
from values import Lit

WRITE_TABLES = ["t_int", "t_int", "t_big", "t_text", "t_uuid", "t_intc", "t_bigc", "t_ci"]


def fresh_key(gen, table):
    gen.fresh += 1
    kind = COLUMN_KIND[(table, SCHEMA[table][1])]
    if kind == "int4":
        return gen.fresh
    if kind == "int8":
        return gen.fresh * 1048573 * gen.pick([1, -1])
    if kind == "text":
        return gen.pick(["new", "Nëw", "n'", "n\\"]) + str(gen.fresh)
    return uuid_mod.UUID(int=gen.rng.getrandbits(128), version=4)


def _row(gen, table, cols, dup):
    key = SCHEMA[table][1]
    vals = []
    for c in cols:
        if c == "cid" and dup:
            v = gen.rng.randrange(1, 60)       # an existing child row id (see gen_insert)
        elif c == "cid":
            gen.fresh += 1
            v = gen.fresh
        elif c == key and table not in CHILD.values():
            v = gen.value(table, key) if dup else fresh_key(gen, table)
        else:
            v = gen.value(table, c)
            if gen.chance(0.1):
                v = None
        vals.append(Lit(v, COLUMN_KIND[(table, c)], infer=gen.chance(0.2)))
    return Frag("(", Seq(vals, min_items=len(vals)), ")")


def gen_insert(gen, table):
    cols_all = SCHEMA[table][0]
    key = SCHEMA[table][1]
    must = [c for c in cols_all if c in (key, "cid")]
    rest = [c for c in cols_all if c not in must]
    cols = must + gen.rng.sample(rest, gen.rng.randrange(0, len(rest) + 1))
    n = gen.pick([1, 1, 2, 3, 5])
    prod = "insert"
    child = table in CHILD.values()
    # insert_dup: the last row repeats an existing shard key (child tables' row ids cid stay
    # unique: they identify rows in ordered comparisons, and are only unique with the key)
    dup = not child and gen.chance(0.1) and gen.allowed("insert_dup")
    rows = [_row(gen, table, cols, dup and i == n - 1) for i in range(n)]
    if dup:
        prod = "insert_dup"
        gen.mark(prod)
    conflict = ""
    rowid = f"cid, {key}" if "cid" in cols_all else key
    if gen.chance(0.2) and gen.allowed("insert_on_conflict"):
        upd = [c for c in cols if c not in must]
        if upd and gen.chance(0.6):
            conflict = Opt(f" ON CONFLICT ({rowid}) DO UPDATE SET {upd[0]} = EXCLUDED.{upd[0]}")
        else:
            conflict = Opt(f" ON CONFLICT ({rowid}) DO NOTHING")
        prod = "insert_on_conflict"
    returning = ""
    in_order = False
    if gen.chance(0.35):
        returning = Opt(" RETURNING ", gen.pick(["*", key, f"{key}, {cols[-1]}"]))
        if n > 1 and not conflict:
            prod = "insert_returning" if gen.allowed("insert_returning") else prod
            in_order = gen.allowed("insert_returning")
            if in_order:
                gen.mark("insert_returning")
    tree = Frag(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ",
                Seq(rows), conflict, returning)
    c = Case(tree, "write", prod, table=table, in_order=in_order)
    return c


def gen_insert_select(gen):
    # cid = id + base: each statement a range of its own (ids stay below 10^6), apart from
    # gen.fresh's; it wraps after 1500 statements, long after the tables were reset
    gen.select_count = getattr(gen, "select_count", 0) + 1
    base = 50000000 + (gen.select_count % 1500) * 1000000
    preds = [Choice(p, simpler=["true"]) for p in gen.where("a.", "t_int", 0.4)] or ["true"]
    tree = Frag(f"INSERT INTO t_intc (cid, id, qty, label) SELECT a.id + {base}, a.id, a.grp, "
                "a.name FROM t_int a WHERE ", Seq(preds, sep=" AND "),
                Opt(" RETURNING cid, id") if gen.chance(0.3) else "")
    return Case(tree, "write", "insert_select", table="t_intc")


def gen_update(gen, table):
    cols = SCHEMA[table][0]
    key = SCHEMA[table][1]
    num = "qty" if table == "t_intc" else ("amount" if table == "t_bigc" else "val")
    sets = [Choice(f"{num} = {num} + ", Lit(gen.rng.randrange(-3, 4), "int4"),
                   simpler=[f"{num} = {num}"])]
    prod = "update"
    other = [c for c in cols if c not in (key, "cid", num)]
    if table in CHILD and gen.chance(0.2):
        child = CHILD[table]
        gen.mark("set_subquery")
        sets.append(Choice(f"grp = (SELECT count(*) FROM {child} c WHERE c.{SCHEMA[child][1]} = "
                           f"{table}.{key})", simpler=["grp = grp"]))
        other = [c for c in other if c != "grp"]
    if other and gen.chance(0.4):
        c = gen.pick(other)
        sets.append(Frag(f"{c} = ", gen.lit(table, c)))
    if gen.chance(0.05) and gen.allowed("update_key"):
        sets.append(Frag(f"{key} = ", gen.lit(table, key)))
        prod = "update_key"
        gen.mark("update_key")
    if gen.chance(0.05) and gen.allowed("update_fail") and num == "val":
        sets = [Frag(f"{num} = 100 / ({num} - ", Lit(gen.rng.randrange(-9, 9), "int4"), ")")]
        prod = "update_fail"
        gen.mark("update_fail")
    preds = [Choice(p, simpler=["true"]) for p in gen.where("", table, 0.75)]
    preds += where_extra_plain(gen, table)
    where = Opt(" WHERE ", Seq(preds, sep=" AND ")) if preds else ""
    ret = Opt(" RETURNING ", gen.pick(["*", key])) if gen.chance(0.3) else ""
    if ret and prod == "update":
        prod = "update_returning"
    return Case(Frag(f"UPDATE {table} SET ", Seq(sets), where, ret), "write", prod,
                table=table)


def where_extra_plain(gen, table):
    """where_extra with the table itself as correlation name."""
    return where_extra(gen, f"{table}.", table)


def gen_delete(gen, table):
    key = SCHEMA[table][1]
    preds = [Choice(p, simpler=["true"]) for p in gen.where("", table, 0.85)]
    preds += where_extra_plain(gen, table)
    prod = "delete"
    if table in CHILD and gen.chance(0.05) and gen.allowed("delete_semi_distinct_on"):
        child = CHILD[table]
        preds = [Frag(f"{key} IN (SELECT DISTINCT ON (c.{SCHEMA[child][0][2]}) c.{key} "
                      f"FROM {child} c ORDER BY c.{SCHEMA[child][0][2]}, c.cid)")]
        prod = "delete_semi_distinct_on"
        gen.mark("delete_semi_distinct_on")
    if not preds:
        preds = [Frag(f"{key} = ", gen.lit(table, key))]
    ret = Opt(" RETURNING ", gen.pick(["*", key])) if gen.chance(0.3) else ""
    if ret and prod == "delete":
        prod = "delete_returning"
    return Case(Frag(f"DELETE FROM {table} WHERE ", Seq(preds, sep=" AND "), ret), "write",
                prod, table=table)


def gen_other_write(gen):
    r = gen.rng.randrange(6) if gen.allowed("reference_write") else gen.rng.randrange(3, 6)
    if r < 3:
        gen.mark("reference_write")
    if r == 0:
        gen.fresh += 1
        tree = Frag("INSERT INTO r_kind (kind, label) VALUES (", Lit(gen.fresh, "int4"), ", ",
                    gen.lit("r_kind", "label"), ")", Opt(" RETURNING kind"))
        return Case(tree, "write", "reference_write", table="r_kind")
    if r == 1:
        tree = Frag("UPDATE r_kind SET label = ", gen.lit("r_kind", "label"),
                    " WHERE kind = ", Lit(gen.rng.randrange(0, 8), "int4"))
        return Case(tree, "write", "reference_write", table="r_kind")
    if r == 2:
        tree = Frag("DELETE FROM r_kind WHERE kind > 1000")
        return Case(tree, "write", "reference_write", table="r_kind")
    if r == 3:
        tree = Frag("INSERT INTO u_misc (id, grp, txt) VALUES (", Lit(gen.rng.randrange(10), "int4"),
                    ", ", Lit(gen.rng.randrange(3), "int4"), ", ", gen.lit("u_misc", "txt"), ")")
        return Case(tree, "write", "unlisted_write", table="u_misc")
    if r == 4:
        tree = Frag("UPDATE u_misc SET txt = ", gen.lit("u_misc", "txt"), " WHERE grp = ",
                    Lit(gen.rng.randrange(3), "int4"), Opt(" RETURNING id, txt"))
        return Case(tree, "write", "unlisted_write", table="u_misc")
    tree = Frag("DELETE FROM u_misc WHERE id = ", Lit(gen.rng.randrange(10), "int4"))
    return Case(tree, "write", "unlisted_write", table="u_misc")


def gen_ddl(gen):
    t = gen.pick(["t_int", "t_big", "t_text", "r_kind"] +
                 (["u_misc"] if gen.allowed("ddl_unlisted") else []))
    col = gen.pick([c for c in SCHEMA[t][0] if c != SCHEMA[t][1]])
    if t == "u_misc":
        gen.mark("ddl_unlisted")
    # a unique constraint or index without the shard key is refused (0A000; never run on the
    # oracle); with it, accepted
    uniq = gen.pick(["t_intc", "t_bigc", "t_int"])
    other = gen.pick([c for c in SCHEMA[uniq][0] if c != SCHEMA[uniq][1]])
    if gen.chance(0.1):
        sql = gen.pick([f"ALTER TABLE {uniq} ADD CONSTRAINT sgu_{uniq} UNIQUE ({other})",
                        f"CREATE UNIQUE INDEX sgu_{uniq}_{other} ON {uniq} ({other})",
                        f"ALTER TABLE {uniq} ADD CONSTRAINT sgu_{uniq} PRIMARY KEY ({other})"])
        return Case(Frag(sql), "ddl", "ddl_unique", paramable=False)
    sql = gen.pick([f"CREATE INDEX IF NOT EXISTS sgx_{t}_{col} ON {t} ({col})",
                    f"DROP INDEX IF EXISTS sgx_{t}_{col}",
                    f"COMMENT ON TABLE {t} IS 'fuzz {gen.rng.randrange(100)}'",
                    "CREATE TABLE IF NOT EXISTS u_scratch (a int, b text)",
                    "DROP TABLE IF EXISTS u_scratch",
                    f"ALTER TABLE {t} ALTER COLUMN {col} DROP DEFAULT"])
    return Case(Frag(sql), "ddl", "ddl", paramable=False)


def gen_batch(gen):
    """2-4 writes of one table sent together (one implicit transaction in PostgreSQL):
    single-row INSERTs and UPDATEs by key; with batch_dup the last INSERT repeats a key."""
    table = gen.pick_table(["t_int", "t_big", "t_text", "t_uuid", "t_ci"])
    key = SCHEMA[table][1]
    cols = [key, "grp", "val"]
    dup = gen.chance(0.4) and gen.allowed("batch_dup")
    n = gen.rng.randrange(2, 5)
    stmts = []
    for i in range(n):
        if i < n - 1 and gen.chance(0.3):
            stmts.append(Frag(f"UPDATE {table} SET val = val + 1 WHERE {key} = ",
                              gen.lit(table, key)))
        else:
            stmts.append(Frag(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ",
                              _row(gen, table, cols, dup and i == n - 1)))
    prod = "batch_dup" if dup else "batch"
    gen.mark(prod)
    return BatchCase(Seq(stmts, sep="; "), "write", prod, table=table)


def gen_write(gen):
    r = gen.rng.random()
    if r > 0.95 and gen.allowed("batch"):
        return gen_batch(gen)
    if r < 0.05 and gen.allowed("ddl"):
        return gen_ddl(gen)
    if r < 0.15:
        return gen_other_write(gen)
    if r < 0.22 and gen.allowed("insert_select"):
        return gen_insert_select(gen)
    table = gen.pick_table(WRITE_TABLES)
    if r < 0.55:
        return gen_insert(gen, table)
    if r < 0.8:
        return gen_update(gen, table)
    return gen_delete(gen, table)

