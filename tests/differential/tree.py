"""Generated statements as small trees the minimiser can shrink.

A statement is a Frag of parts (SQL text, Lits, nested Frags). Three node kinds mark what may
be removed while keeping the SQL well formed:
  Opt     an optional clause (WHERE ..., ORDER BY ..., LIMIT ..., RETURNING ...): may be
          dropped, unless another present node `requires` it (LIMIT requires its ORDER BY,
          so a shrunk statement never compares an undetermined row order);
  Seq     a separated list (select items, ANDed predicates, VALUES rows): items may be
          removed down to `min_items`; an item wrapped in Keep never is (the ORDER BY columns
          that make the order total);
  Choice  an expression with simpler replacements (a subquery predicate -> `true`).
Case wraps the tree with what the comparison needs (read or write, target table, whether the
row order is determined).
"""

import copy

from values import RenderCtx


class Frag:
    def __init__(self, *parts):
        self.parts = list(parts)

    def render(self, ctx):
        return "".join(p if isinstance(p, str) else p.render(ctx) for p in self.parts)

    def children(self):
        return [p for p in self.parts if not isinstance(p, str)]


class Keep(Frag):
    """An item a Seq never drops."""


class Opt(Frag):
    def __init__(self, *parts, requires=(), droppable=True):
        super().__init__(*parts)
        self.present = True
        self.requires = list(requires)
        self.droppable = droppable

    def render(self, ctx):
        return super().render(ctx) if self.present else ""


class Seq(Frag):
    def __init__(self, items, sep=", ", min_items=1):
        super().__init__()
        self.items = list(items)
        self.sep = sep
        self.min_items = min_items

    def render(self, ctx):
        return self.sep.join(i if isinstance(i, str) else i.render(ctx) for i in self.items)

    def children(self):
        return [i for i in self.items if not isinstance(i, str)]


class Choice(Frag):
    """Renders `parts`; `simpler` lists replacements (strings or Frags) to try."""

    def __init__(self, *parts, simpler=()):
        super().__init__(*parts)
        self.simpler = list(simpler)


def walk(node):
    """Every rendered node (the insides of a dropped Opt are not rendered)."""
    yield node
    if isinstance(node, Opt) and not node.present:
        return
    if not isinstance(node, str) and hasattr(node, "children"):
        for c in node.children():
            yield from walk(c)


class Case:
    """kind: 'read', 'write' or 'ddl'. table: the table a write changes. production: the
    generator production (exclusion switches and counts use it). order: the ORDER BY Opt
    whose presence makes the row order determined (None: rows compared as a multiset);
    in_order: rows always come in a determined order (INSERT ... VALUES ... RETURNING)."""

    def __init__(self, tree, kind, production, table=None, order=None, in_order=False,
                 paramable=True):
        self.tree = tree
        self.kind = kind
        self.production = production
        self.table = table
        self.order = order
        self.in_order = in_order
        self.paramable = paramable
        self.features = []            # sub-productions used (set by the campaign)

    def ordered(self):
        return self.in_order or (self.order is not None and self.order.present)

    def render(self, parameterised):
        ctx = RenderCtx(parameterised and self.paramable)
        sql = self.tree.render(ctx)
        return sql, (ctx.params or [])

    def sql(self):
        return self.render(False)[0]

    def statements(self, parameterised):
        """[(sql, params)] of the messages to send: one statement here."""
        return [self.render(parameterised)]

    def to_json(self):
        return {"sql": self.sql(), "kind": self.kind, "production": self.production,
                "features": self.features,
                "table": self.table, "ordered": self.ordered()}

    def valid(self):
        """Every present node's requirements are present."""
        for n in walk(self.tree):
            if isinstance(n, Opt) and n.present:
                if any(isinstance(r, Opt) and not r.present for r in n.requires):
                    return False
        return True


class BatchCase(Case):
    """Several statements sent together: one Query with `;` between them (simple protocol)
    or Parse/Bind/Execute for each before one Sync (extended). PostgreSQL runs either as one
    implicit transaction: an error in one undoes the others. tree: a Seq of statements."""

    def render(self, parameterised):
        sqls, params = [], []
        for sql, p in self.statements(parameterised):
            sqls.append(sql)
            params += p
        return "; ".join(sqls), params

    def statements(self, parameterised):
        out = []
        for item in self.tree.items:
            ctx = RenderCtx(parameterised and self.paramable)
            out.append((item.render(ctx), ctx.params or []))
        return out


def mutations(case):
    """Every one-step shrink of `case`, as new Cases (most shrinking first)."""
    out = []
    nodes = list(walk(case.tree))
    for idx, n in enumerate(nodes):
        if isinstance(n, Opt) and n.present and n.droppable:
            out.append((idx, "drop", None))
        if isinstance(n, Seq) and len(n.items) > n.min_items:
            for j, item in enumerate(n.items):
                if not isinstance(item, Keep):
                    out.append((idx, "remove", j))
        if isinstance(n, Choice):
            for j in range(len(n.simpler)):
                out.append((idx, "simplify", j))
    for idx, op, arg in out:
        c = copy.deepcopy(case)
        node = list(walk(c.tree))[idx]
        if op == "drop":
            node.present = False
        elif op == "remove":
            del node.items[arg]
        else:
            rep = node.simpler[arg]
            node.parts = [rep] if isinstance(rep, str) else [copy.deepcopy(rep)]
            node.simpler = []
        if c.valid():
            yield c
