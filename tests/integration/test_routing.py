"""Routing over 4 real shards, verified from the outside.

Every row written through shardgate is looked up on each shard directly, and must sit on the
shard that the normative bucket hash (architecture.md: canonical bytes, XXH3-64 seed 0,
bucket = h & 4095, default map bucket mod 4) names — computed here in Python, never by the
proxy's code. Also: golden vectors, reads by key, fan-out reads/writes, 0A000 refusals,
transactions pinned to one shard, reference and unlisted tables, hints, DDL, parse errors,
and a differential run of the same statements against one plain PostgreSQL.

Tables: items(id bigint), docs(slug text), things(uid uuid), orders(item_id bigint,
co-located with items), countries (reference), notes (unlisted -> default shard s0).
"""

import collections
import faulthandler
import io
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import time
import unittest
import uuid

import psycopg2
import psycopg2.errors

import pgcluster
import pgwire
from pgwire import INT2, INT4, INT8, TEXT, UUID, UNKNOWN, Stmt
from sgfixture import (Deadline, Proxy, bucket_of, key_hash, keys_on_distinct_shards,
                       shard_conn, shard_of, shard_rows)

N = 4
STATEMENT_S = 20           # bound on any one statement through the proxy
WATCHDOG_S = 300           # a hung proxy must not hang CTest: dump stacks and exit
PLAIN = 4                    # cluster index of the plain PostgreSQL (differential test)

TABLES = [
    {"name": "items", "shard_key": "id", "key_type": "bigint"},
    {"name": "docs", "shard_key": "slug", "key_type": "text"},
    {"name": "things", "shard_key": "uid", "key_type": "uuid"},
    {"name": "orders", "shard_key": "item_id", "key_type": "bigint"},
    {"name": "ddl_probe", "shard_key": "id", "key_type": "bigint"},
    {"name": "countries", "kind": "reference"},
    {"name": "ref_probe", "kind": "reference"},
    {"name": "d_items", "shard_key": "id", "key_type": "bigint"},
    {"name": "d_docs", "shard_key": "slug", "key_type": "text"},
    {"name": "d_ref", "kind": "reference"},
    {"name": "coll_words", "shard_key": "id", "key_type": "bigint"},
    {"name": "copy_gen", "shard_key": "id", "key_type": "bigint"},
]

SCHEMA = """
CREATE TABLE items (id bigint PRIMARY KEY, name text, qty int NOT NULL DEFAULT 0);
CREATE TABLE docs (slug text PRIMARY KEY, body text);
CREATE TABLE things (uid uuid PRIMARY KEY, note text);
CREATE TABLE orders (order_id bigint NOT NULL, item_id bigint, amount int);
CREATE TABLE countries (code text PRIMARY KEY, name text);
CREATE TABLE notes (id int, body text);
CREATE TABLE whereami (name text);
CREATE TABLE d_items (id bigint PRIMARY KEY, name text, qty int NOT NULL DEFAULT 0);
CREATE TABLE d_docs (slug text PRIMARY KEY, body text);
CREATE TABLE d_ref (code text PRIMARY KEY, name text);
CREATE TABLE d_misc (id int, body text);
CREATE TABLE coll_words (id bigint PRIMARY KEY, word text COLLATE "en-x-icu", plain text);
"""

MAIN_TABLES = "items, docs, things, orders, countries, notes, coll_words"

# Golden vectors: (key type, value, XXH3-64 of the canonical bytes, bucket (12 bits), shard
# of the default 4-shard map). The same vectors pin the C++ hash in tests/unit/router.
GOLDEN = [
    ("bigint", 42, 0xd5a6f8c838df27c8, 1992, 0),
    ("bigint", -1, 0x5111c7e47d784413, 1043, 3),
    ("bigint", 0, 0xc77b3abb6f87acd9, 3289, 1),
    ("bigint", 9223372036854775807, 0xa233cf376558df46, 3910, 2),
    ("bigint", -9223372036854775808, 0x828f2476789a0e5f, 3679, 3),
    ("text", "hello", 0x9555e8555c62dcfd, 3325, 1),
    ("text", "", 0x2d06800538d394c2, 1218, 2),
    ("text", "h\u00e9llo w\u00f6rld \u2713", 0x3fd9c9ca13db0ea8, 3752, 0),
    ("uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", 0x55df69482c6d3767, 1895, 3),
]

cluster = None
sg = None
shards = []                  # psycopg2 connections straight to s0..s3 (autocommit)
plain = None                 # straight to the plain PostgreSQL


def setUpModule():
    global cluster, sg, shards, plain
    faulthandler.dump_traceback_later(WATCHDOG_S, exit=True)
    unittest.addModuleCleanup(faulthandler.cancel_dump_traceback_later)
    cluster = pgcluster.Cluster(N + 1)
    cluster.start()
    unittest.addModuleCleanup(cluster.stop)
    for i in range(N + 1):
        cluster.psql(i, SCHEMA)
    for i in range(N):
        cluster.psql(i, f"INSERT INTO whereami VALUES ('s{i}')")
    sg = Proxy(cluster, "test_routing", tables=TABLES, shards=list(range(N)),
               proxy={"pool_size": 4, "pool_timeout_ms": 5000}).start()
    unittest.addModuleCleanup(sg.stop)
    shards = [shard_conn(cluster, i) for i in range(N)]
    plain = shard_conn(cluster, PLAIN)
    for c in shards + [plain]:
        unittest.addModuleCleanup(c.close)


def norm_key(v, key_type):
    if key_type == "uuid":
        return uuid.UUID(str(v))
    return v


class RoutingCase(unittest.TestCase):
    """Helpers shared by the routing tests."""

    def setUp(self):
        for c in shards:
            shard_rows(c, f"TRUNCATE {MAIN_TABLES}")
        self.conn = sg.connect(autocommit=True)
        self.addCleanup(self.conn.close)

    def q(self, sql, params=None, conn=None):
        conn = conn or self.conn
        with Deadline(conn, STATEMENT_S, sql[:80]), conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def rowcount(self, sql, params=None, conn=None):
        conn = conn or self.conn
        with Deadline(conn, STATEMENT_S, sql[:80]), conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.rowcount

    def copy(self, sql, data, size=8192):
        with Deadline(self.conn, STATEMENT_S, sql), self.conn.cursor() as cur:
            cur.copy_expert(sql, io.StringIO(data), size=size)
            return cur.rowcount

    def assertSqlState(self, code, sql, params=None, conn=None, message=None):
        """Runs sql through the proxy, expects an error with SQLSTATE `code` (and a primary
        message matching regex `message`); returns the error."""
        with self.assertRaises(psycopg2.Error, msg=f"{sql!r} should fail with {code}") as cm:
            self.q(sql, params, conn)
        e = cm.exception
        self.assertEqual(e.pgcode, code, f"{sql!r}: got {e.pgcode} {e.pgerror}")
        if message:
            self.assertRegex(e.diag.message_primary or "", re.compile(message, re.I))
        return e

    def on_shards(self, table, cols, where=""):
        """{shard index: [rows]} read straight from each shard."""
        return {i: shard_rows(c, f"SELECT {cols} FROM {table} {where}")
                for i, c in enumerate(shards)}

    def assertPlaced(self, table, keycol, key_type, expected):
        """Every row of `table` sits on the spec's shard; the keys are exactly `expected`."""
        seen = []
        for i, rows in self.on_shards(table, keycol).items():
            for (k,) in rows:
                want = shard_of(k, key_type, N)
                self.assertEqual(i, want, f"{table}.{keycol}={k!r} (bucket "
                                 f"{bucket_of(k, key_type)}) is on s{i}, spec says s{want}")
                seen.append(norm_key(k, key_type))
        self.assertEqual(collections.Counter(seen),
                         collections.Counter(norm_key(k, key_type) for k in expected),
                         f"{table}: rows missing or duplicated across shards")

    def wire(self):
        c = pgwire.WireConn("127.0.0.1", sg.port, timeout=15)
        self.addCleanup(c.close)
        c.startup("postgres", cluster.dbname)
        return c


INT_KEYS = [1, 2, 3, 7, 42, 99, 100, 255, 256, 1000, 4095, 4096, 65535, 2 ** 31 - 1, 2 ** 31,
            2 ** 32 + 5, 2 ** 62, 2 ** 63 - 1, 0, -1, -2, -42, -(2 ** 31), -(2 ** 63)] + \
    list(range(10000, 10060))
TEXT_KEYS = ["a", "b", "hello", "", "O'Reilly", "with space", "tab\there", "ümlaut", "日本語",
             "emoji 🌍", "x" * 300, "back\\slash", "new\nline", "42"] + \
    [f"doc-{i}" for i in range(40)]
UUID_KEYS = [uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
             uuid.UUID("00000000-0000-0000-0000-000000000000"),
             uuid.UUID("ffffffff-ffff-ffff-ffff-ffffffffffff")] + \
    [uuid.UUID(int=(i * 0x9E3779B97F4A7C15 * 0x1000193) % (1 << 128)) for i in range(1, 41)]


class GoldenVectorTest(RoutingCase):

    def test_python_hash_matches_the_golden_vectors(self):
        for key_type, value, h, bucket, shard in GOLDEN:
            with self.subTest(key_type=key_type, value=value):
                self.assertEqual(key_hash(value, key_type), h)
                self.assertEqual(bucket_of(value, key_type), bucket)
                self.assertEqual(shard_of(value, key_type, N), shard)

    def test_golden_keys_land_on_their_fixed_shards(self):
        for key_type, value, h, bucket, shard in GOLDEN:
            table, col = {"bigint": ("items", "id"), "text": ("docs", "slug"),
                          "uuid": ("things", "uid")}[key_type]
            with self.subTest(key_type=key_type, value=value):
                literal = value if key_type == "bigint" else str(value)
                self.q(f"INSERT INTO {table} ({col}) VALUES (%s)", (literal,))
                where = {i: shard_rows(c, f"SELECT count(*) FROM {table} WHERE {col} = %s",
                                       (literal,))[0][0] for i, c in enumerate(shards)}
                self.assertEqual(where, {i: int(i == shard) for i in range(N)},
                                 f"{key_type} {value!r} (bucket {bucket}) must be on s{shard}")

    def test_the_shard_map_file_has_the_default_layout(self):
        # The map file is created next to the config on first start: 4096 buckets, b mod 4.
        path = os.path.join(os.path.dirname(sg.config_path), "shardmap.json")
        self.assertTrue(os.path.exists(path), "map_file not created at [sharding] map_file")
        with open(path) as f:
            text = f.read()
        data = json.loads(text)
        self.assertIsInstance(data, dict)
        self.assertIn("version", data)


class PlacementTest(RoutingCase):

    def test_single_row_inserts_int_text_uuid(self):
        for k in INT_KEYS:
            self.assertEqual(self.rowcount("INSERT INTO items (id, name) VALUES (%s, %s)",
                                           (k, f"item {k}")), 1)
        for k in TEXT_KEYS:
            self.assertEqual(self.rowcount("INSERT INTO docs (slug, body) VALUES (%s, %s)",
                                           (k, f"body of {k}")), 1)
        for k in UUID_KEYS:
            self.assertEqual(self.rowcount("INSERT INTO things (uid, note) VALUES (%s::uuid, %s)",
                                           (str(k), "n")), 1)
        self.assertPlaced("items", "id", "bigint", INT_KEYS)
        self.assertPlaced("docs", "slug", "text", TEXT_KEYS)
        self.assertPlaced("things", "uid", "uuid", UUID_KEYS)

    def test_key_literal_forms_hash_alike(self):
        # A quoted literal, a cast, the key column not first, a column list in another order.
        forms = [
            ("INSERT INTO items (id, name) VALUES ('11', 'quoted')", 11),
            ("INSERT INTO items (id, name) VALUES ('12'::bigint, 'cast')", 12),
            ("INSERT INTO items (name, qty, id) VALUES ('key last', 3, 13)", 13),
            ("INSERT INTO items (id, name) VALUES (CAST(15 AS int), 'int cast')", 15),
            ("INSERT INTO items (id, name) VALUES (-16, 'negative')", -16),
            ("insert into ITEMS (ID, name) values (17, 'upper case names')", 17),
            ("INSERT INTO public.items (id, name) VALUES (18, 'schema qualified')", 18),
        ]
        for sql, _ in forms:
            with self.subTest(sql=sql):
                self.assertEqual(self.rowcount(sql), 1)
        self.assertPlaced("items", "id", "bigint", [k for _, k in forms])
        # Without a column list the proxy reads the table's column order from a shard.
        self.assertEqual(self.rowcount("INSERT INTO items VALUES (14, 'no column list', 1)"), 1)
        self.assertPlaced("items", "id", "bigint", [k for _, k in forms] + [14])

    def test_inserts_without_a_column_list(self):
        # orders' shard key is its second column: placement proves the position was used.
        keys = list(range(900, 940))
        for k in keys[:10]:
            self.assertEqual(self.rowcount("INSERT INTO orders VALUES (%s, %s, %s)",
                                           (k * 10, k, k % 5)), 1)
        values = ", ".join(f"({k * 10}, {k}, {k % 5})" for k in keys[10:])
        self.assertEqual(self.rowcount(f"INSERT INTO orders VALUES {values}"), 30)
        self.assertPlaced("orders", "item_id", "bigint", keys)
        for i, rows in self.on_shards("orders", "order_id, item_id, amount").items():
            for order_id, item_id, amount in rows:
                self.assertEqual((order_id, amount), (item_id * 10, item_id % 5))
        # Fewer values than columns fill the first columns, as in PostgreSQL.
        self.assertEqual(self.rowcount("INSERT INTO docs VALUES ('short')"), 1)
        self.assertPlaced("docs", "slug", "text", ["short"])
        # More values than columns: PostgreSQL's own error.
        self.assertSqlState("42601", "INSERT INTO docs VALUES ('a', 'b', 'c')",
                            message="more expressions than target columns")
        # A column added through the proxy is seen by the next INSERT.
        self.q("ALTER TABLE things ADD COLUMN extra int")
        self.addCleanup(lambda: self.q("ALTER TABLE things DROP COLUMN IF EXISTS extra"))
        u = UUID_KEYS[0]
        self.assertEqual(self.rowcount("INSERT INTO things VALUES (%s::uuid, 'n', 7)", (str(u),)), 1)
        self.assertPlaced("things", "uid", "uuid", [u])
        self.assertEqual(self.q("SELECT extra FROM things WHERE uid = %s::uuid", (str(u),)), [(7,)])

    def test_extended_inserts_without_a_column_list(self):
        # What JDBC's "INSERT INTO orders VALUES (?, ?, ?)" sends: Parse/Bind/Execute/Sync.
        c = self.wire()
        keys = list(range(950, 970))
        for k in keys:
            r = c.execute("INSERT INTO orders VALUES ($1, $2, $3)",
                          [str(k * 10), str(k), str(k % 3)], [INT8, INT8, INT4], [0, 0, 0])
            self.assertEqual(r.tag, "INSERT 0 1", f"key {k}")
        self.assertPlaced("orders", "item_id", "bigint", keys)
        for i, rows in self.on_shards("orders", "order_id, item_id, amount").items():
            for order_id, item_id, amount in rows:
                self.assertEqual((order_id, amount), (item_id * 10, item_id % 3))

    def test_null_key_lands_in_bucket_zero(self):
        self.assertEqual(self.rowcount(
            "INSERT INTO orders (order_id, item_id, amount) VALUES (1, NULL, 5)"), 1)
        got = {i: shard_rows(c, "SELECT count(*) FROM orders WHERE item_id IS NULL")[0][0]
               for i, c in enumerate(shards)}
        self.assertEqual(got, {0: 1, 1: 0, 2: 0, 3: 0}, "bucket 0 belongs to s0")

    def test_multi_row_inserts_are_split_per_shard(self):
        keys = list(range(500, 600))
        values = ", ".join(f"({k}, 'm{k}', {k % 7})" for k in keys)
        self.assertEqual(self.rowcount(f"INSERT INTO items (id, name, qty) VALUES {values}"),
                         len(keys))
        self.assertPlaced("items", "id", "bigint", keys)
        # Non-key columns arrive intact on the shard that got the row.
        for i, rows in self.on_shards("items", "id, name, qty").items():
            for k, name, qty in rows:
                self.assertEqual((name, qty), (f"m{k}", k % 7))

        tvalues = ", ".join(f"('{k.replace(chr(39), chr(39) * 2)}', 'multi')"
                            for k in TEXT_KEYS)
        self.assertEqual(self.rowcount(f"INSERT INTO docs (slug, body) VALUES {tvalues}"),
                         len(TEXT_KEYS))
        self.assertPlaced("docs", "slug", "text", TEXT_KEYS)

        uvalues = ", ".join(f"('{u}', 'multi')" for u in UUID_KEYS)
        self.assertEqual(self.rowcount(f"INSERT INTO things (uid, note) VALUES {uvalues}"),
                         len(UUID_KEYS))
        self.assertPlaced("things", "uid", "uuid", UUID_KEYS)

    def test_multi_row_insert_returning_gives_every_row(self):
        keys = keys_on_distinct_shards("bigint", N, start=700) + [800, 801, 802, 803]
        values = ", ".join(f"({k}, 'r{k}', {k % 10})" for k in keys)
        rows = self.q(f"INSERT INTO items (id, name, qty) VALUES {values} "
                      f"RETURNING id, name, qty * 2")
        self.assertEqual(sorted(rows), sorted((k, f"r{k}", (k % 10) * 2) for k in keys))
        self.assertPlaced("items", "id", "bigint", keys)

    def test_extended_protocol_inserts_text_and_binary_params(self):
        c = self.wire()
        ints = INT_KEYS[:40]
        for n, k in enumerate(ints):
            # Alternate: text unknown-typed, text int8, binary int8, binary int4, binary int2.
            variants = [
                ([str(k)], [UNKNOWN], [0]),
                ([str(k)], [INT8], [0]),
                ([pgwire.int8_bin(k)], [INT8], [1]),
            ]
            if -(2 ** 31) <= k < 2 ** 31:
                variants.append(([pgwire.int4_bin(k)], [INT4], [1]))
            if -(2 ** 15) <= k < 2 ** 15:
                variants.append(([pgwire.int2_bin(k)], [INT2], [1]))
            params, types, formats = variants[n % len(variants)]
            r = c.execute("INSERT INTO items (id, name) VALUES ($1, $2)",
                          params + [f"ext {k}"], types + [TEXT], formats + [0])
            self.assertEqual(r.tag, "INSERT 0 1", f"key {k} via {types}/{formats}")
        self.assertPlaced("items", "id", "bigint", ints)

        for n, k in enumerate(TEXT_KEYS):
            fmt = n % 2
            r = c.execute("INSERT INTO docs (slug, body) VALUES ($1, $2)",
                          [k.encode(), "ext"], [TEXT, TEXT], [fmt, 0])
            self.assertEqual(r.tag, "INSERT 0 1")
        self.assertPlaced("docs", "slug", "text", TEXT_KEYS)

        for n, u in enumerate(UUID_KEYS):
            if n % 2:
                r = c.execute("INSERT INTO things (uid, note) VALUES ($1, $2)",
                              [pgwire.uuid_bin(u), "bin"], [UUID, TEXT], [1, 0])
            else:
                r = c.execute("INSERT INTO things (uid, note) VALUES ($1, $2)",
                              [str(u), "txt"], [UNKNOWN, TEXT], [0, 0])
            self.assertEqual(r.tag, "INSERT 0 1")
        self.assertPlaced("things", "uid", "uuid", UUID_KEYS)

    def test_extended_batch_on_one_shard_before_one_sync(self):
        # Several Binds of one named statement before a single Sync, all on one shard.
        c = self.wire()
        keys = [k for k in range(2000, 2400) if shard_of(k, "bigint", N) == 2][:20]
        stmts = [Stmt("INSERT INTO items (id, name) VALUES ($1, $2)", types=[INT8, TEXT],
                      name="ins_one", params=[pgwire.int8_bin(keys[0]), "b"], formats=[1, 0])]
        stmts += [Stmt(name="ins_one", params=[pgwire.int8_bin(k), "b"], formats=[1, 0])
                  for k in keys[1:]]
        rs = c.batch(stmts)
        self.assertEqual([r.error for r in rs], [None] * len(keys))
        self.assertEqual([r.tag for r in rs], ["INSERT 0 1"] * len(keys))
        self.assertEqual(c.tx_status, "I")
        self.assertPlaced("items", "id", "bigint", keys)

    def test_extended_batch_across_shards_is_split(self):
        # JDBC executeBatch / pipelined Binds on different shards before one Sync: the spec
        # wants each Bind on its own shard (not a refusal).
        c = self.wire()
        keys = keys_on_distinct_shards("bigint", N, start=3000)
        keys = keys + [k + 1000 for k in keys]        # a second round, shards in any order
        # Named statement parsed once (JDBC after prepareThreshold).
        stmts = [Stmt("INSERT INTO items (id, name) VALUES ($1, $2)", types=[INT8, TEXT],
                      name="ins_all", params=[str(keys[0]), "x"])]
        stmts += [Stmt(name="ins_all", params=[str(k), "x"]) for k in keys[1:]]
        rs = c.batch(stmts)
        errors = [r.error for r in rs if r.error]
        self.assertEqual(errors, [], "a batch across shards must be split, not refused")
        self.assertEqual([r.tag for r in rs], ["INSERT 0 1"] * len(keys))
        self.assertEqual(c.tx_status, "I")
        # Unnamed Parse per row (JDBC before prepareThreshold, node-postgres pipelining).
        ukeys = [k + 2000 for k in keys]
        rs = c.batch([Stmt("INSERT INTO items (id, name) VALUES ($1, $2)",
                           params=[pgwire.int8_bin(k), "u"], types=[INT8, TEXT],
                           formats=[1, 0]) for k in ukeys])
        self.assertEqual([r.error for r in rs if r.error], [])
        self.assertEqual([r.tag for r in rs], ["INSERT 0 1"] * len(ukeys))
        self.assertPlaced("items", "id", "bigint", keys + ukeys)

    def test_extended_multi_row_insert_is_split(self):
        c = self.wire()
        keys = keys_on_distinct_shards("bigint", N, start=5000) + [5100, 5101]
        placeholders = ", ".join(f"(${2 * i + 1}, ${2 * i + 2})" for i in range(len(keys)))
        params, types, formats = [], [], []
        for i, k in enumerate(keys):
            params += [pgwire.int8_bin(k) if i % 2 else str(k), f"e{k}"]
            types += [INT8, TEXT]
            formats += [i % 2, 0]
        r = c.execute(f"INSERT INTO items (id, name) VALUES {placeholders}",
                      params, types, formats)
        self.assertEqual(r.tag, f"INSERT 0 {len(keys)}")
        self.assertPlaced("items", "id", "bigint", keys)
        r = c.execute("INSERT INTO docs (slug, body) VALUES ($1, 'a'), ($2, 'b'), ($3, 'c') "
                      "RETURNING slug", ["hello", "", "doc-1"], [TEXT] * 3, [0, 1, 0])
        self.assertEqual(sorted(row[0] for row in r.rows), sorted(["hello", "", "doc-1"]))
        self.assertPlaced("docs", "slug", "text", ["hello", "", "doc-1"])

    def test_copy_from_stdin_text_format(self):
        keys = list(range(20000, 20200)) + [-5, 0, 2 ** 62]
        data = "".join(f"{k}\tcopy {k}\\twith tab\t{k % 3}\n" for k in keys)
        self.assertEqual(self.copy("COPY items (id, name, qty) FROM STDIN", data, size=1000),
                         len(keys))
        self.assertPlaced("items", "id", "bigint", keys)
        for i, rows in self.on_shards("items", "id, name, qty").items():
            for k, name, qty in rows:
                self.assertEqual((name, qty), (f"copy {k}\twith tab", k % 3))
        # NULL in a non-key column; text keys with COPY escapes (\t, \n) are unescaped first.
        tkeys = [k for k in TEXT_KEYS if "\\" not in k and "\t" not in k and "\n" not in k]
        tdata = "".join(f"{k}\t\\N\n" for k in tkeys) + "tab\\there\tx\nnew\\nline\tx\n"
        self.assertEqual(self.copy("COPY docs (slug, body) FROM STDIN", tdata), len(tkeys) + 2)
        self.assertPlaced("docs", "slug", "text", tkeys + ["tab\there", "new\nline"])

    def test_copy_from_stdin_csv_format(self):
        keys = TEXT_KEYS[:6] + ["comma, inside", 'quote " inside', "multi\nline key"]
        lines = ["slug,body"]
        for k in keys:
            lines.append('"' + k.replace('"', '""') + '","body, with comma\nand newline"')
        data = "\n".join(lines) + "\n"
        self.assertEqual(self.copy("COPY docs (slug, body) FROM STDIN WITH (FORMAT csv, "
                                   "HEADER true)", data, size=7), len(keys))
        self.assertPlaced("docs", "slug", "text", keys)
        for rows in self.on_shards("docs", "body").values():
            for (body,) in rows:
                self.assertEqual(body, "body, with comma\nand newline")
        udata = "".join(f"{u},csv\n" for u in UUID_KEYS)
        self.assertEqual(self.copy("COPY things (uid, note) FROM STDIN (FORMAT csv)", udata),
                         len(UUID_KEYS))
        self.assertPlaced("things", "uid", "uuid", UUID_KEYS)

    def test_copy_without_column_list(self):
        # psycopg2's copy_from() lists no columns ("COPY copy_gen FROM stdin WITH DELIMITER ...").
        # The proxy reads the table's stored columns from the catalog, in the table's order (the
        # key is not first here), leaving out the generated one as PostgreSQL's COPY does.
        self.q("DROP TABLE IF EXISTS copy_gen")
        self.q("CREATE TABLE copy_gen (note text, id bigint PRIMARY KEY, "
               "doubled bigint GENERATED ALWAYS AS (id * 2) STORED, qty int)")
        self.addCleanup(self.q, "DROP TABLE IF EXISTS copy_gen")
        keys = list(range(500, 540)) + [-7, 2 ** 40]
        data = "".join(f"note {k}\t{k}\t{k % 7}\n" for k in keys)
        with Deadline(self.conn, STATEMENT_S, "copy_from"), self.conn.cursor() as cur:
            cur.copy_from(io.StringIO(data), "copy_gen")
            self.assertEqual(cur.rowcount, len(keys))
        self.assertPlaced("copy_gen", "id", "bigint", keys)
        for rows in self.on_shards("copy_gen", "note, id, doubled, qty").values():
            for note, k, doubled, qty in rows:
                self.assertEqual((note, doubled, qty), (f"note {k}", 2 * k, k % 7))
        # CSV through the simple protocol, a column added since the last COPY included.
        self.q("ALTER TABLE copy_gen ADD COLUMN extra text")
        self.assertEqual(self.copy("COPY copy_gen FROM STDIN (FORMAT csv)", "x,9001,1,e\n"), 1)
        self.assertEqual(self.q("SELECT note, doubled, qty, extra FROM copy_gen WHERE id = 9001"),
                         [("x", 18002, 1, "e")])
        # A table in [[tables]] that the shards do not have: PostgreSQL's error, no rows written.
        self.q("DROP TABLE copy_gen")
        self.assertSqlState("42P01", "COPY copy_gen FROM STDIN", message="does not exist")

    def test_insert_select_of_the_shard_key_keeps_rows_on_their_shard(self):
        keys = list(range(3000, 3040)) + [-3, 2 ** 50]
        self.q("INSERT INTO items (id, name, qty) VALUES " + ", ".join(f"({k}, 'i{k}', {k % 5})" for k in keys))
        # orders are co-located with items (bigint keys): each shard copies its own items.
        self.assertEqual(self.rowcount("INSERT INTO orders (order_id, item_id, amount) "
                                       "SELECT id * 10, id, qty FROM items WHERE qty > 0"),
                         sum(1 for k in keys if k % 5))
        self.assertPlaced("orders", "item_id", "bigint", [k for k in keys if k % 5])
        # Restricted by key: one shard, RETURNING through the proxy.
        k = keys[0]
        self.assertEqual(self.q("INSERT INTO orders (item_id, order_id, amount) SELECT id, 1, 7 FROM items "
                                "WHERE id = %s RETURNING item_id, amount", (k,)), [(k, 7)])
        # A LIMIT over every shard's rows is refused, and writes nothing.
        self.assertSqlState("0A000", "INSERT INTO orders (order_id, item_id) SELECT 2, id FROM items "
                                     "ORDER BY id LIMIT 3", message="own rows only")
        self.assertEqual(self.q("SELECT count(*) FROM orders WHERE order_id = 2"), [(0,)])

    def test_copy_rows_split_across_copydata_messages(self):
        # CopyData boundaries fall mid-row and mid-value: the proxy must re-frame by row.
        c = self.wire()
        keys = list(range(30000, 30080))
        data = "".join(f"{k}\tsplit {k}\t{k % 4}\n" for k in keys).encode()
        chunks = [data[i:i + 5] for i in range(0, len(data), 5)]
        [r] = c.query("COPY items (id, name, qty) FROM STDIN", copy_data=chunks)
        self.assertEqual(r.tag, f"COPY {len(keys)}")
        self.assertEqual(c.tx_status, "I")
        self.assertPlaced("items", "id", "bigint", keys)

    def test_colocated_orders_follow_their_item(self):
        keys = keys_on_distinct_shards("bigint", N, start=40)
        for k in keys:
            self.q("INSERT INTO items (id, name) VALUES (%s, %s)", (k, f"item {k}"))
            self.q("INSERT INTO orders (order_id, item_id, amount) VALUES (%s, %s, %s), "
                   "(%s, %s, %s)", (k * 10, k, 5, k * 10 + 1, k, 7))
        self.assertPlaced("orders", "item_id", "bigint", [k for k in keys for _ in (1, 2)])
        for k in keys:
            rows = self.q("SELECT i.name, o.order_id, o.amount FROM items i "
                          "JOIN orders o ON o.item_id = i.id WHERE i.id = %s", (k,))
            self.assertEqual(sorted(rows), [(f"item {k}", k * 10, 5),
                                            (f"item {k}", k * 10 + 1, 7)])
            [(total,)] = self.q("SELECT sum(amount) FROM orders WHERE item_id = %s", (k,))
            self.assertEqual(total, 12)


class ReadWriteTest(RoutingCase):

    def setUp(self):
        super().setUp()
        self.keys = list(range(1, 61))
        # Seed straight on the shards, so reads are tested independently of writes.
        for i, c in enumerate(shards):
            mine = [k for k in self.keys if shard_of(k, "bigint", N) == i]
            if mine:
                shard_rows(c, "INSERT INTO items (id, name, qty) VALUES " +
                           ", ".join(f"({k}, 'n{k}', {k % 5})" for k in mine))

    def test_reads_by_key_return_the_right_row(self):
        for k in self.keys:
            self.assertEqual(self.q("SELECT id, name, qty FROM items WHERE id = %s", (k,)),
                             [(k, f"n{k}", k % 5)])
        k = 17
        for sql in ["SELECT name FROM items WHERE id = 17",
                    "SELECT name FROM items WHERE 17 = id",
                    "SELECT name FROM items WHERE id = '17'",
                    "SELECT name FROM items WHERE id = '17'::bigint",
                    "SELECT i.name FROM items AS i WHERE i.id = 17 AND i.qty >= 0",
                    "SELECT name FROM public.items WHERE qty < 100 AND id = 17",
                    "SELECT count(*)::text FROM items WHERE id = 17 HAVING count(*) > 0"]:
            with self.subTest(sql=sql):
                got = self.q(sql)
                self.assertEqual(got, [("1",)] if "count" in sql else [(f"n{k}",)])
        self.assertEqual(self.q("SELECT name FROM items WHERE id = 999999"), [])

    def test_extended_reads_by_key_text_and_binary(self):
        c = self.wire()
        for k in self.keys[:20]:
            r = c.execute("SELECT name FROM items WHERE id = $1", [pgwire.int8_bin(k)],
                          [INT8], [1])
            self.assertEqual(r.rows, [(f"n{k}",)])
            r = c.execute("SELECT name FROM items WHERE id = $1", [str(k)], [UNKNOWN], [0])
            self.assertEqual(r.rows, [(f"n{k}",)])

    def test_reads_by_text_and_uuid_key(self):
        for k in TEXT_KEYS:
            self.q("INSERT INTO docs (slug, body) VALUES (%s, %s)", (k, f"b:{k}"))
        for u in UUID_KEYS[:10]:
            self.q("INSERT INTO things (uid, note) VALUES (%s, %s)", (str(u), f"u:{u}"))
        for k in TEXT_KEYS:
            self.assertEqual(self.q("SELECT body FROM docs WHERE slug = %s", (k,)),
                             [(f"b:{k}",)])
        for u in UUID_KEYS[:10]:
            self.assertEqual(self.q("SELECT note FROM things WHERE uid = %s", (str(u),)),
                             [(f"u:{u}",)])
            self.assertEqual(self.q("SELECT note FROM things WHERE uid = %s::uuid",
                                    (str(u).upper(),)), [(f"u:{u}",)])

    def test_fanout_select_without_key_returns_the_union(self):
        rows = self.q("SELECT id, name FROM items")
        self.assertEqual(sorted(rows), [(k, f"n{k}") for k in self.keys])
        rows = self.q("SELECT id FROM items WHERE qty = 3")
        self.assertEqual(sorted(r[0] for r in rows), [k for k in self.keys if k % 5 == 3])
        self.assertEqual(self.q("SELECT id FROM items WHERE qty > 100"), [])

    def test_in_list_reads_only_those_keys(self):
        want = [3, 8, 13, 21, 34, 55]
        rows = self.q("SELECT id, name FROM items WHERE id IN (3, 8, 13, 21, 34, 55, 1000)")
        self.assertEqual(sorted(rows), [(k, f"n{k}") for k in want])
        rows = self.q("SELECT id FROM items WHERE id = ANY('{3,8,13}'::bigint[])")
        self.assertEqual(sorted(r[0] for r in rows), [3, 8, 13])

    def test_extended_any_array_param(self):
        c = self.wire()
        r = c.execute("SELECT id FROM items WHERE id = ANY($1)", ["{3,8,13,21,1000}"], [1016])
        self.assertEqual(sorted(int(x[0]) for x in r.rows), [3, 8, 13, 21])

    def test_fanout_update_and_delete_counts_are_summed(self):
        n0 = sum(1 for k in self.keys if k % 5 == 0)
        self.assertEqual(self.rowcount("UPDATE items SET qty = qty + 10 WHERE qty = 0"), n0)
        bumped = sorted(k for i, rows in self.on_shards("items", "id", "WHERE qty >= 10")
                        .items() for (k,) in rows)
        self.assertEqual(bumped, [k for k in self.keys if k % 5 == 0])
        rows = self.q("UPDATE items SET name = name || '!' WHERE qty = 1 RETURNING id")
        self.assertEqual(sorted(r[0] for r in rows), [k for k in self.keys if k % 5 == 1])
        n_del = sum(1 for k in self.keys if k % 5 in (0, 2))
        self.assertEqual(self.rowcount("DELETE FROM items WHERE qty >= 10 OR qty = 2"), n_del)
        left = sorted(k for rows in self.on_shards("items", "id").values() for (k,) in rows)
        self.assertEqual(left, [k for k in self.keys if k % 5 not in (0, 2)])
        # 1, 3, 4 and 9 all survived the DELETE (k % 5 is 1, 3, 4, 4); 5 did not.
        self.assertEqual(self.rowcount("UPDATE items SET qty = 0 WHERE id IN (1, 3, 4, 5, 9)"),
                         4)
        self.assertEqual(self.rowcount("DELETE FROM items WHERE id = 1"), 1)
        self.assertEqual(self.rowcount("DELETE FROM items"), len(left) - 1)
        self.assertEqual(sum(len(r) for r in self.on_shards("items", "id").values()), 0)

    def test_fanout_orderings_and_aggregates_are_refused(self):
        cases = [
            ("SELECT avg(qty::float4) FROM items", r"aggregate|avg|combine"),
            ("SELECT count(DISTINCT qty) FILTER (WHERE id > 1) FROM items", r"aggregate|count"),
            ("SELECT count(*) + 1 FROM items", r"aggregate|count"),
            ("SELECT count(*) FROM items HAVING count(DISTINCT qty) > 1", r"aggregate|count|having"),
            ("SELECT string_agg(name, ',' ORDER BY name) FROM items", r"aggregate|string_agg"),
            ("SELECT qty, count(*) FROM items GROUP BY qty HAVING avg(id) > 1", r"aggregate|count|having"),
            ("SELECT max(name) FROM items", r"combine|aggregate"),
            ("SELECT 1; SELECT count(*) FROM items", r"aggregate|count"),
            ("SELECT count(*) FROM items GROUP BY qty", r"aggregate|count"),
            ("SELECT id, row_number() OVER (ORDER BY id) FROM items", r"window|row_number"),
            ("SELECT id FROM items ORDER BY name || qty::text", r"order by.*collation"),
            ("SELECT DISTINCT id FROM items ORDER BY qty", r"distinct"),
            # A text expression over two columns: the proxy does not derive its collation.
            ("SELECT id FROM items ORDER BY coalesce(name, id::text)", r"order by.*collation"),
            ("SELECT DISTINCT name FROM items ORDER BY name COLLATE \"C\"", r"distinct"),
            ("SELECT DISTINCT ON (qty) qty, id FROM items", r"distinct"),
            # Set operations over arms that aggregate: never combined by an arm's own plan.
            ("SELECT count(*) FROM items UNION ALL SELECT count(*) FROM items", r"union"),
            ("SELECT id FROM items INTERSECT SELECT id FROM items", r"intersect"),
            ("SELECT id FROM items UNION ALL SELECT 1", r"union"),
            # A set operation's text column is no table's: its collation is not known.
            ("SELECT name FROM items UNION SELECT name FROM items ORDER BY 1", r"collation"),
            # A cursor's FETCH would reach one shard; a plan is not rows to combine.
            ("DECLARE c CURSOR WITH HOLD FOR SELECT count(*) FROM items", r"aggregate|count"),
            ("DECLARE c CURSOR WITH HOLD FOR SELECT id FROM items", r"declare"),
            ("EXPLAIN SELECT count(*) FROM items", r"aggregate|count"),
            ("SELECT id FROM items ORDER BY id FOR UPDATE", r"order by"),
        ]
        for sql, construct in cases:
            with self.subTest(sql=sql):
                self.assertSqlState("0A000", sql, message=construct)
        # The session is still usable, and single-shard forms of the same are fine.
        self.assertEqual(self.q("SELECT count(*) FROM items WHERE id = 5"), [(1,)])
        self.assertEqual(self.q("SELECT id FROM items WHERE id = 5 ORDER BY id LIMIT 1"), [(5,)])

    def test_fanout_count_sum_min_max_are_combined(self):
        # setUp seeded ids 1..60 as (k, 'n{k}', k % 5).
        rows = [(k, f"n{k}", k % 5) for k in self.keys]
        rows += [(k, f"m{k}", k % 13) for k in range(1001, 1141)]
        values = ", ".join(f"({k}, '{n}', {q})" for k, n, q in rows[len(self.keys):])
        self.q(f"INSERT INTO items (id, name, qty) VALUES {values}")
        qty = [q for _, _, q in rows]
        self.assertEqual(self.q("SELECT count(*) FROM items"), [(len(rows),)])
        self.assertEqual(self.q("SELECT count(*), count(name), sum(qty), min(qty), max(id) FROM items"),
                         [(len(rows), len(rows), sum(qty), min(qty), 1140)])
        self.assertEqual(self.q("SELECT sum(qty) AS total, min(id) FROM items WHERE qty > 6"),
                         [(sum(q for q in qty if q > 6), min(k for k, _, q in rows if q > 6))])
        # Nothing matches: count 0, the others NULL, as one PostgreSQL answers.
        self.assertEqual(self.q("SELECT count(*), sum(qty), max(qty) FROM items WHERE qty > 100"),
                         [(0, None, None)])
        # Column names and types are PostgreSQL's: count is bigint, sum(int) is bigint.
        with self.conn.cursor() as cur:
            cur.execute("SELECT count(*), sum(qty), pg_catalog.max(qty) AS top FROM items")
            self.assertEqual([d.name for d in cur.description], ["count", "sum", "top"])
            self.assertEqual([d.type_code for d in cur.description], [20, 20, 23])
        # GROUP BY plain selected columns: partial groups from every shard grouped again.
        expected = {}
        for _, _, q in rows:
            expected[q] = expected.get(q, 0) + 1
        got = self.q("SELECT qty, count(*) AS n FROM items GROUP BY qty")
        self.assertEqual(sorted(got), sorted(expected.items()))
        got = self.q("SELECT max(id), name FROM items WHERE id > 1100 GROUP BY name")
        self.assertEqual(sorted(got), sorted((k, n) for k, n, _ in rows if k > 1100))
        self.assertEqual(self.q("SELECT qty, count(*) FROM items WHERE qty > 100 GROUP BY qty"), [])
        # Only some shards (IN list): combined too.
        ids = keys_on_distinct_shards("bigint", N, start=1)[:3]
        self.assertEqual(self.q(f"SELECT count(*), sum(id) FROM items WHERE id IN ({', '.join(map(str, ids))})"),
                         [(len(ids), sum(ids))])

    def test_fanout_order_limit_offset_distinct_are_merged(self):
        # setUp seeded ids 1..60 as (k, 'n{k}', k % 5).
        rows = [(k, f"n{k}", k % 5) for k in self.keys]
        by_id = sorted(rows)
        self.assertEqual(self.q("SELECT id, name, qty FROM items ORDER BY id"), by_id)
        self.assertEqual(self.q("SELECT * FROM items ORDER BY id DESC LIMIT 7"), by_id[::-1][:7])
        self.assertEqual(self.q("SELECT id AS k, qty FROM items ORDER BY qty DESC, k LIMIT 6 OFFSET 4"),
                         [(k, q) for k, _, q in sorted(rows, key=lambda r: (-r[2], r[0]))][4:10])
        self.assertEqual(self.q("SELECT qty, id FROM items ORDER BY 1, 2 DESC OFFSET 55"),
                         sorted(((q, k) for k, _, q in rows), key=lambda r: (r[0], -r[1]))[55:])
        self.assertEqual(self.q("SELECT id FROM items ORDER BY id FETCH FIRST 2 ROWS ONLY"), [(1,), (2,)])
        # ORDER BY what is not selected: the shards return it as an extra column, dropped again.
        want = [(k,) for k, _, q in sorted(rows, key=lambda r: (r[2], -r[0]))]
        self.assertEqual(self.q("SELECT id FROM items ORDER BY qty, items.id DESC"), want)
        self.assertEqual(self.q("SELECT id FROM items ORDER BY qty * -1 DESC, id DESC LIMIT 3"), want[:3])
        self.assertEqual(self.q("SELECT * FROM items i ORDER BY i.id LIMIT 2"), by_id[:2])
        with self.conn.cursor() as cur:
            cur.execute("SELECT name FROM items ORDER BY qty, id")
            self.assertEqual([d.name for d in cur.description], ["name"])
            self.assertEqual(cur.fetchall(), [(n,) for _, n, _ in sorted(rows, key=lambda r: (r[2], r[0]))])
            cur.execute("SELECT name FROM items WHERE qty > 100 ORDER BY qty")
            self.assertEqual([d.name for d in cur.description], ["name"])
            self.assertEqual(cur.fetchall(), [])
        self.assertEqual(self.q("SELECT DISTINCT qty FROM items ORDER BY qty DESC"), [(q,) for q in range(4, -1, -1)])
        self.assertEqual(sorted(self.q("SELECT DISTINCT qty FROM items")), [(q,) for q in range(5)])
        self.assertEqual(self.q("SELECT DISTINCT qty FROM items ORDER BY qty LIMIT 2 OFFSET 1"), [(1,), (2,)])
        # Aggregates with ORDER BY and LIMIT: the shards group everything, the order and the
        # cut apply to the combined groups (a shard's own top groups would be wrong).
        self.q("INSERT INTO items (id, name, qty) VALUES " +
               ", ".join(f"({k}, 'x{k}', 3)" for k in range(2001, 2031)))
        counts = {}
        for _, _, q in rows:
            counts[q] = counts.get(q, 0) + 1
        counts[3] += 30
        top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        self.assertEqual(self.q("SELECT qty, count(*) AS n FROM items GROUP BY qty ORDER BY n DESC, qty LIMIT 2"),
                         top[:2])
        self.assertEqual(self.q("SELECT qty, count(*) FROM items GROUP BY qty ORDER BY 1 OFFSET 3"),
                         sorted(counts.items())[3:])
        # LIMIT alone: any rows will do, that many, each a real row, none twice.
        got = self.q("SELECT id, name FROM items LIMIT 9")
        self.assertEqual(len(got), 9)
        self.assertEqual(len(set(got)), 9)
        self.assertTrue(set(got) <= {(k, n) for k, n, _ in rows} | {(k, f"x{k}") for k in range(2001, 2031)})
        self.assertEqual(len(self.q("SELECT id FROM items LIMIT 5 OFFSET 88")), 2)
        self.assertEqual(self.q("SELECT id FROM items WHERE qty > 100 ORDER BY id LIMIT 3"), [])
        # Only the shards of an IN list, and the result's own column types.
        ids = keys_on_distinct_shards("bigint", N, start=1)[:3]
        self.assertEqual(self.q(f"SELECT id FROM items WHERE id IN ({', '.join(map(str, ids))}) ORDER BY id DESC"),
                         [(k,) for k in sorted(ids, reverse=True)])
        with self.conn.cursor() as cur:
            cur.execute("SELECT id, name FROM items ORDER BY id LIMIT 1")
            self.assertEqual([d.type_code for d in cur.description], [20, 25])
            self.assertEqual(cur.statusmessage, "SELECT 1")

    def test_text_order_follows_the_column_collation(self):
        words = ["b", "B", "a", "A", "é", "E", "e", "Z", "z", "ä", "10", "9", "", "b"]
        values = ", ".join(f"({i + 1}, '{w}', '{w}')" for i, w in enumerate(words))
        self.q(f"INSERT INTO coll_words (id, word, plain) VALUES {values}")
        shard_rows(plain, "TRUNCATE coll_words")
        shard_rows(plain, f"INSERT INTO coll_words (id, word, plain) VALUES {values}")
        # word is COLLATE "en-x-icu" (a before A before b), plain has the database's (C.UTF-8).
        for sql in ["SELECT word FROM coll_words ORDER BY word, id",
                    "SELECT plain, id FROM coll_words ORDER BY plain DESC, id LIMIT 5",
                    "SELECT id FROM coll_words ORDER BY word DESC, id LIMIT 4 OFFSET 2",
                    "SELECT * FROM coll_words ORDER BY word, id DESC",
                    "SELECT word, count(*) FROM coll_words GROUP BY word ORDER BY word",
                    "SELECT DISTINCT plain FROM coll_words ORDER BY plain",
                    # An explicit collation is the order, whatever the column's.
                    "SELECT word FROM coll_words ORDER BY word COLLATE \"C\", id",
                    "SELECT id, plain FROM coll_words ORDER BY plain COLLATE \"en-x-icu\" DESC, id LIMIT 6",
                    "SELECT id FROM coll_words ORDER BY lower(word) COLLATE pg_catalog.\"C\", id",
                    # A text expression over one column has that column's collation.
                    "SELECT id FROM coll_words ORDER BY lower(word), id",
                    "SELECT plain, id FROM coll_words ORDER BY upper(plain) DESC, id",
                    "SELECT id, word FROM coll_words ORDER BY word || '', id LIMIT 5"]:
            with self.subTest(sql=sql):
                self.assertEqual(self.q(sql), shard_rows(plain, sql))
        # The two orders differ, so the comparison above can tell them apart.
        self.assertNotEqual(self.q("SELECT word FROM coll_words ORDER BY word, id"),
                            self.q("SELECT plain FROM coll_words ORDER BY plain, id"))
        # And through the extended protocol.
        c = self.wire()
        r = c.execute("SELECT word FROM coll_words WHERE id > $1 ORDER BY word DESC, id", ["0"])
        self.assertEqual([w for (w,) in r.rows],
                         [w for (w,) in shard_rows(plain, "SELECT word FROM coll_words ORDER BY word DESC, id")])

    def test_extended_protocol_merges(self):
        rows = [(k, f"n{k}", k % 5) for k in self.keys]
        c = self.wire()
        # Text results, unnamed statement, a parameter in WHERE.
        r = c.execute("SELECT id, name FROM items WHERE qty <> $1 ORDER BY id DESC LIMIT 4 OFFSET 1", ["99"])
        self.assertEqual(r.columns, ["id", "name"])
        self.assertEqual(r.rows, [(str(k), n) for k, n, _ in sorted(rows, reverse=True)][1:5])
        self.assertEqual(r.tag, "SELECT 4")
        # Binary results, as drivers ask for them: the shards' rows pass through, their keys read.
        r = c.execute("SELECT id, qty FROM items WHERE id > $1 ORDER BY id DESC LIMIT 3", ["0"],
                      result_formats=[1, 1])
        self.assertEqual([(struct.unpack(">q", a)[0], struct.unpack(">i", b)[0]) for a, b in r.rows],
                         [(k, q) for k, _, q in sorted(rows, reverse=True)][:3])
        # Ordered by what is not selected, one binary code for every column.
        want = [k for k, _, q in sorted(rows, key=lambda x: (-x[2], x[0]))][:3]
        r = c.execute("SELECT id FROM items WHERE id > $1 ORDER BY qty DESC, id LIMIT 3", ["0"], result_formats=[1])
        self.assertEqual(r.columns, ["id"])
        self.assertEqual([struct.unpack(">q", v)[0] for (v,) in r.rows], want)
        # Aggregates, binary: combined by the default shard in the format asked for.
        r = c.execute("SELECT count(*), sum(qty) FROM items WHERE id > $1", [pgwire.int8_bin(10)],
                      types=[INT8], formats=[1], result_formats=[1])
        self.assertEqual([tuple(struct.unpack(">q", v)[0] for v in row) for row in r.rows],
                         [(50, sum(q for k, _, q in rows if k > 10))])
        # A named statement, reused by a later batch with another parameter.
        sql = "SELECT qty, count(*) AS n FROM items WHERE id > $1 GROUP BY qty ORDER BY n DESC, qty LIMIT 2"
        first = c.batch([Stmt(sql, ["0"], name="by_qty")], raise_error=True)[0]
        again = c.batch([Stmt(name="by_qty", params=["30"], prepare=False)], raise_error=True)[0]
        for got, low in ((first, 0), (again, 30)):
            counts = collections.Counter(q for k, _, q in rows if k > low)
            self.assertEqual(got.rows, [(str(q), str(n)) for q, n in
                                        sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:2]])
        # Describe of the statement shows the client's columns, not the extra ORDER BY one.
        body = b"s_desc\0SELECT name FROM items WHERE id > $1 ORDER BY qty, id\0" + struct.pack(">h", 0)
        c.send_raw(pgwire.frame("P", body) + pgwire.frame("D", b"Ss_desc\0") +
                   pgwire.stmt_frames(Stmt(name="s_desc", params=["55"], prepare=False, describe=False)) +
                   pgwire.frame("S"))
        got = c._collect(raise_error=True)[0]
        self.assertEqual(got.columns, ["name"])
        self.assertEqual(got.rows, [(n,) for k, n, q in sorted(rows, key=lambda x: (x[2], x[0])) if k > 55])
        # Set operations: UNION ALL concatenated, UNION made distinct, ORDER BY/LIMIT on top.
        r = c.execute("SELECT id FROM items WHERE id > $1 UNION ALL SELECT id FROM items WHERE id < $2", ["55", "4"])
        self.assertEqual(sorted(int(v) for (v,) in r.rows), [k for k in self.keys if k > 55 or k < 4])
        r = c.execute("SELECT qty FROM items WHERE id > $1 UNION SELECT qty FROM items ORDER BY 1 DESC LIMIT $2",
                      ["0", "3"])
        self.assertEqual([int(v) for (v,) in r.rows], [4, 3, 2])
        # Still refused: what cannot be combined.
        r = c.batch([Stmt("SELECT string_agg(name, ',' ORDER BY id) FROM items WHERE id > $1", ["0"])])[0]
        self.assertEqual(r.error.fields.get("C"), "0A000")
        r = c.batch([Stmt("SELECT id FROM items ORDER BY id LIMIT $1 + 1", ["1"])])[0]
        self.assertEqual(r.error.fields.get("C"), "0A000")
        # A merge inside a transaction runs on its participants (issue 18, test_txn_fanout.py).
        c.query("BEGIN")
        r = c.batch([Stmt("SELECT id FROM items WHERE id > $1 ORDER BY id LIMIT 1", ["0"])])[0]
        self.assertIsNone(r.error)
        self.assertEqual(r.rows, [(str(min(self.keys)),)])
        self.assertEqual(c.tx_status, "T")
        c.query("ROLLBACK")
        self.assertEqual(c.execute("SELECT count(*) FROM items WHERE id > $1", ["0"]).rows, [("60",)])

    def test_string_agg_joins_every_shards_strings(self):
        rows = [(k, f"n{k}", k % 5) for k in self.keys]
        # Without ORDER BY the order of the pieces is unspecified (as in PostgreSQL): compare
        # the pieces.
        (joined,), = self.q("SELECT string_agg(name, ', ') FROM items")
        self.assertEqual(sorted(joined.split(", ")), sorted(n for _, n, _ in rows))
        got = self.q("SELECT qty, string_agg(name, '|') AS names, count(*) FROM items GROUP BY qty ORDER BY qty")
        self.assertEqual([(q, sorted(s.split("|")), n) for q, s, n in got],
                         [(q, sorted(n for _, n, x in rows if x == q), sum(1 for *_, x in rows if x == q))
                          for q in sorted({x for *_, x in rows})])
        # No rows anywhere: NULL, as PostgreSQL answers.
        self.assertEqual(self.q("SELECT string_agg(name, ',') FROM items WHERE qty > 100"), [(None,)])
        c = self.wire()
        r = c.execute("SELECT string_agg(name, $$;$$) FROM items WHERE id > $1", ["55"])
        self.assertEqual(sorted(r.rows[0][0].split(";")), sorted(n for k, n, _ in rows if k > 55))

    def test_combined_text_with_backslashes_whatever_standard_conforming_strings(self):
        names = sorted(f"n{k}" for k in self.keys)
        for setting in ("on", "off"):
            with self.subTest(standard_conforming_strings=setting):
                self.q(f"SET standard_conforming_strings = {setting}")
                try:
                    # The shards' values travel to the combining query as literals.
                    got = self.q("SELECT DISTINCT name || E'\\\\' AS v FROM items")
                    self.assertEqual(sorted(v for (v,) in got), sorted(n + "\\" for n in names))
                    (joined,), = self.q("SELECT string_agg(name, E'\\\\') FROM items")
                    self.assertEqual(sorted(joined.split("\\")), names)
                finally:
                    self.q("RESET standard_conforming_strings")

    def test_extended_limit_and_offset_parameters(self):
        rows = [(k, f"n{k}", k % 5) for k in self.keys]
        by_id = [k for k, _, _ in sorted(rows)]
        c = self.wire()
        sql = "SELECT id FROM items WHERE id > $1 ORDER BY id LIMIT $2 OFFSET $3"
        # Text parameters; one named statement executed with several values.
        first = c.batch([Stmt(sql, ["0", "4", "2"], name="page")], raise_error=True)[0]
        self.assertEqual([int(v) for (v,) in first.rows], by_id[2:6])
        for limit, offset in (("3", "0"), ("10", "55"), (None, "57"), ("2", None), ("0", "5")):
            got = c.batch([Stmt(name="page", params=["0", limit, offset], prepare=False)], raise_error=True)[0]
            start = int(offset or 0)
            want = by_id[start:] if limit is None else by_id[start:start + int(limit)]
            self.assertEqual([int(v) for (v,) in got.rows], want, (limit, offset))
        # Binary bigint parameters, as JDBC binds them.
        r = c.execute("SELECT id FROM items WHERE id > $1 ORDER BY id DESC LIMIT $2", [pgwire.int8_bin(0),
                      pgwire.int8_bin(3)], types=[INT8, INT8], formats=[1])
        self.assertEqual([int(v) for (v,) in r.rows], by_id[::-1][:3])
        # Aggregates page through their combined groups.
        counts = collections.Counter(q for _, _, q in rows)
        groups = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        r = c.execute("SELECT qty, count(*) AS n FROM items GROUP BY qty ORDER BY n DESC, qty LIMIT $1 OFFSET $2",
                      ["2", "1"])
        self.assertEqual(r.rows, [(str(q), str(n)) for q, n in groups[1:3]])
        # Values PostgreSQL refuses are refused the same way.
        for params, state in ((["0", "-1", "0"], "2201W"), (["0", "1", "-2"], "2201X"),
                              (["0", "ten", "0"], "22P02")):
            r = c.batch([Stmt(name="page", params=params, prepare=False)])[0]
            self.assertEqual(r.error.fields.get("C"), state, params)
        self.assertEqual(c.execute("SELECT count(*) FROM items WHERE id > $1", ["0"]).rows, [("60",)])

    def test_drivers_get_merged_results(self):
        rows = [(k, f"n{k}", k % 5) for k in self.keys]
        env = dict(os.environ, PGHOST="127.0.0.1", PGPORT=str(sg.port), PGUSER="postgres",
                   PGPASSWORD="", PGDATABASE=cluster.dbname)
        src = os.environ.get("SHARDGATE_SOURCE", os.path.join(os.path.dirname(__file__), "..", ".."))
        # node-postgres: parameterized queries use the extended protocol, text results.
        node_dir = os.path.join(src, "tests", "clients", "node")
        r = subprocess.run(["node", "client.js", "fanout"], cwd=node_dir, env=env, capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        got = json.loads(r.stdout)
        self.assertEqual(got["agg"], [{"n": str(sum(1 for k, _, q in rows if q >= 2)),
                                       "s": str(sum(q for _, _, q in rows if q >= 2)),
                                       "top": str(max(k for k, _, q in rows if q >= 2))}])
        self.assertEqual(got["aggFields"], ["n", "s", "top"])
        counts = collections.Counter(q for _, _, q in rows)
        self.assertEqual(got["grouped"], [{"qty": q, "n": str(n)} for q, n in
                                          sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:3]])
        counts30 = collections.Counter(q for k, _, q in rows if k > 30)
        self.assertEqual(got["again"], [{"qty": q, "n": str(n)} for q, n in
                                        sorted(counts30.items(), key=lambda kv: (-kv[1], kv[0]))[:3]])
        self.assertEqual(got["top"], [{"id": str(k), "name": n} for k, n, _ in sorted(rows, reverse=True)][1:5])
        self.assertEqual(got["hidden"], [{"name": n} for k, n, q in sorted(rows, key=lambda x: (-x[2], x[0]))][:3])
        self.assertEqual(got["hiddenFields"], ["name"])
        self.assertEqual(got["distinct"], [4, 3, 2, 1, 0])
        self.assertEqual(got["refused"], "0A000")
        self.assertEqual(got["avg"], [{"a": "2.0000000000000000"}])  # PostgreSQL's own scale
        self.assertEqual(got["after"], [{"n": "1"}])
        # JDBC: PreparedStatements past prepareThreshold (named statements, binary results).
        jar = "/usr/share/java/postgresql.jar"
        classes = tempfile.mkdtemp(prefix="sg-jdbc-routing-")
        self.addCleanup(shutil.rmtree, classes, ignore_errors=True)
        r = subprocess.run(["javac", "-cp", jar, "-d", classes,
                            os.path.join(src, "tests", "clients", "java", "TestClient.java")],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = subprocess.run(["java", "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp", f"{classes}:{jar}",
                            "TestClient", "fanout",
                            f"jdbc:postgresql://127.0.0.1:{sg.port}/{cluster.dbname}?sslmode=disable"],
                           env=env, capture_output=True, text=True, timeout=90)
        self.assertEqual(r.returncode, 0, r.stderr)
        got = json.loads(r.stdout)
        by_id = sorted(rows, reverse=True)
        self.assertEqual(got["q0"], " ".join(f"{k}:{q}" for k, _, q in by_id[:3]))
        self.assertEqual(got["q1"], " ".join(f"{q}:{n}:{min(k for k, _, x in rows if x == q)}"
                                             for q, n in sorted(counts.items())))
        self.assertEqual(got["q2"], " ".join(n for k, n, q in sorted(rows, key=lambda x: (-x[2], x[0]))[1:3]))
        self.assertEqual(got["q3"], "4 3 2 1 0")
        for q in range(4):
            self.assertTrue(got[f"q{q}Stable"], f"q{q} changed answers across executions: {got}")
            self.assertTrue(got[f"q{q}ServerPrepared"], got)
        self.assertEqual(got["refusedState"], "0A000")

    def test_updating_the_key_to_another_bucket_is_refused(self):
        src = 5
        dst = next(k for k in range(1000, 2000) if shard_of(k, "bigint", N)
                   != shard_of(src, "bigint", N))
        with self.assertRaises(psycopg2.Error) as cm:
            self.q("UPDATE items SET id = %s WHERE id = %s", (dst, src))
        self.assertIsNotNone(cm.exception.pgcode, cm.exception)
        self.assertRegex(cm.exception.diag.message_primary or "", re.compile(r"key|shard", re.I))
        self.assertEqual(self.q("SELECT id, name FROM items WHERE id = %s", (src,)),
                         [(src, f"n{src}")])
        self.assertEqual(sum(shard_rows(c, "SELECT count(*) FROM items WHERE id = %s",
                                        (dst,))[0][0] for c in shards), 0)
        # An upsert that would compute a new key is refused too, and changes nothing.
        for sql in ("INSERT INTO items (id, name) VALUES (%s, 'x') ON CONFLICT (id) DO UPDATE "
                    "SET id = excluded.id + 1000",
                    "INSERT INTO items (id, name) VALUES (%s, 'x') ON CONFLICT (id) DO UPDATE "
                    "SET (id, name) = (items.id * 7, 'y')"):
            with self.subTest(sql=sql):
                self.assertSqlState("0A000", sql % src, message="key")
                self.assertEqual(self.q("SELECT id, name FROM items WHERE id = %s", (src,)), [(src, f"n{src}")])

    def test_cross_shard_transaction_commits_or_rolls_back_as_one(self):
        # Issue 18: a transaction may span shards (two-phase commit); see test_txn_atomic.py.
        for finish, start in (("commit", 300), ("rollback", 400)):
            a, b = keys_on_distinct_shards("bigint", N, start=start)[:2]
            with self.subTest(finish=finish):
                conn = sg.connect()
                self.addCleanup(conn.close)
                self.q("INSERT INTO items (id, name) VALUES (%s, 'first')", (a,), conn)
                self.q("INSERT INTO items (id, name) VALUES (%s, 'second')", (b,), conn)
                getattr(conn, finish)()
                for k in (a, b):
                    self.assertEqual(sum(shard_rows(c, "SELECT count(*) FROM items WHERE "
                                                       "id = %s", (k,))[0][0] for c in shards),
                                     1 if finish == "commit" else 0, f"key {k} ({finish})")
                    shard_rows(shards[shard_of(k, "bigint", N)], "DELETE FROM items WHERE id = %s", (k,))
                # The connection is healthy afterwards.
                self.assertEqual(self.q("SELECT name FROM items WHERE id = 2", conn=conn),
                                 [("n2",)])
                conn.commit()

    def key_on(self, shard):
        return next(k for k in self.keys if shard_of(k, "bigint", N) == shard)

    def test_transaction_on_one_shard_commits_every_statement(self):
        s = 1
        ks = [k for k in range(400, 600) if shard_of(k, "bigint", N) == s][:3]
        conn = sg.connect()
        self.addCleanup(conn.close)
        for k in ks:
            self.q("INSERT INTO items (id, name) VALUES (%s, 'tx')", (k,), conn)
        self.q("UPDATE items SET qty = 7 WHERE id = %s", (ks[0],), conn)
        self.assertEqual(self.q("SELECT qty FROM items WHERE id = %s", (ks[0],), conn), [(7,)])
        # Statements every shard answers (no table, a reference-table read, a cursor) run on the
        # transaction's shard, and see its uncommitted rows.
        self.assertEqual(self.q("SELECT 1", conn=conn), [(1,)])
        self.assertEqual(self.q("SELECT count(*) FROM countries WHERE code = 'zz'", conn=conn), [(0,)])
        self.q("DECLARE c CURSOR FOR SELECT id, name FROM items WHERE id = %s", (ks[1],), conn)
        self.assertEqual(self.q("FETCH 1 FROM c", conn=conn), [(ks[1], "tx")])
        self.q("CLOSE c", conn=conn)
        self.assertEqual(self.q("SELECT now() = statement_timestamp(); SELECT qty FROM items WHERE id = %s",
                                (ks[0],), conn), [(7,)])
        conn.commit()
        got = shard_rows(shards[s], "SELECT id, qty FROM items WHERE name = 'tx' ORDER BY id")
        self.assertEqual(got, [(ks[0], 7), (ks[1], 0), (ks[2], 0)])

    def test_set_local_before_the_first_statement_leaves_the_shard_open(self):
        # psycopg2 sends BEGIN first; SET LOCAL (multi-tenant apps set a tenant this way) must
        # not settle the transaction on the default shard before the keyed statement comes.
        s = 3
        k = next(k for k in range(900, 1100) if shard_of(k, "bigint", N) == s)
        conn = sg.connect()
        self.addCleanup(conn.close)
        self.q("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", conn=conn)
        self.q("SET LOCAL statement_timeout = '7s'", conn=conn)
        self.q("SET LOCAL app.tenant = '42'", conn=conn)
        self.q("INSERT INTO items (id, name) VALUES (%s, current_setting('app.tenant'))", (k,), conn)
        self.assertEqual(self.q("SHOW statement_timeout", conn=conn), [("7s",)])
        self.assertEqual(self.q("SHOW transaction_isolation", conn=conn), [("repeatable read",)])
        conn.commit()
        self.assertEqual(shard_rows(shards[s], "SELECT name FROM items WHERE id = %s", (k,)), [("42",)])
        self.assertEqual(self.q("SHOW statement_timeout", conn=conn), [("0",)])  # LOCAL: gone
        conn.commit()
        # A value PostgreSQL rejects fails there and then, and aborts the transaction.
        self.assertSqlState("22023", "SET LOCAL statement_timeout = 'soon'", conn=conn)
        self.assertSqlState("25P02", "SELECT name FROM items WHERE id = %s", (k,), conn)
        conn.rollback()
        self.assertEqual(self.q("SELECT name FROM items WHERE id = %s", (k,), conn), [("42",)])
        conn.rollback()

    def test_extended_begin_and_set_local_batch_is_held_back(self):
        # JDBC with autocommit off: [BEGIN, SET LOCAL] in one batch, then the keyed statement.
        s = 3
        k = next(k for k in range(1100, 1300) if shard_of(k, "bigint", N) == s)
        c = self.wire()
        rs = c.batch([pgwire.Stmt("BEGIN"), pgwire.Stmt("SET LOCAL app.tenant = '9'")], raise_error=True)
        self.assertEqual([r.tag for r in rs], ["BEGIN", "SET"])
        self.assertEqual(c.tx_status, "T")
        c.execute("INSERT INTO items (id, name) VALUES ($1, current_setting('app.tenant'))", [str(k)])
        c.execute("COMMIT")
        self.assertEqual(shard_rows(shards[s], "SELECT name FROM items WHERE id = %s", (k,)), [("9",)])
        # A bad value: PostgreSQL's error, the transaction aborted until ROLLBACK, whether the
        # batch was held back (BEGIN and SET LOCAL only) or ran on the default shard (with a
        # SELECT 1), and whichever shard the next statement would need.
        for tail in ([], [pgwire.Stmt("SELECT 1")]):
            with self.subTest(held=not tail):
                rs = c.batch([pgwire.Stmt("BEGIN"), pgwire.Stmt("SET LOCAL statement_timeout = 'soon'")] + tail)
                self.assertEqual(rs[0].tag, "BEGIN")
                self.assertEqual(rs[1].error.sqlstate, "22023")
                self.assertEqual(len(rs), 2)
                self.assertEqual(c.tx_status, "E")
                with self.assertRaises(pgwire.PgError) as cm:
                    c.execute("SELECT name FROM items WHERE id = $1", [str(k)])
                self.assertEqual(cm.exception.sqlstate, "25P02")
                self.assertEqual(c.tx_status, "E")
                c.execute("ROLLBACK")
                self.assertEqual(c.tx_status, "I")
                self.assertEqual(c.execute("SELECT name FROM items WHERE id = $1", [str(k)]).rows, [("9",)])
        # The same in the simple protocol, after the transaction settled on a shard.
        other = next(j for j in range(1300, 1500) if shard_of(j, "bigint", N) != s)
        c.query("BEGIN")
        c.query(f"SELECT name FROM items WHERE id = {k}")
        with self.assertRaises(pgwire.PgError):
            c.query("SELECT 1/0")
        with self.assertRaises(pgwire.PgError) as cm:
            c.query(f"SELECT name FROM items WHERE id = {other}")
        self.assertEqual(cm.exception.sqlstate, "25P02")
        c.query("ROLLBACK")
        self.assertEqual(c.tx_status, "I")

    def test_extended_batch_without_table_follows_the_transaction(self):
        s = 2
        k = next(k for k in range(700, 900) if shard_of(k, "bigint", N) == s)
        c = self.wire()
        c.query("BEGIN")
        c.execute("INSERT INTO items (id, name) VALUES ($1, 'ext')", [str(k)])
        self.assertEqual(c.execute("SELECT 1").rows, [("1",)])
        # One batch: a key statement and table-less ones, before one Sync.
        rs = c.batch([pgwire.Stmt("SELECT name FROM items WHERE id = $1", [str(k)]),
                      pgwire.Stmt("SELECT 2"), pgwire.Stmt("SELECT count(*) FROM countries")])
        self.assertEqual([r.rows for r in rs], [[("ext",)], [("2",)], [("0",)]])
        c.query("ROLLBACK")
        self.assertEqual(shard_rows(shards[s], "SELECT count(*) FROM items WHERE id = %s", (k,)), [(0,)])

    def test_reference_table_is_written_everywhere_and_read_back(self):
        self.assertEqual(self.rowcount("INSERT INTO countries (code, name) VALUES "
                                       "('de', 'Germany'), ('fr', 'France'), ('jp', 'Japan')"),
                         3)
        for i, rows in self.on_shards("countries", "code, name").items():
            self.assertEqual(sorted(rows), [("de", "Germany"), ("fr", "France"),
                                            ("jp", "Japan")], f"s{i}")
        self.assertEqual(sorted(self.q("SELECT code FROM countries")),
                         [("de",), ("fr",), ("jp",)])
        self.assertEqual(self.rowcount("UPDATE countries SET name = 'Deutschland' "
                                       "WHERE code = 'de'"), 1)
        self.assertEqual(self.rowcount("DELETE FROM countries WHERE code = 'jp'"), 1)
        for i, rows in self.on_shards("countries", "code, name").items():
            self.assertEqual(sorted(rows), [("de", "Deutschland"), ("fr", "France")], f"s{i}")
        # A join of a sharded row with the reference table is answered by the row's shard.
        self.assertEqual(self.q("SELECT i.name, c.name FROM items i JOIN countries c "
                                "ON c.code = 'fr' WHERE i.id = 4"), [("n4", "France")])
        # Aggregates on a reference table read one copy, so they are exact.
        self.assertEqual(self.q("SELECT count(*) FROM countries"), [(2,)])

    def test_unlisted_table_lives_on_the_default_shard(self):
        self.assertEqual(self.rowcount("INSERT INTO notes VALUES (1, 'a'), (2, 'b')"), 2)
        got = {i: sorted(rows) for i, rows in self.on_shards("notes", "id, body").items()}
        self.assertEqual(got, {0: [(1, "a"), (2, "b")], 1: [], 2: [], 3: []})
        shard_rows(shards[2], "INSERT INTO notes VALUES (99, 'decoy on s2')")
        self.assertEqual(sorted(self.q("SELECT id, body FROM notes")), [(1, "a"), (2, "b")])
        self.assertEqual(self.q("SELECT count(*), max(id) FROM notes"), [(2, 2)])
        self.assertEqual(self.q("SELECT name FROM whereami"), [("s0",)])

    def test_hints_and_set_shardgate_shard(self):
        self.assertEqual(self.q("SELECT name FROM whereami"), [("s0",)])
        for s in range(N):
            self.assertEqual(self.q(f"/* shardgate.shard=s{s} */ SELECT name FROM whereami"),
                             [(f"s{s}",)])
        # A hint makes an otherwise refused fan-out aggregate a single-shard statement.
        direct = shard_rows(shards[2], "SELECT count(*) FROM items")
        self.assertEqual(self.q("/* shardgate.shard=s2 */ SELECT count(*) FROM items"), direct)
        k = 42
        want = shard_of(k, "bigint", N)
        self.assertEqual(self.q("/* shardgate.key=42 */ SELECT count(*) FROM items"),
                         shard_rows(shards[want], "SELECT count(*) FROM items"))
        self.assertEqual(self.q("SELECT name FROM whereami /* shardgate.shard=s3 */"),
                         [("s3",)])
        # SET shardgate.shard pins the session, across transactions.
        conn = sg.connect(autocommit=True)
        self.addCleanup(conn.close)
        self.q("SET shardgate.shard = 's3'", conn=conn)
        for _ in range(3):
            self.assertEqual(self.q("SELECT name FROM whereami", conn=conn), [("s3",)])
        self.q("SET shardgate.shard = 's1'", conn=conn)
        self.assertEqual(self.q("SELECT name FROM whereami", conn=conn), [("s1",)])
        # SHOW answers it as PostgreSQL answers SHOW: one text column named after the setting.
        with conn.cursor() as cur:
            cur.execute("SHOW shardgate.shard")
            self.assertEqual([(d.name, d.type_code) for d in cur.description], [("shardgate.shard", 25)])
            self.assertEqual((cur.fetchall(), cur.statusmessage), ([("s1",)], "SHOW"))
        with self.assertRaises(psycopg2.Error):
            self.q("SET shardgate.shard = 'no_such_shard'", conn=conn)
        self.assertEqual(self.q("SELECT 1", conn=conn), [(1,)])
        # Other sessions are not affected.
        self.assertEqual(self.q("SELECT name FROM whereami"), [("s0",)])
        # Manual routing never stores a row on a shard its key does not belong to.
        key = next(k for k in range(7000, 8000) if shard_of(k, "bigint", N) != 1)
        self.assertSqlState("0A000", f"INSERT INTO items (id, name) VALUES ({key}, 'm')", conn=conn,
                            message="belongs on shard")
        self.assertSqlState("0A000", f"/* shardgate.shard=s1 */ INSERT INTO items (id, name) VALUES ({key}, 'm')",
                            message="belongs on shard")
        self.assertEqual(sum(shard_rows(c, "SELECT count(*) FROM items WHERE id = %s", (key,))[0][0]
                             for c in shards), 0)

    def test_parse_errors_come_back_as_42601(self):
        for sql in ["SELEC id FROM items", "SELECT * FROM items WHERE id =",
                    "INSERT INTO items (id) VALUES (1", "UPDATE items SET WHERE id = 1"]:
            with self.subTest(sql=sql):
                e = self.assertSqlState("42601", sql, message="syntax error")
                self.assertEqual(e.diag.severity, "ERROR")
        self.assertEqual(self.q("SELECT name FROM items WHERE id = 1"), [("n1",)])

    def test_ddl_reaches_every_shard(self):
        def exists_on(table):
            return [shard_rows(c, "SELECT to_regclass(%s) IS NOT NULL", (table,))[0][0]
                    for c in shards]

        self.addCleanup(lambda: [shard_rows(c, "DROP TABLE IF EXISTS ddl_probe, ref_probe")
                                 for c in shards])
        self.q("CREATE TABLE ddl_probe (id bigint PRIMARY KEY, v text)")
        self.assertEqual(exists_on("ddl_probe"), [True] * N)
        self.q("CREATE INDEX ddl_probe_v ON ddl_probe (v)")
        self.assertEqual(exists_on("ddl_probe_v"), [True] * N)
        self.q("ALTER TABLE ddl_probe ADD COLUMN w int DEFAULT 3")
        cols = [shard_rows(c, "SELECT string_agg(attname, ',' ORDER BY attnum) FROM "
                              "pg_attribute WHERE attrelid = 'ddl_probe'::regclass "
                              "AND attnum > 0 AND NOT attisdropped")[0][0] for c in shards]
        self.assertEqual(cols, ["id,v,w"] * N)
        keys = list(range(1, 41))
        self.q("INSERT INTO ddl_probe (id, v) VALUES " + ", ".join(f"({k}, 'v')" for k in keys))
        self.assertPlaced("ddl_probe", "id", "bigint", keys)
        self.q("CREATE TABLE ref_probe (code text PRIMARY KEY)")
        self.assertEqual(exists_on("ref_probe"), [True] * N)
        self.q("DROP TABLE ddl_probe")
        self.q("DROP TABLE ref_probe")
        self.assertEqual(exists_on("ddl_probe"), [False] * N)
        self.assertEqual(exists_on("ref_probe"), [False] * N)
        # A failure on one shard is reported, not hidden.
        shard_rows(shards[2], "CREATE TABLE ddl_probe (x int)")
        self.assertSqlState("42P07", "CREATE TABLE ddl_probe (id bigint PRIMARY KEY)")


# ---------------------------------------------------------------------------------------------
# Differential: the same statements on one plain PostgreSQL and through shardgate over 4 shards.

# A statement whose rows are compared in the order they came (its ORDER BY is a total order).
IN_ORDER = " /* rows in order */"

DIFF_STATEMENTS = [
    "INSERT INTO d_items (id, name, qty) VALUES (1, 'one', 1)",
    "INSERT INTO d_items (id, name, qty) VALUES " +
    ", ".join(f"({k}, 'item {k}', {k % 9})" for k in range(2, 80)),
    "INSERT INTO d_items (id, name, qty) VALUES (80, 'x', 5) RETURNING id, name, qty",
    "INSERT INTO d_items (id, name, qty) VALUES (81, 'a', 1), (82, 'b', 2), (83, 'c', 3), "
    "(-84, 'd', 4) RETURNING id, qty * 2",
    "INSERT INTO d_docs (slug, body) VALUES ('alpha', 'A'), ('beta', 'B'), ('gamma', 'G'), "
    "('δέλτα', 'D'), ('', 'empty'), ('O''Reilly', 'quote')",
    "INSERT INTO d_docs (slug, body) VALUES ('epsilon', NULL)",
    "INSERT INTO d_ref (code, name) VALUES ('de', 'Germany'), ('fr', 'France')",
    "INSERT INTO d_ref (code, name) VALUES ('it', 'Italy')",
    "INSERT INTO d_misc VALUES (1, 'misc'), (2, 'more')",
    "SELECT id, name, qty FROM d_items WHERE id = 7",
    "SELECT * FROM d_items WHERE id = '7'::bigint",
    "SELECT name FROM d_items WHERE 8 = id",
    "SELECT i.name FROM d_items i WHERE i.id = 9 AND i.qty > 0",
    "SELECT name FROM d_items WHERE id = 12345",
    "SELECT id, name FROM d_items",
    "SELECT id FROM d_items WHERE qty > 6",
    "SELECT id, name FROM d_items WHERE id IN (1, 5, 17, 33, 999, -84)",
    "SELECT id, name FROM d_items WHERE id = 5 OR id = 17 OR (id = 33 AND qty > 0) OR id = 999",
    "SELECT slug FROM d_docs WHERE slug = 'alpha' OR (slug = 'gamma' AND body IS NOT NULL)",
    "SELECT id FROM d_items WHERE id = 5 OR qty = 3",
    "SELECT count(*), sum(qty), max(name) FROM d_items WHERE id = 3",
    "SELECT id, qty FROM d_items WHERE id = 3 ORDER BY id LIMIT 1",
    "SELECT slug, body FROM d_docs WHERE slug = 'δέλτα'",
    "SELECT slug, body FROM d_docs WHERE slug = ''",
    "SELECT body FROM d_docs WHERE slug = 'O''Reilly'",
    "SELECT slug FROM d_docs",
    "SELECT slug FROM d_docs WHERE body IS NULL",
    "SELECT * FROM d_ref",
    "SELECT code FROM d_ref WHERE code = 'de'",
    "SELECT count(*) FROM d_ref",
    "SELECT i.id, r.name FROM d_items i JOIN d_ref r ON r.code = 'de' WHERE i.id = 5",
    "UPDATE d_items SET qty = qty + 100 WHERE id = 4",
    "UPDATE d_items SET name = name || '!' WHERE qty % 2 = 0",
    "UPDATE d_items SET qty = 0 WHERE id IN (1, 2, 3) RETURNING id, qty",
    "UPDATE d_items SET qty = qty + 1 WHERE id = 20 OR id = 21 OR id = -84 RETURNING id, qty",
    "UPDATE d_items SET qty = qty WHERE id = 777",
    "DELETE FROM d_items WHERE id = 10",
    "DELETE FROM d_items WHERE qty > 7",
    "DELETE FROM d_items WHERE id IN (11, 12) RETURNING id, name",
    "UPDATE d_docs SET body = upper(body) WHERE slug = 'alpha'",
    "UPDATE d_docs SET body = 'x' WHERE body IS NULL RETURNING slug",
    "DELETE FROM d_docs WHERE slug IN ('beta', 'nope')",
    "UPDATE d_ref SET name = 'Deutschland' WHERE code = 'de'",
    "UPDATE d_ref SET name = name || '.'",
    "DELETE FROM d_ref WHERE code = 'fr'",
    "SELECT * FROM d_ref",
    "INSERT INTO d_items (id, name, qty) VALUES (1, 'dup', 9) "
    "ON CONFLICT (id) DO UPDATE SET qty = d_items.qty + excluded.qty",
    "INSERT INTO d_items (id, name, qty) VALUES (2, 'dup', 9) ON CONFLICT DO NOTHING",
    "SELECT id, name, qty FROM d_items WHERE id = 1",
    "BEGIN",
    "INSERT INTO d_items (id, name, qty) VALUES (500, 'tx', 1)",
    "UPDATE d_items SET qty = 2 WHERE id = 500",
    "SELECT qty FROM d_items WHERE id = 500",
    "COMMIT",
    "BEGIN",
    "DELETE FROM d_items WHERE id = 500",
    "ROLLBACK",
    "SELECT name, qty FROM d_items WHERE id = 500",
    "SELECT * FROM d_misc",
    "UPDATE d_misc SET body = 'changed' WHERE id = 2",
    "SELECT count(*), string_agg(body, ',' ORDER BY id) FROM d_misc",
    "SELECT id, name, qty FROM d_items",
    "SELECT slug, body FROM d_docs",
    "SELECT count(*), sum(qty), min(id), max(id) FROM d_items",
    "SELECT DISTINCT qty FROM d_items",
    "SELECT id, name FROM d_items ORDER BY qty DESC, id LIMIT 5 OFFSET 2" + IN_ORDER,
    "SELECT * FROM d_items ORDER BY id DESC LIMIT 7" + IN_ORDER,
    "SELECT id, qty FROM d_items ORDER BY 2, 1 OFFSET 60" + IN_ORDER,
    "SELECT DISTINCT qty FROM d_items ORDER BY qty DESC LIMIT 4" + IN_ORDER,
    "SELECT qty, count(*) AS n, max(id) FROM d_items GROUP BY qty ORDER BY n DESC, qty LIMIT 3" + IN_ORDER,
    "SELECT id FROM d_items WHERE id IN (1, 5, 17, 33, -84) ORDER BY id" + IN_ORDER,
    "SELECT id FROM d_items WHERE qty > 100 ORDER BY id LIMIT 2" + IN_ORDER,
    "SELECT avg(qty) AS mean, avg(id), count(*) FROM d_items",
    # (avg of float8 is refused across shards: its overflow check needs every row, issue 16)
    "SELECT qty, avg(id) AS a, avg(id::numeric(10, 2)) FROM d_items GROUP BY qty "
    "ORDER BY a DESC, qty" + IN_ORDER,
    "SELECT avg(qty) FROM d_items WHERE qty > 100",
    "SELECT avg(make_interval(secs => qty)) FROM d_items",
    "SELECT qty, count(*) AS n FROM d_items GROUP BY qty HAVING count(*) > 8 ORDER BY qty" + IN_ORDER,
    "SELECT qty, sum(id) FROM d_items GROUP BY qty HAVING max(id) > 70 AND qty <> 3",
    "SELECT qty, avg(id) AS a FROM d_items GROUP BY qty HAVING round(avg(id)) >= 40 OR min(id) < 3 "
    "ORDER BY a LIMIT 3" + IN_ORDER,
    "SELECT count(*) FROM d_items HAVING count(*) > 1000",
    "SELECT count(*), max(qty) FROM d_items HAVING min(qty) >= 0",
    "SELECT count(DISTINCT qty), count(*), sum(id) FROM d_items",
    "SELECT qty, count(DISTINCT name) AS names, avg(id) FROM d_items GROUP BY qty ORDER BY names DESC, qty" + IN_ORDER,
    "SELECT count(DISTINCT name) FROM d_items WHERE qty > 100",
    "SELECT bool_and(qty > 0), bool_or(qty > 8), every(id > 0), bit_and(qty), bit_or(id), bit_xor(id) FROM d_items",
    "SELECT qty, bool_or(id % 7 = 0) AS sevens, bit_or(id) FROM d_items GROUP BY qty "
    "HAVING bool_and(id > 1) ORDER BY qty" + IN_ORDER,
    "SELECT bool_and(true), bit_or(qty) FROM d_items WHERE qty > 100",
    "SELECT id, name FROM d_items WHERE qty < 3 UNION ALL SELECT id, name FROM d_items WHERE qty > 6",
    "SELECT qty FROM d_items UNION SELECT qty + 100 FROM d_items",
    "SELECT id FROM d_items WHERE qty = 1 UNION ALL SELECT id FROM d_items WHERE qty = 2 "
    "ORDER BY id DESC LIMIT 5 OFFSET 2" + IN_ORDER,
    "SELECT name AS label FROM d_items UNION SELECT name FROM d_ref",
    "SELECT slug FROM d_docs UNION SELECT code FROM d_ref",
    "SELECT id, qty FROM d_items WHERE id < 30 UNION SELECT qty, id FROM d_items WHERE id < 30 "
    "ORDER BY 1, 2 LIMIT 8" + IN_ORDER,
    # Subqueries and CTE bodies restricted to the statement's shard, or correlated with its rows
    # on the shard key (d_items with itself: co-located).
    "WITH x AS (SELECT * FROM d_items WHERE id = 5) SELECT id, name, qty FROM x",
    "SELECT id, name FROM d_items WHERE id = 6 AND qty <= (SELECT qty FROM d_items WHERE id = 6)",
    "SELECT code FROM d_ref WHERE name IN (SELECT 'Deutschland.' FROM d_items WHERE id = 7)",
    "SELECT code FROM d_ref WHERE code NOT IN (SELECT name FROM d_items WHERE id = ANY('{}'))",
    "SELECT i.id, i.name FROM d_items i WHERE EXISTS (SELECT 1 FROM d_items j WHERE j.id = i.id AND j.qty > 4)",
    "SELECT id FROM d_items WHERE id IN (SELECT id FROM d_items WHERE qty = 2)",
    "SELECT id FROM d_items WHERE id = ANY (SELECT id FROM d_items GROUP BY id HAVING sum(qty) > 6)",
    "SELECT i.id, (SELECT count(*) FROM d_items j WHERE j.id = i.id AND j.qty > 3) FROM d_items i",
    "SELECT count(*) FROM d_items i WHERE NOT EXISTS (SELECT 1 FROM d_items j WHERE i.id = j.id AND j.qty > 5)",
    "SELECT i.qty, count(*) FROM d_items i WHERE EXISTS (SELECT 1 FROM d_items j WHERE j.id = i.id) "
    "GROUP BY i.qty ORDER BY i.qty" + IN_ORDER,
    "UPDATE d_items i SET qty = qty + 1 WHERE EXISTS (SELECT 1 FROM d_items j WHERE j.id = i.id AND j.qty = 1) "
    "RETURNING id, qty",
    "DELETE FROM d_items i WHERE i.id = 9 AND EXISTS (SELECT 1 FROM d_items j WHERE j.id = i.id)",
    # INSERT ... SELECT of the shard key: every shard copies its own rows.
    "INSERT INTO d_items (id, name, qty) SELECT id, name, qty + 1 FROM d_items WHERE qty > 5 "
    "ON CONFLICT (id) DO UPDATE SET qty = d_items.qty + excluded.qty RETURNING id, qty",
    "INSERT INTO d_items (name, id, qty) SELECT name || '+', id, qty FROM d_items WHERE id IN (5, 6) "
    "ON CONFLICT (id) DO UPDATE SET name = excluded.name",
    "INSERT INTO d_items (id, name) SELECT id, 'copy' FROM d_items WHERE id = 7 ON CONFLICT DO NOTHING",
    "SELECT id, qty FROM d_items",
]


class PreparedLookupTest(RoutingCase):
    """[proxy] prepare_lookups: a simple-protocol lookup by a unique column runs as a statement
    prepared once per server connection, its constants as parameters typed as the text types
    them, and the client gets exactly the text's answer."""

    def prepared_count(self):
        [t] = sg.admin("SHOW TOTALS")
        return int(t["lookups_prepared"])

    def run_lookup(self, sql, conn=None):
        """(rows, column names, whether the proxy ran it prepared)."""
        conn = conn or self.conn
        before = self.prepared_count()
        with Deadline(conn, STATEMENT_S, sql[:80]), conn.cursor() as cur:
            cur.execute(sql)
            rows, names = cur.fetchall(), [d[0] for d in cur.description]
        return rows, names, self.prepared_count() > before

    def warm(self, sql):
        """The proxy reads a table's unique columns in the background on first use: until then
        its lookups run as they came."""
        deadline = time.monotonic() + 10
        while not self.run_lookup(sql)[2]:
            self.assertLess(time.monotonic(), deadline, f"{sql!r} never ran prepared")
            time.sleep(0.05)

    def on_plain(self, sql):
        return shard_rows(plain, sql)

    def test_lookups_by_primary_key_run_prepared_with_the_texts_answers(self):
        rows = [(k, f"n{k}", k % 7) for k in INT_KEYS]
        with self.conn.cursor() as cur:
            cur.executemany("INSERT INTO items (id, name, qty) VALUES (%s, %s, %s)", rows)
        shard_rows(plain, "TRUNCATE items")
        with plain.cursor() as cur:
            cur.executemany("INSERT INTO items (id, name, qty) VALUES (%s, %s, %s)", rows)
        self.warm("SELECT name, qty FROM items WHERE id = 1")
        # Every key (on every shard) and a missing one; constants of every width PostgreSQL
        # types differently (int4, int8, numeric beyond int8, numeric with a fraction).
        texts = [f"SELECT name, qty AS q FROM items WHERE id = {k}" for k in INT_KEYS if k >= 0] + [
            "SELECT name, qty AS q FROM items WHERE id = 123456789",
            "SELECT name, qty AS q FROM items WHERE 42 = id",
            "SELECT qty, name FROM items WHERE id = 4294967301 AND qty = 3",
            "SELECT name FROM items WHERE id = 99999999999999999999",
            "SELECT name FROM items WHERE id = 7.0",
            "SELECT name FROM items WHERE id = 7.5",
            "SELECT name FROM items WHERE id = 1e2",
            "SELECT upper(name) FROM items WHERE id = 00042;",
        ]
        for sql in texts:
            with self.subTest(sql=sql):
                got, names, prepared = self.run_lookup(sql)
                self.assertEqual(got, self.on_plain(sql))
                with plain.cursor() as cur:
                    cur.execute(sql)
                    self.assertEqual(names, [d[0] for d in cur.description])
                if "99999999999999999999" not in sql and "7.5" not in sql and "7.0" not in sql \
                        and "1e2" not in sql:
                    self.assertTrue(prepared, f"{sql!r} did not run prepared")

    def test_extended_unnamed_lookups_run_prepared_with_the_same_replies(self):
        """node-postgres, JDBC before prepareThreshold and pgbench -M extended send every query
        as an unnamed Parse/Bind/Describe/Execute/Sync: the proxy binds a lookup's prepared
        statement instead, and the client gets the very messages PostgreSQL sends for its own."""
        rows = "(1, 'one', 1), (2, 'two', 2), (5000000000, 'big', 3)"
        self.q(f"INSERT INTO items (id, name, qty) VALUES {rows}")
        shard_rows(plain, "TRUNCATE items")
        shard_rows(plain, f"INSERT INTO items (id, name, qty) VALUES {rows}")
        via = self.wire()
        direct = pgwire.WireConn("127.0.0.1", cluster.shards[PLAIN].port, timeout=15)
        self.addCleanup(direct.close)
        direct.startup("postgres", cluster.dbname)

        def exchange(conn, frames):
            """Every message of the reply, up to ReadyForQuery (errors by SQLSTATE)."""
            conn.send_raw(frames + pgwire.frame("S"))
            out = []
            while True:
                t, p = conn.recv_msg()
                out.append((t, pgwire.parse_error_fields(p).get("C") if t == "E" else p))
                if t == "Z":
                    return out

        def parse(sql, types=()):
            return pgwire.frame("P", b"\0" + sql.encode() + b"\0" + struct.pack(">h", len(types)) +
                                b"".join(struct.pack(">I", t) for t in types))

        def bind(*values, binary=False, result_binary=False):
            body = b"\0\0" + (struct.pack(">hh", 1, 1) if binary else struct.pack(">h", 0))
            body += struct.pack(">h", len(values))
            body += b"".join(struct.pack(">i", len(v)) + v for v in values)
            body += struct.pack(">hh", 1, 1) if result_binary else struct.pack(">h", 0)
            return pgwire.frame("B", body)

        run = pgwire.frame("D", b"P\0") + pgwire.frame("E", b"\0" + struct.pack(">i", 0))
        lookup = "SELECT name, qty FROM items WHERE id = $1"
        deadline = time.monotonic() + 10
        while True:
            before = self.prepared_count()
            exchange(via, parse(lookup, [INT8]) + bind(b"2") + run)
            if self.prepared_count() > before:
                break
            self.assertLess(time.monotonic(), deadline, "the lookup never ran prepared")
            time.sleep(0.05)
        cases = {
            "typed, text": parse(lookup, [INT8]) + bind(b"2") + run,
            "again (prepared already)": parse(lookup, [INT8]) + bind(b"1") + run,
            "binary in and out": parse(lookup, [INT8]) + bind(pgwire.int8_bin(5000000000), binary=True, result_binary=True) + run,
            "untyped, on another shard": parse(lookup) + bind(b"5000000000") + run,
            "missing row": parse(lookup, [INT8]) + bind(b"77") + run,
            "Bind only: the unnamed statement again": bind(b"1") + run,
            "Describe of the statement": parse(lookup, [INT8]) + pgwire.frame("D", b"S\0") + bind(b"2") +
            pgwire.frame("E", b"\0" + struct.pack(">i", 0)),
            "invalid key (the router refuses it)": parse(lookup, [INT8]) + bind(b"abc") + run,
            "invalid value (the shard refuses it)":
            parse(lookup + " AND qty = $2", [INT8, INT4]) + bind(b"1", b"abc") + run,
            "after the errors": parse(lookup, [INT8]) + bind(b"1") + run,
        }
        for label, frames in cases.items():
            with self.subTest(label):
                before = self.prepared_count()
                got, want = exchange(via, frames), exchange(direct, frames)
                self.assertEqual(got, want)
                if "Bind only" not in label and "router" not in label:
                    self.assertGreater(self.prepared_count(), before, f"{label}: not run prepared")

    def test_lookups_by_text_and_uuid_shard_keys(self):
        """A quoted constant becomes a parameter only as the value of a text, varchar or uuid
        shard key, which the router has checked: such lookups run prepared as well."""
        docs = [(k, f"body {i}") for i, k in enumerate(TEXT_KEYS)]
        things = [(str(u), f"note {i}") for i, u in enumerate(UUID_KEYS)]
        for conn in (self.conn, plain):
            if conn is plain:
                shard_rows(plain, "TRUNCATE docs, things")
            with conn.cursor() as cur:
                cur.executemany("INSERT INTO docs (slug, body) VALUES (%s, %s)", docs)
                cur.executemany("INSERT INTO things (uid, note) VALUES (%s, %s)", things)
        self.warm("SELECT body FROM docs WHERE slug = 'a'")
        self.warm(f"SELECT note FROM things WHERE uid = '{UUID_KEYS[0]}'")
        u = UUID_KEYS[0]
        texts = [self.conn.cursor().mogrify("SELECT body FROM docs WHERE slug = %s", (k,)).decode()
                 for k in TEXT_KEYS + ["missing"]]
        texts += [f"SELECT note FROM things WHERE uid = '{v}'" for v in UUID_KEYS] + [
            f"SELECT note FROM things WHERE uid = '{str(u).upper()}'",
            f"SELECT note FROM things WHERE uid = '{{{u}}}'",
            f"SELECT note FROM things WHERE uid = '{u.hex}'",
            "SELECT note, uid FROM things WHERE uid = '00000000-0000-0000-0000-00000000abcd'",
        ]
        for sql in texts:
            with self.subTest(sql=sql):
                got, _, prepared = self.run_lookup(sql)
                self.assertEqual(got, self.on_plain(sql))
                if "\\" not in sql:  # a backslash leaves the text to the parser
                    self.assertTrue(prepared, f"{sql!r} did not run prepared")
        # An invalid key is refused as PostgreSQL refuses it, prepared or not.
        e = self.assertSqlState("22P02", "SELECT note FROM things WHERE uid = 'not-a-uuid'")
        self.assertIn("uuid", e.diag.message_primary)

    def test_a_server_connection_prepares_a_bounded_number_of_lookups(self):
        """Each prepared lookup costs its backend a plan: past 200 on one server connection, new
        shapes run as they came (answers unchanged), the prepared ones stay prepared."""
        self.q("CREATE TABLE lk_cap (id int PRIMARY KEY, v int)")
        self.addCleanup(lambda: self.q("DROP TABLE IF EXISTS lk_cap"))
        self.q("INSERT INTO lk_cap VALUES (1, 10)")
        one = Proxy(cluster, "test_routing_lookup_cap", tables=TABLES, shards=list(range(N)),
                    proxy={"pool_size": 1}).start()   # one server connection per shard
        self.addCleanup(one.stop)
        conn = one.connect(autocommit=True)
        self.addCleanup(conn.close)

        def lookup(alias):
            [t0] = one.admin("SHOW TOTALS")
            with conn.cursor() as cur:
                cur.execute(f"SELECT v AS {alias} FROM lk_cap WHERE id = 1")
                self.assertEqual(cur.fetchall(), [(10,)])
            [t1] = one.admin("SHOW TOTALS")
            return int(t1["lookups_prepared"]) > int(t0["lookups_prepared"])

        deadline = time.monotonic() + 10
        while not lookup("c0"):
            self.assertLess(time.monotonic(), deadline, "never ran prepared")
            time.sleep(0.05)
        prepared = [lookup(f"c{i}") for i in range(1, 211)]
        self.assertEqual(prepared, [True] * 199 + [False] * 11)
        self.assertTrue(lookup("c5"))     # prepared already: still used
        self.assertFalse(lookup("c205"))

    def test_lookups_that_stay_as_they_came(self):
        self.q("INSERT INTO items (id, name) VALUES (1, 'one'), (2, 'two')")
        self.q("INSERT INTO notes (id, body) VALUES (1, 'x')")
        self.warm("SELECT name FROM items WHERE id = 2")
        for sql, expect in [
            ("SELECT * FROM items WHERE id = 1", [(1, "one", 0)]),            # * may change
            ("SELECT id FROM items WHERE name = 'one'", [(1,)]),              # quoted constant
            ("SELECT name FROM items WHERE id = 1 LIMIT 1", [("one",)]),      # constant elsewhere
            ("SELECT name FROM items WHERE id > 1", [("two",)]),              # not an equality
            ("SELECT body FROM notes WHERE id = 1", [("x",)]),                # no unique index
        ]:
            with self.subTest(sql=sql):
                if "notes" in sql:  # give the proxy time to learn notes has no unique column
                    self.run_lookup(sql)
                    time.sleep(0.3)
                got, _, prepared = self.run_lookup(sql)
                self.assertEqual(got, expect)
                self.assertFalse(prepared, f"{sql!r} ran prepared")
        # Inside a transaction: as it came (a prepared statement's failure must not abort it).
        tx = sg.connect()
        self.addCleanup(tx.close)
        got, _, prepared = self.run_lookup("SELECT name FROM items WHERE id = 2", conn=tx)
        tx.rollback()
        self.assertEqual(got, [("two",)])
        self.assertFalse(prepared)

    def test_schema_changes_and_discard_all(self):
        self.q("CREATE TABLE lk_probe (id int PRIMARY KEY, v int)")
        self.addCleanup(lambda: self.q("DROP TABLE IF EXISTS lk_probe"))
        self.q("INSERT INTO lk_probe VALUES (1, 10), (2, 20)")
        self.warm("SELECT v FROM lk_probe WHERE id = 1")
        # A column type changed through the proxy: every lookup gets a new prepared statement,
        # so none fails with "cached plan must not change result type".
        self.q("ALTER TABLE lk_probe ALTER COLUMN v TYPE text USING 'v' || v")
        conns = [sg.connect(autocommit=True) for _ in range(4)]
        for c in conns:
            self.addCleanup(c.close)
        for _ in range(3):
            for c in conns:
                self.assertEqual(self.run_lookup("SELECT v FROM lk_probe WHERE id = 2", conn=c)[0], [("v20",)])
        # DISCARD ALL drops the server connection's prepared statements: they are made again.
        for c in conns:
            self.q("DISCARD ALL", conn=c)
        for c in conns:
            self.assertEqual(self.run_lookup("SELECT v FROM lk_probe WHERE id = 1", conn=c)[0], [("v10",)])
        # Dropped behind the proxy's back (straight on the shard): one error at most, then the
        # lookup is prepared again under a new name.
        with shard_conn(cluster, 0) as direct:
            direct.autocommit = True
            shard_rows(direct, "ALTER TABLE lk_probe ALTER COLUMN v TYPE varchar(10)")
        errors = 0
        for _ in range(3):
            for c in conns:
                try:
                    got = self.run_lookup("SELECT v FROM lk_probe WHERE id = 2", conn=c)[0]
                    self.assertEqual(got, [("v20",)])
                except psycopg2.Error as e:
                    self.assertEqual(e.pgcode, "0A000", e.pgerror)
                    errors += 1
        self.assertLessEqual(errors, 1)
        self.assertTrue(sg.alive())


class DifferentialTest(unittest.TestCase):

    def setUp(self):
        for c in shards + [plain]:
            shard_rows(c, "TRUNCATE d_items, d_docs, d_ref, d_misc")
        self.proxied = sg.connect(autocommit=True)
        self.addCleanup(self.proxied.close)

    def run_on(self, conn, sql):
        try:
            with Deadline(conn, STATEMENT_S, sql[:80]), conn.cursor() as cur:
                cur.execute(sql)
                rows = cur.fetchall() if cur.description else None
                # repr: equal values must also have equal types and scales (1.50 is not 1.5).
                if rows is not None:
                    rows = [repr(r) for r in rows]
                if rows is not None and not sql.endswith(IN_ORDER):
                    rows = sorted(rows)
                return ("ok", cur.statusmessage.split()[0], cur.rowcount, rows)
        except psycopg2.Error as e:
            return ("error", e.pgcode, e.diag.message_primary)
        except TimeoutError as e:
            if conn is self.proxied:
                self.proxied = sg.connect(autocommit=True)
                self.addCleanup(self.proxied.close)
            return ("timeout", str(e))

    def test_statements_give_the_same_answers_as_one_postgresql(self):
        mismatches = []
        for sql in DIFF_STATEMENTS:
            want = self.run_on(plain, sql)
            got = self.run_on(self.proxied, sql)
            if got[0] == "timeout":
                self.fail(f"{sql}: {got[1]}")
            self.assertEqual(want[0], "ok", f"the statement list is wrong: {sql}: {want}")
            if got != want:
                mismatches.append(f"{sql}\n    postgresql: {want}\n    shardgate:  {got}")
        self.assertEqual(mismatches, [], "\n".join(mismatches))
        # Final state: the union of the shards equals the plain table, each row placed right.
        for table, cols, key, key_type in [("d_items", "id, name, qty", "id", "bigint"),
                                           ("d_docs", "slug, body", "slug", "text")]:
            want = sorted(shard_rows(plain, f"SELECT {cols} FROM {table}"), key=repr)
            got = []
            for i, c in enumerate(shards):
                rows = shard_rows(c, f"SELECT {cols} FROM {table}")
                for r in rows:
                    self.assertEqual(shard_of(r[0], key_type, N), i, f"{table} {r!r} on s{i}")
                got += rows
            self.assertEqual(sorted(got, key=repr), want, table)
        want_ref = sorted(shard_rows(plain, "SELECT * FROM d_ref"))
        for i, c in enumerate(shards):
            self.assertEqual(sorted(shard_rows(c, "SELECT * FROM d_ref")), want_ref, f"s{i}")
        self.assertEqual(sorted(shard_rows(shards[0], "SELECT * FROM d_misc")),
                         sorted(shard_rows(plain, "SELECT * FROM d_misc")))


if __name__ == "__main__":
    unittest.main()
