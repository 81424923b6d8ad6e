"""Read productions: SELECTs over every kind of table, shaped like what the router claims to
answer (README, "Routing"): key lookups, co-located joins, semi-joins, EXISTS, LATERAL, CTEs,
subqueries in FROM/WHERE/select list, aggregates with GROUP BY/HAVING, DISTINCT, ORDER BY,
LIMIT/OFFSET, window functions and set operations.

Row order is compared only when it is determined: every ORDER BY ends with the columns that
identify a row of the result (a row id, all GROUP BY columns, or all output columns), held
in Keep so the minimiser cannot drop them, and LIMIT/OFFSET require their ORDER BY.
"""

from dataset import COLUMN_KIND, ROW_ID, SCHEMA
from gen_common import CHILD, SHARDED, simpler_true
from tree import Case, Choice, Frag, Keep, Opt, Seq
from values import Lit

# productions -> the class of wrong answer they are known to reach (README lists them)
READ_PRODUCTIONS = ["rows", "aggregate", "distinct", "window", "window_order", "setop",
                    "join", "left_join", "ref_join", "lateral", "cte", "subquery_from",
                    "cross_join", "unlisted", "sql_function"]

GROUPABLE = {"t_int": ["grp", "flag", "name", "score", "d"], "t_big": ["grp", "txt"],
             "t_text": ["grp", "note"], "t_uuid": ["grp"], "t_empty": ["grp"],
             "t_intc": ["qty", "label"], "t_bigc": ["amount"], "t_ci": ["grp"]}
# t_ci's k and tag compare case-insensitively: which spelling DISTINCT, GROUP BY or a set
# operation outputs for 'x'/'X' is up to the plan, so they are never grouped or deduplicated
TYPMOD_COLS = {"score", "name", "note", "amount"}     # numeric(p,s) / varchar(n) columns
NUMERIC_COLS = {"t_int": ["val", "score", "grp"], "t_big": ["val", "k"], "t_text": ["val"],
                "t_uuid": ["val"], "t_empty": ["val"], "t_intc": ["qty"], "t_bigc": ["amount"],
                "t_ci": ["val"]}


def _cols(table):
    return SCHEMA[table][0]


def select_cols(gen, table):
    """Columns that may appear in output (timestamptz ones unless switched off)."""
    if gen.allowed("timestamptz_out"):
        return _cols(table)
    return [c for c in _cols(table) if COLUMN_KIND[(table, c)] != "timestamptz"]


def select_items(gen, alias, table, n_max=4):
    cols = select_cols(gen, table)
    items = []
    for c in gen.rng.sample(cols, min(len(cols), gen.rng.randrange(1, n_max + 1))):
        kind = COLUMN_KIND[(table, c)]
        ref = f"{alias}{c}"
        r = gen.rng.randrange(8)
        if r == 0 and kind in ("int4", "int8", "numeric"):
            items.append(Choice(f"{ref} + 1 AS {c}_p1", simpler=[ref]))
        elif r == 1 and kind in ("text", "varchar"):
            items.append(Choice(f"upper({ref}) AS {c}_up", simpler=[ref]))
        elif r == 2:
            items.append(Choice(f"CASE WHEN {ref} IS NULL THEN 'none' ELSE 'some' END AS "
                                f"{c}_case", simpler=[ref]))
        elif r == 3 and kind == "timestamptz":
            items.append(Choice(f"{ref}::text AS {c}_txt", simpler=[ref]))
        else:
            items.append(ref)
        if kind == "timestamptz":
            gen.mark("timestamptz_out")
    return items


def where_extra(gen, alias, table):
    """Subquery predicates for a parent table with a co-located child."""
    preds = []
    child = CHILD.get(table)
    key = SCHEMA[table][1]
    if child and gen.chance(0.4):
        ckey = SCHEMA[child][1]
        inner = Seq([f"c.{ckey} = {alias}{key}"] +
                    [gen.col_pred("c.", child) for _ in range(gen.rng.randrange(0, 2))],
                    sep=" AND ")
        r = gen.rng.randrange(6)
        if r == 3 and not gen.allowed("semi_distinct_on"):
            r = 2
        gen.mark(["exists", "not_exists", "semi_in", "semi_distinct_on", "scalar_where",
                  "ref_semi"][r])
        if r == 0:
            p = Frag("EXISTS (SELECT 1 FROM ", child, " c WHERE ", inner, ")")
        elif r == 1:
            p = Frag("NOT EXISTS (SELECT 1 FROM ", child, " c WHERE ", inner, ")")
        elif r == 2:
            p = Frag(f"{alias}{key} IN (SELECT c.{ckey} FROM {child} c",
                     Opt(" WHERE ", gen.col_pred("c.", child)), ")")
        elif r == 3:
            col = gen.pick([c for c in _cols(child) if c not in (ckey, ROW_ID[child])])
            p = Frag(f"{alias}{key} IN (SELECT DISTINCT ON (c.{col}) c.{ckey} FROM {child} c "
                     f"ORDER BY c.{col}, c.{ROW_ID[child]})")
        elif r == 4:
            num = NUMERIC_COLS[child][0]
            p = Frag(f"{alias}{NUMERIC_COLS[table][0]} > (SELECT min(c.{num}) FROM {child} c "
                     "WHERE ", inner, ")")
        else:
            p = Frag(f"{alias}grp IN (SELECT kind FROM r_kind", Opt(" WHERE kind < ",
                                                                     Lit(gen.rng.randrange(6), "int4")), ")")
        preds.append(simpler_true(p))
    if gen.chance(0.05) and gen.allowed("scalar_uncorrelated"):
        num = NUMERIC_COLS[table][0]
        gen.mark("scalar_uncorrelated")
        preds.append(simpler_true(Frag(f"{alias}{num} > (SELECT avg({num}) FROM {table})")))
    return preds


def _where(gen, alias, table, key_chance=0.5):
    preds = [simpler_true(p) for p in gen.where(alias, table, key_chance)] + \
        where_extra(gen, alias, table)
    if not preds:
        return None
    return Opt(" WHERE ", Seq(preds, sep=" AND "))


def _order_limit(gen, order_items, key_items, force_order=False):
    """ORDER BY [random items,] Keep(key items); LIMIT/OFFSET requiring it."""
    if not force_order and not gen.chance(0.6):
        return None, []
    dirs = [" DESC", " ASC", " DESC NULLS LAST", " NULLS FIRST", ""]
    lead = [Frag(o, gen.pick(dirs)) for o in gen.rng.sample(order_items,
                                                            min(len(order_items),
                                                                gen.rng.randrange(0, 3)))]
    order = Opt(" ORDER BY ", Seq(lead + [Keep(k, gen.pick(dirs)) for k in key_items]))
    tail = []
    if gen.chance(0.4):
        tail.append(Opt(" LIMIT ", Lit(gen.rng.randrange(0, 12), "int8"), requires=[order]))
    if gen.chance(0.25):
        tail.append(Opt(" OFFSET ", Lit(gen.rng.randrange(0, 6), "int8"), requires=[order]))
    return order, tail


def _from(gen, table):
    """(FROM fragment, alias prefix of the lead table, row id expressions, production)."""
    child = CHILD.get(table)
    key = SCHEMA[table][1]
    rid = [f"a.{ROW_ID[table]}"]
    r = gen.rng.randrange(10)
    if r == 0 and child and gen.allowed("join"):
        return (Frag(f"{table} a JOIN {child} c ON c.{SCHEMA[child][1]} = a.{key}"), "a.",
                rid + [f"c.{ROW_ID[child]}"], "join")
    if r == 1 and child and gen.allowed("left_join"):
        return (Frag(f"{table} a LEFT JOIN {child} c ON c.{SCHEMA[child][1]} = a.{key}"), "a.",
                rid + [f"c.{ROW_ID[child]}"], "left_join")
    if r == 2 and gen.allowed("ref_join") and "grp" in _cols(table):
        return Frag(f"{table} a JOIN r_kind r ON r.kind = a.grp"), "a.", rid, "ref_join"
    if r == 3 and child and gen.allowed("lateral"):
        cid = ROW_ID[child]
        return (Frag(f"{table} a, LATERAL (SELECT c.{cid} FROM {child} c WHERE "
                     f"c.{SCHEMA[child][1]} = a.{key} ORDER BY c.{cid}",
                     Opt(" LIMIT 2"), ") l"), "a.", rid + [f"l.{cid}"], "lateral")
    if r == 4 and gen.allowed("subquery_from"):
        return (Frag("(SELECT * FROM ", table, Opt(" WHERE ", gen.key_pred("", table)), ") a"),
                "a.", rid, "subquery_from")
    if r == 5 and gen.allowed("cross_join") and table in ("t_int", "t_big"):
        other = "t_big" if table == "t_int" else "t_int"
        okey = SCHEMA[other][1]
        return (Frag(f"{table} a JOIN {other} b ON b.{okey} = a.{key}"), "a.", rid,
                "cross_join")
    return Frag(f"{table} a"), "a.", rid, "rows"


def gen_rows(gen, table):
    frm, alias, rid, prod = _from(gen, table)
    items = select_items(gen, alias, table)
    if prod in ("join", "left_join") and gen.chance(0.7):
        # a child column named like a lead-table column (c.id next to ORDER BY a.id)
        ccols = [c for c in _cols(CHILD[table])
                 if gen.allowed("order_name_clash") or c not in _cols(table)]
        col = gen.pick(ccols)
        if col in _cols(table):
            gen.mark("order_name_clash")
        items.append(f"c.{col}")
    if prod == "ref_join":
        items.append("r.label")
    if CHILD.get(table) and gen.chance(0.15):
        child = CHILD[table]
        gen.mark("scalar_select")
        items.append(Choice(f"(SELECT count(*) FROM {child} c2 WHERE c2.{SCHEMA[child][1]} = "
                            f"a.{SCHEMA[table][1]}) AS n_children", simpler=["0 AS zero"]))
    distinct = False
    window = None
    # a window's ORDER BY names the lead table's row id: only deterministic when the FROM
    # yields one row per lead row (no child join, no LATERAL)
    if gen.chance(0.12) and gen.allowed("window") and "val" in _cols(table) and \
            prod in ("rows", "ref_join", "subquery_from"):
        part = gen.pick(["", "PARTITION BY a.grp "])
        w = gen.pick([f"row_number() OVER ({part}ORDER BY {rid[0]})",
                      f"rank() OVER ({part}ORDER BY a.val)",
                      "dense_rank() OVER (ORDER BY a.grp NULLS FIRST)",
                      f"sum(a.val) OVER ({part.strip()})", "count(*) OVER ()",
                      f"lag(a.val) OVER (ORDER BY {rid[0]})"])
        items.append(w + " AS w")
        window = w
        prod = "window"
    where = _where(gen, alias, table)
    order_cols = [f"a.{c}" for c in _cols(table) if COLUMN_KIND[(table, c)] != "float8"]
    if gen.chance(0.1) and gen.allowed("float_order") and table == "t_int":
        order_cols = ["a.f"]
        gen.mark("float_order")
    if window and gen.chance(0.3) and gen.allowed("window_order"):
        order_cols = [window]
        prod = "window_order"
        gen.mark("window_order")
    if gen.chance(0.12) and not window and table != "t_ci":
        distinct = True
        prod = "distinct" if prod == "rows" else prod
    if distinct:
        rendered = [i if isinstance(i, str) else i.parts[0] for i in items]
        # ORDER BY of a DISTINCT may only name output columns: order by all of them
        order, tail = _order_limit(gen, [], [str(k + 1) for k in range(len(rendered))])
        items = [Keep(i) if isinstance(i, str) else Keep(i.parts[0]) for i in items]
    elif prod == "rows" and gen.chance(0.1):
        # the row id selected twice, ORDER BY its bare name (section 4: SELECT id, id ...
        # ORDER BY id): PostgreSQL resolves it, the two outputs being one column
        gen.mark("repeated_output")
        items = [Keep(rid[0]), Keep(rid[0])] + items
        order, tail = _order_limit(gen, [], [r.split(".")[-1] for r in rid], force_order=True)
    else:
        order, tail = _order_limit(gen, order_cols, rid)
    tree = Frag("SELECT ", "DISTINCT " if distinct else "", Seq(items), " FROM ", frm,
                where or "", order or "", *tail)
    return Case(tree, "read", prod, order=order)


def gen_aggregate(gen, table):
    alias = "a."
    pool = GROUPABLE[table]
    if not gen.allowed("group_typmod"):
        pool = [g for g in pool if g not in TYPMOD_COLS]
    groups = gen.rng.sample(pool, min(len(pool), gen.rng.randrange(0, 3))) \
        if gen.chance(0.8) else []
    nums = NUMERIC_COLS[table]
    n = gen.pick(nums)
    maxable = [c for c in select_cols(gen, table) if COLUMN_KIND[(table, c)] != "bool" and
               (table, c) != ("t_ci", "tag")]
    agg_pool = ["count(*)", f"count({alias}{n})", f"sum({alias}{n})", f"min({alias}{n})",
                f"max({alias}{n})", f"avg({alias}{n})", "count(*)::int AS cnt",
                f"coalesce(sum({alias}{n}), 0) AS s0",
                f"max({alias}{gen.pick(maxable)})"]
    if gen.allowed("count_distinct"):
        agg_pool.append(f"count(DISTINCT {alias}{n})")
    aggs = [gen.pick(agg_pool) for _ in range(gen.rng.randrange(1, 4))]
    if table == "t_ci" and gen.chance(0.5) and gen.allowed("count_distinct"):
        aggs.append("count(DISTINCT a.tag)")
    if table == "t_int" and gen.chance(0.2):
        aggs.append(gen.pick(["bool_and(a.flag)", "string_agg(a.name, ',' ORDER BY a.name)",
                              "max(a.d)", "bit_or(a.val)"] +
                             (["min(a.ts)"] if gen.allowed("timestamptz_out") else [])))
    items = [f"{alias}{g}" for g in groups] + aggs
    prod = "aggregate"
    if any("DISTINCT" in a for a in aggs):
        gen.mark("count_distinct")
    if any("a.ts" in a for a in aggs):
        gen.mark("timestamptz_out")
    if groups and set(groups) & TYPMOD_COLS:
        gen.mark("group_typmod")
        prod = "aggregate_typmod"
    where = _where(gen, alias, table, key_chance=0.3)
    group = Opt(" GROUP BY ", Seq([Keep(f"{alias}{g}") for g in groups]),
                droppable=False) if groups else ""
    having = ""
    if gen.chance(0.08):
        gen.mark("having_subquery")
        having = Opt(" HAVING count(*) > (SELECT count(*) FROM r_kind WHERE kind > ",
                     Lit(gen.rng.randrange(6), "int4"), ")")
        prod = "aggregate_having"
    elif gen.chance(0.3):
        having = Opt(" HAVING ", gen.pick(["count(*)", f"sum({alias}{n})", f"max({alias}{n})"]),
                     gen.pick([" > ", " >= ", " < "]),
                     Lit(gen.rng.randrange(0, 4), "int4", param_ok=gen.allowed("having_param")))
        prod = "aggregate_having"
        if gen.allowed("having_param"):
            gen.mark("having_param")
    order, tail = _order_limit(gen, [], [f"{alias}{g}" for g in groups] or ["1"])
    tree = Frag("SELECT ", Seq(items), f" FROM {table} a", where or "", group, having,
                order or "", *tail)
    return Case(tree, "read", prod, order=order)


def gen_setop(gen, table):
    cols = gen.rng.sample([c for c in select_cols(gen, table) if COLUMN_KIND[(table, c)] != "float8"],
                          gen.rng.randrange(1, 3))
    op = gen.pick([" UNION ", " UNION ALL ", " INTERSECT ", " EXCEPT "])
    other = table if gen.chance(0.7) else gen.pick(SHARDED + ["r_kind", "u_misc"])
    assert table != "t_ci"
    ocols = cols if other == table else None
    if ocols is None:
        ocols = [c for c in _cols(other)][:len(cols)]
        if len(ocols) < len(cols):
            other, ocols = table, cols
    left = Frag("SELECT ", ", ".join(cols), f" FROM {table}",
                Opt(" WHERE ", Seq(gen.where("", table), sep=" AND ")) if gen.chance(0.7)
                else "")
    right = Frag("SELECT ", ", ".join(ocols), f" FROM {other}",
                 Opt(" WHERE ", Seq(gen.where("", other), sep=" AND ")) if gen.chance(0.7)
                 else "")
    order, tail = _order_limit(gen, [], [str(i + 1) for i in range(len(cols))])
    tree = Frag(left, op, right, order or "", *tail)
    for o in (left.parts[-1], right.parts[-1]):
        if isinstance(o, Opt) and not o.parts[1].items:
            o.present = False
    return Case(tree, "read", "setop", order=order)


def gen_wrapped(gen, table):
    """A CTE or an outer query over a generated SELECT."""
    inner = gen_rows(gen, table)
    if inner.order is not None:
        inner.order.present = False        # the outer query decides the order
        for n in inner.tree.parts:
            if isinstance(n, Opt) and inner.order in n.requires:
                n.present = False
    tree = Frag("WITH w AS (", inner.tree, ") SELECT * FROM w",
                Opt(" WHERE ", "w IS NOT NULL"))
    return Case(tree, "read", "cte")


def gen_unlisted(gen):
    items = gen.rng.sample(["id", "grp", "txt"], gen.rng.randrange(1, 4))
    order, tail = _order_limit(gen, [], [str(i + 1) for i in range(len(items))])
    tree = Frag("SELECT ", ", ".join(items), " FROM u_misc",
                Opt(" WHERE grp = ", Lit(gen.rng.randrange(3), "int4")) if gen.chance(0.5)
                else "", order or "", *tail)
    return Case(tree, "read", "unlisted", order=order)


def gen_function(gen):
    gen.mark("sql_function")
    tree = gen.pick([Frag("SELECT sg_count_int() AS n"),
                     Frag("SELECT id, sg_count_int() AS n FROM t_int WHERE ",
                          gen.key_eq("", "t_int"))])
    return Case(tree, "read", "sql_function")


def gen_read(gen):
    table = gen.pick_table(SHARDED + ["t_int", "t_int", "t_big", "r_kind", "t_intc", "t_ci"])
    r = gen.rng.random()
    if table == "r_kind":
        items = gen.rng.sample(["kind", "label"], gen.rng.randrange(1, 3))
        order, tail = _order_limit(gen, [], ["kind"])
        return Case(Frag("SELECT ", Seq(items), " FROM r_kind",
                         Opt(" WHERE kind > ", Lit(gen.rng.randrange(6), "int4")),
                         order or "", *tail), "read", "reference", order=order)
    if r < 0.05 and gen.allowed("unlisted"):
        return gen_unlisted(gen)
    if r < 0.08 and gen.allowed("sql_function"):
        return gen_function(gen)
    if r < 0.30 and table in GROUPABLE and gen.allowed("aggregate"):
        c = gen_aggregate(gen, table)
        if gen.allowed(c.production):
            return c
    if r < 0.40 and gen.allowed("setop") and table != "t_ci":
        return gen_setop(gen, table)
    if r < 0.46 and gen.allowed("cte"):
        return gen_wrapped(gen, table)
    for _ in range(20):
        c = gen_rows(gen, table)
        if gen.allowed(c.production):
            return c
    return gen_unlisted(gen)
