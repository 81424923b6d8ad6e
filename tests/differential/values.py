"""Typed constants of generated statements, and their three spellings.

A Lit is one constant of a statement. It renders either as SQL text (the simple protocol) or
as a `$n` parameter whose value is sent in PostgreSQL's text format or in its binary format
(the extended protocol). The binary encoders follow PostgreSQL's send functions (int2send,
int8send, float8send, numeric_send, uuid_send, date_send, timestamptz_send, array_send), so
a parameter means exactly what the literal means.
"""

import datetime
import decimal
import struct
import uuid as uuid_mod

# type name -> (OID, array OID)
TYPES = {
    "int2": (21, 1005), "int4": (23, 1007), "int8": (20, 1016), "numeric": (1700, 1231),
    "float8": (701, 1022), "text": (25, 1009), "varchar": (1043, 1015), "bool": (16, 1000),
    "uuid": (2950, 2951), "date": (1082, 1182), "timestamptz": (1184, 1185),
    "bpchar": (1042, 1014),
}

PG_EPOCH = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
PG_EPOCH_DATE = datetime.date(2000, 1, 1)

SQL_CAST = {"int2": "smallint", "int4": "integer", "int8": "bigint", "numeric": "numeric",
            "float8": "float8", "text": "text", "varchar": "varchar", "bool": "boolean",
            "uuid": "uuid", "date": "date", "timestamptz": "timestamptz", "bpchar": "bpchar"}


def quote(s):
    """A standard SQL string literal (E'' when it holds a backslash, so that the text means
    the same under standard_conforming_strings on and off)."""
    if "\\" in s:
        return "E'" + s.replace("\\", "\\\\").replace("'", "''") + "'"
    return "'" + s.replace("'", "''") + "'"


def text_of(v, kind):
    """PostgreSQL's text input form of a Python value of `kind` (ISO forms: unambiguous under
    every DateStyle)."""
    if v is None:
        return None
    if kind == "bool":
        return "true" if v else "false"
    if kind == "float8":
        return repr(float(v))
    if kind == "timestamptz":
        return v.isoformat(sep=" ")
    if kind == "date":
        return v.isoformat()
    if kind.endswith("[]"):
        base = kind[:-2]
        parts = []
        for x in v:
            if x is None:
                parts.append("NULL")
            else:
                t = text_of(x, base)
                parts.append('"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"')
        return "{" + ",".join(parts) + "}"
    return str(v)


def _numeric_bin(v):
    d = decimal.Decimal(v)
    sign = 0x4000 if d < 0 else 0
    d = abs(d)
    t = d.as_tuple()
    dscale = max(0, -t.exponent)
    digits = "".join(map(str, t.digits))
    if t.exponent > 0:
        digits += "0" * t.exponent
        frac = ""
        ip = digits
    else:
        ip = digits[:len(digits) + t.exponent] if -t.exponent < len(digits) else ""
        frac = digits[len(digits) + t.exponent:].rjust(-t.exponent, "0")
    ip = ip.lstrip("0")
    ip = ip.rjust((len(ip) + 3) // 4 * 4, "0")
    frac = frac.ljust((len(frac) + 3) // 4 * 4, "0")
    groups = [int(ip[i:i + 4]) for i in range(0, len(ip), 4)] + \
             [int(frac[i:i + 4]) for i in range(0, len(frac), 4)]
    weight = len(ip) // 4 - 1
    while groups and groups[0] == 0:          # strip leading zero groups
        groups.pop(0)
        weight -= 1
    while groups and groups[-1] == 0:         # and trailing ones
        groups.pop()
    if not groups:
        weight, sign = 0, 0
    return struct.pack(">hhHH", len(groups), weight, sign, dscale) + \
        b"".join(struct.pack(">h", g) for g in groups)


def binary_of(v, kind):
    """PostgreSQL's binary form of a Python value of `kind`; None when there is none here."""
    if v is None:
        return None
    if kind == "int2":
        return struct.pack(">h", v)
    if kind == "int4":
        return struct.pack(">i", v)
    if kind == "int8":
        return struct.pack(">q", v)
    if kind == "float8":
        return struct.pack(">d", float(v))
    if kind == "bool":
        return b"\x01" if v else b"\x00"
    if kind in ("text", "varchar", "bpchar"):
        return str(v).encode()
    if kind == "uuid":
        return uuid_mod.UUID(str(v)).bytes
    if kind == "numeric":
        return _numeric_bin(v)
    if kind == "date":
        return struct.pack(">i", (v - PG_EPOCH_DATE).days)
    if kind == "timestamptz":
        delta = v - PG_EPOCH
        us = (delta.days * 86400 + delta.seconds) * 1000000 + delta.microseconds
        return struct.pack(">q", us)
    if kind.endswith("[]"):
        base = kind[:-2]
        elem_oid = TYPES[base][0]
        has_null = any(x is None for x in v)
        out = struct.pack(">iiI", 1, 1 if has_null else 0, elem_oid)
        out += struct.pack(">ii", len(v), 1)
        for x in v:
            b = binary_of(x, base)
            out += struct.pack(">i", -1) if b is None else struct.pack(">i", len(b)) + b
        return out
    return None


def oid_of(kind):
    if kind.endswith("[]"):
        return TYPES[kind[:-2]][1]
    return TYPES[kind][0]


class Lit:
    """One constant. kind: a TYPES name or 'name[]'. cast: SQL text after the value in both
    spellings (e.g. '::bigint', '::varchar(2)[]'). infer: in the text-parameter form, leave
    the parameter's type to the server (OID 0) instead of declaring it. param_ok: False keeps
    the literal spelling everywhere (select-list constants)."""

    def __init__(self, value, kind, cast="", infer=False, param_ok=True, typed=False):
        self.value = value
        self.kind = kind
        self.cast = cast
        self.infer = infer
        self.param_ok = param_ok
        self.typed = typed            # literal spelling carries '::type' itself

    def sql_literal(self):
        v, k = self.value, self.kind
        if v is None:
            return "NULL"
        if k in ("int2", "int4", "int8"):
            s = f"({v})" if v < 0 else str(v)
            return s + "::" + SQL_CAST[k] if self.typed else s
        if k == "numeric":
            s = str(v)
            return f"({s})" if s.startswith("-") else s
        if k == "bool":
            return "true" if v else "false"
        lit = quote(text_of(v, k))
        if self.typed or k in ("float8", "date", "timestamptz") or k.endswith("[]"):
            lit += "::" + (SQL_CAST[k[:-2]] + "[]" if k.endswith("[]") else SQL_CAST[k])
        return lit

    def render(self, ctx):
        if ctx.params is None or not self.param_ok:
            return self.sql_literal() + self.cast
        ctx.params.append(self)
        return f"${len(ctx.params)}" + self.cast

    def simpler(self):
        return []

    def __repr__(self):
        return f"Lit({self.value!r}, {self.kind!r})"


class RenderCtx:
    """params None: literal spelling; a list: collects the Lits rendered as $n."""

    def __init__(self, parameterised):
        self.params = [] if parameterised else None


def bind_values(params, binary):
    """(values, type OIDs, format codes) for a Bind of `params` (Lits)."""
    values, types, formats = [], [], []
    for p in params:
        b = binary_of(p.value, p.kind) if binary else None
        if binary and (b is not None or p.value is None):
            values.append(b)
            types.append(oid_of(p.kind))
            formats.append(1)
        else:
            values.append(text_of(p.value, p.kind))
            types.append(0 if p.infer else oid_of(p.kind))
            formats.append(0)
    return values, types, formats


def _from_text(t, kind):
    if t is None:
        return None
    if kind in ("int2", "int4", "int8"):
        return int(t)
    if kind == "numeric":
        return decimal.Decimal(t)
    if kind == "float8":
        return float(t)
    if kind == "bool":
        return t == "true"
    if kind == "uuid":
        return uuid_mod.UUID(t)
    if kind == "date":
        return datetime.date.fromisoformat(t)
    if kind == "timestamptz":
        return datetime.datetime.fromisoformat(t)
    return t


def lit_to_json(lit):
    """A parameter as JSON: kind, value in text form (a list for arrays), infer."""
    if lit.kind.endswith("[]"):
        v = None if lit.value is None else [text_of(x, lit.kind[:-2]) for x in lit.value]
    else:
        v = text_of(lit.value, lit.kind)
    return {"kind": lit.kind, "value": v, "infer": lit.infer}


def lit_from_json(d):
    kind = d["kind"]
    if kind.endswith("[]"):
        v = None if d["value"] is None else [_from_text(x, kind[:-2]) for x in d["value"]]
    else:
        v = _from_text(d["value"], kind)
    return Lit(v, kind, infer=d.get("infer", False))
