"""Issue 16, sections 2 and 3: every wrong answer found by the differential campaign, run
through shardgate over 4 shards AND on one plain PostgreSQL (the oracle) holding the same rows.

Each case must either answer exactly what the oracle answers (rows, column names, type OIDs and
type modifiers, command tag, SQLSTATE of an error) or be refused with SQLSTATE 0A000 naming the
construct. Cases are written so that the proxy's old behaviour (the wrong answer or the error
the issue lists) fails them.

Cluster: shards 0-3 behind the proxy, shard 4 the oracle.
"""

import faulthandler
import os
import subprocess
import unittest

import pgcluster
import pgwire
from pgwire import Stmt
from sgfixture import Proxy, shard_of

N = 4
ORACLE = 4
WATCHDOG_S = 240

TABLES = [
    {"name": "w_items", "shard_key": "id", "key_type": "bigint"},
    {"name": "w_words", "shard_key": "k", "key_type": "text"},
    {"name": "w_small", "shard_key": "id", "key_type": "integer"},
    {"name": "w_ci", "shard_key": "id", "key_type": "bigint"},
    {"name": "w_big", "shard_key": "id", "key_type": "bigint"},
    {"name": "w_ret", "shard_key": "id", "key_type": "bigint"},
    {"name": "w_cikey", "shard_key": "k", "key_type": "text"},
    {"name": "w_serial", "shard_key": "id", "key_type": "bigint"},
    {"name": "w_ref", "kind": "reference"},
]

# Created on every server directly (shards and oracle alike).
SCHEMA = """
CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE TABLE w_items (id bigint PRIMARY KEY, grp int, name varchar(40), price numeric(12,2),
                      f float8, ts timestamptz);
CREATE TABLE w_words (k text PRIMARY KEY, v int);
CREATE TABLE w_small (id integer PRIMARY KEY, v int);
CREATE TABLE w_ci (id bigint PRIMARY KEY, name text COLLATE ci);
CREATE TABLE w_big (id bigint PRIMARY KEY, x float8);
CREATE TABLE w_ret (id bigint PRIMARY KEY, note text);
CREATE TABLE w_ref (k int PRIMARY KEY, label text);
INSERT INTO w_ref VALUES (1, 'one'), (2, 'two'), (3, 'three');
"""

# 2-character text keys: chosen below so that the padded or longer spelling lands elsewhere.
WORD_CANDIDATES = [f"{a}{b}" for a in "abcdefghij" for b in "0123456789"]


def load_rows(words):
    rows = []
    for i in range(1, 41):
        # f decreases as id grows, by steps below float8's 15th digit; ts one hour apart.
        rows.append(f"({i}, {i % 5}, 'n{i % 3}', {i * 1.25}, 1 + {41 - i} * 2 ^ (-50), "
                    f"'2024-01-01 10:00:00+00'::timestamptz + interval '{i} hours')")
    sql = "INSERT INTO w_items VALUES " + ", ".join(rows) + ";\n"
    sql += "INSERT INTO w_words VALUES " + ", ".join(f"('{w}', {n})" for n, w in enumerate(words)) + ";\n"
    sql += "INSERT INTO w_small VALUES " + ", ".join(f"({g}, {g * 10})" for g in range(1, 21)) + ";\n"
    sql += ("INSERT INTO w_ci VALUES (1, 'Dave'), (2, 'dave'), (3, 'DAVE'), (4, 'Ann'), (5, 'ann'), "
            "(6, 'Bob'), (7, 'bob'), (8, 'BOB');\n")
    sql += "INSERT INTO w_big VALUES " + ", ".join(f"({g}, {1 if g % 2 == 0 else -1}e300)" for g in range(1, 17)) + ";\n"
    return sql


cluster = None
sg = None
WORDS = []


def setUpModule():
    global cluster, sg, WORDS
    faulthandler.dump_traceback_later(WATCHDOG_S, exit=True)
    unittest.addModuleCleanup(faulthandler.cancel_dump_traceback_later)
    cluster = pgcluster.Cluster(N + 1)
    cluster.start()
    unittest.addModuleCleanup(cluster.stop)
    # Words whose padded ("xx  ") or extended ("xxz") spellings hash to another shard.
    WORDS = [w for w in WORD_CANDIDATES
             if shard_of(w, "text") != shard_of(w + "  ", "text")
             and shard_of(w, "text") != shard_of(w + "z", "text")][:8]
    data = load_rows(WORDS)
    for i in range(N + 1):
        cluster.psql(i, SCHEMA)
    # Rows go to their own shard (the placement the proxy computes) and all to the oracle.
    cluster.psql(ORACLE, data)
    sg = Proxy(cluster, "test_wrong_answers", tables=TABLES, shards=list(range(N)),
               proxy={"pool_size": 4, "pool_timeout_ms": 5000}).start()
    unittest.addModuleCleanup(sg.stop)
    with connect_proxy() as c:
        for stmt in data.strip().split(";\n"):
            if stmt.strip():
                c.query(stmt)


def connect_proxy():
    c = pgwire.WireConn("127.0.0.1", sg.port, timeout=20)
    c.startup("postgres", "app")
    return c


def connect_oracle():
    c = pgwire.WireConn("127.0.0.1", cluster.shards[ORACLE].port, timeout=20)
    c.startup("postgres", "app")
    return c


def outcome(conn, stmt, setup=()):
    """(Result, PgError or None) of one statement (str: simple protocol; Stmt: extended)."""
    for s in setup:
        conn.query(s)
    if isinstance(stmt, str):
        results = conn.query(stmt, raise_error=False)
    else:
        results = conn.batch([stmt])
    last = results[-1] if results else pgwire.Result()
    for r in results:
        if r.error is not None:
            return r, r.error
    return last, None


class WrongAnswers(unittest.TestCase):

    def check(self, stmt, setup=(), ordered=True, refusal=None, normalise=None):
        """The proxy answers as the oracle does, or (when `refusal` names the construct) may
        refuse with 0A000 and that construct in its message. `normalise` maps each row before
        comparing (for values PostgreSQL may spell either way, e.g. which of 'Dave'/'dave')."""
        with connect_proxy() as p, connect_oracle() as o:
            got, got_err = outcome(p, stmt, setup)
            want, want_err = outcome(o, stmt, setup)
        text = stmt if isinstance(stmt, str) else stmt.sql
        if got_err is not None and got_err.sqlstate == "0A000" and refusal is not None:
            self.assertIn(refusal, got_err.message, text)
            return "refused"
        if want_err is not None or got_err is not None:
            self.assertIsNotNone(got_err, f"{text}: the oracle failed with {want_err}, the proxy answered "
                                          f"{got.rows}")
            self.assertIsNotNone(want_err, f"{text}: the proxy failed with {got_err}, the oracle answered "
                                           f"{want.rows}")
            self.assertEqual(got_err.sqlstate, want_err.sqlstate, f"{text}: {got_err} vs {want_err}")
            return "error"
        self.assertEqual(got.columns, want.columns, text)
        self.assertEqual((got.types, got.typmods), (want.types, want.typmods), f"{text}: column types/typmods")
        self.assertEqual(got.tag, want.tag, text)
        rows_got, rows_want = got.rows, want.rows
        if normalise:
            rows_got = [normalise(r) for r in rows_got]
            rows_want = [normalise(r) for r in rows_want]
        if not ordered:
            rows_got, rows_want = sorted(rows_got, key=repr), sorted(rows_want, key=repr)
        self.assertEqual(rows_got, rows_want, text)
        return "agree"

    def refused(self, stmt, construct, setup=()):
        """The proxy refuses with 0A000 naming `construct` (the oracle answers)."""
        with connect_proxy() as p:
            _, err = outcome(p, stmt, setup)
        text = stmt if isinstance(stmt, str) else stmt.sql
        self.assertIsNotNone(err, f"{text}: answered instead of refused")
        self.assertEqual(err.sqlstate, "0A000", f"{text}: {err}")
        self.assertIn(construct, err.message, text)

    # -- section 2 -----------------------------------------------------------------------

    def test_01_semi_join_distinct_on(self):
        self.refused("SELECT count(*) FROM w_items WHERE id IN "
                     "(SELECT DISTINCT ON (grp) id FROM w_items ORDER BY grp, id)", "DISTINCT ON")
        self.refused("DELETE FROM w_items WHERE id IN "
                     "(SELECT DISTINCT ON (grp) id FROM w_items ORDER BY grp, id DESC)", "DISTINCT ON")
        with connect_proxy() as p:
            self.assertEqual(p.query("SELECT count(*) FROM w_items")[0].rows, [("40",)])
        # A semi-join whose rows qualify on their own still runs on every shard, and agrees.
        self.check("SELECT count(*) FROM w_items WHERE id IN "
                   "(SELECT id FROM w_items GROUP BY id HAVING max(grp) = 2)")

    def test_03_nondeterministic_collations(self):
        # The shard key: refused at DDL through the proxy...
        self.refused("CREATE TABLE w_cikey (k text COLLATE ci PRIMARY KEY)", "COLLATE")
        # ... and reported by `shardgate check` when the table was made on the shards directly.
        for i in range(N):
            cluster.psql(i, "CREATE TABLE IF NOT EXISTS w_cikey (k text COLLATE ci PRIMARY KEY)")
        out = subprocess.run([os.environ["SHARDGATE_BIN"], "check", "-c", sg.config_path],
                             capture_output=True, text=True, timeout=60)
        self.assertNotEqual(out.returncode, 0, out.stdout)
        self.assertIn("nondeterministic collation", out.stdout)
        # Merged groups compare under the column's collation: 3 names, not 8.
        self.check("SELECT count(DISTINCT name) FROM w_ci")
        self.check("SELECT name, count(*) FROM w_ci GROUP BY name", ordered=False,
                   normalise=lambda r: (r[0].lower(), r[1]))
        self.check("SELECT DISTINCT name FROM w_ci", ordered=False, normalise=lambda r: (r[0].lower(),))

    def test_04_casts_around_any_arrays(self):
        w = WORDS[0]
        self.check(f"SELECT k, v FROM w_words WHERE k = ANY('{{\"{w}  \"}}'::bpchar[])")
        self.check(f"SELECT k, v FROM w_words WHERE k = ANY('{{{w}z}}'::varchar(2)[])")
        self.check(f"DELETE FROM w_words WHERE k = ANY('{{\"{WORDS[1]}  \"}}'::bpchar[])")

    def test_05_bpchar_parameter_against_text_key(self):
        for w in WORDS[2:5]:
            self.check(Stmt("SELECT k, v FROM w_words WHERE k = $1", params=[w + "   "], types=[1042]))

    def test_06_timestamptz_under_non_iso_datestyle(self):
        setup = ["SET TimeZone = 'Asia/Kolkata'", "SET DateStyle = 'SQL, DMY'"]
        self.check("SELECT grp, max(ts) FROM w_items GROUP BY grp ORDER BY grp", setup=setup, refusal="DateStyle")
        self.check("SELECT id, ts FROM w_items ORDER BY ts DESC LIMIT 3", setup=setup, refusal="DateStyle")
        # Under ISO the same statements are combined, and agree.
        iso = ["SET TimeZone = 'Asia/Kolkata'", "SET DateStyle = 'ISO, DMY'"]
        self.assertEqual(self.check("SELECT grp, max(ts) FROM w_items GROUP BY grp ORDER BY grp", setup=iso), "agree")

    def test_07_count_distinct_over_no_rows(self):
        self.check("SELECT count(DISTINCT grp), count(*) FROM w_items WHERE id < 0")
        self.check("SELECT count(DISTINCT grp), count(*) FROM w_items WHERE id < 0 HAVING count(*) = 0")
        self.check("SELECT count(DISTINCT grp), count(name), sum(grp) FROM w_items WHERE id < 0")

    def test_08_window_function_in_order_by(self):
        self.refused("SELECT id FROM w_items ORDER BY row_number() OVER (ORDER BY f) LIMIT 3", "window function")

    def test_09_extra_float_digits_zero(self):
        setup = ["SET extra_float_digits = 0"]
        self.check("SELECT id FROM w_items ORDER BY f, id LIMIT 5", setup=setup, refusal="extra_float_digits")
        self.check("SELECT grp, sum(f) FROM w_items GROUP BY grp ORDER BY grp", setup=setup,
                   refusal="extra_float_digits")
        self.assertEqual(self.check("SELECT id FROM w_items ORDER BY f, id LIMIT 5"), "agree")

    def test_10_function_reading_a_sharded_table(self):
        for ddl in ["CREATE FUNCTION w_total() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM w_items'",
                    "CREATE FUNCTION w_twice(x int) RETURNS int LANGUAGE sql AS 'SELECT x * 2'"]:
            with connect_proxy() as p:
                p.query(ddl)          # DDL without a table: every shard
            cluster.psql(ORACLE, ddl)
        self.refused("SELECT w_total()", "w_total()")
        self.refused("SELECT id, W_TOTAL () FROM w_items WHERE id = 3", "w_total()")
        self.refused(Stmt("SELECT w_total() + $1", params=["1"], types=[20]), "w_total()")
        # A function reading no sharded table runs where its statement does.
        self.check("SELECT id, w_twice(grp) FROM w_items WHERE id = 3")

    def test_11_avg_float8_overflow(self):
        # The oracle raises 22003 (its running sum of squares overflows); the proxy must not
        # answer a number.
        self.check("SELECT avg(x) FROM w_big", refusal="avg()")

    def test_12_insert_returning_in_values_order(self):
        ids = [i for i in range(100, 140)]
        by_shard = {}
        for i in ids:
            by_shard.setdefault(shard_of(i, "bigint"), i)
        keys = [by_shard[s] for s in sorted(by_shard)][::-1]  # highest shard first
        values = ", ".join(f"({k}, 'r{n}')" for n, k in enumerate(keys))
        self.assertEqual(self.check(f"INSERT INTO w_ret VALUES {values} RETURNING id, note"), "agree")

    def test_13_group_columns_keep_their_type_modifier(self):
        self.check("SELECT name, price, count(*) FROM w_items GROUP BY name, price ORDER BY price LIMIT 5")
        self.check("SELECT DISTINCT name FROM w_items ORDER BY name", refusal="collation")

    # -- section 3 -----------------------------------------------------------------------

    def test_having_parameter(self):
        self.check(Stmt("SELECT grp, count(*) FROM w_items GROUP BY grp HAVING count(*) > $1 ORDER BY grp",
                        params=["7"]))
        self.check(Stmt("SELECT grp, sum(price) FROM w_items GROUP BY grp HAVING sum(price) < $1 ORDER BY grp",
                        params=["200"], types=[1700]))

    def test_numeric_and_float_key_values(self):
        self.check("SELECT id FROM w_items WHERE id = ANY('{5.0,6}'::numeric[]) ORDER BY id")
        self.check("SELECT id FROM w_items WHERE id = ANY('{5e0,7.5}'::float8[]) ORDER BY id")
        self.check(Stmt("SELECT id, v FROM w_small WHERE id = $1", params=["5.0"], types=[1700]))
        self.check(Stmt("SELECT id, v FROM w_small WHERE id = $1", params=["5.5"], types=[1700]))

    def test_multidimensional_arrays(self):
        self.check("SELECT id FROM w_items WHERE id = ANY('{{1,2},{3,4}}'::bigint[]) ORDER BY id")
        self.check(Stmt("SELECT id FROM w_items WHERE id = ANY($1::bigint[]) ORDER BY id",
                        params=["{{5,6},{7,8}}"]))

    def test_int8_parameter_beyond_integer_key(self):
        self.check(Stmt("SELECT id, v FROM w_small WHERE id = $1", params=["3000000000"], types=[20]))

    def test_limit_parameter_bound_as_numeric(self):
        self.check(Stmt("SELECT id FROM w_items ORDER BY id LIMIT $1", params=["2.5"], types=[1700]))

    def test_sequences(self):
        # Sequence-fed columns on sharded tables are refused at DDL ...
        self.refused("CREATE TABLE w_serial (id bigserial PRIMARY KEY, note text)", "serial")
        self.refused("CREATE TABLE w_serial (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY)", "identity")
        # ... and sequences are default-shard objects: CREATE, nextval() and DROP all agree.
        with connect_proxy() as p:
            p.query("CREATE SEQUENCE w_seq")
            self.assertEqual(p.query("SELECT nextval('w_seq')")[0].rows, [("1",)])
            self.assertEqual(p.query("DROP SEQUENCE w_seq")[0].tag, "DROP SEQUENCE")
        self.refused("SELECT nextval('w_seq'), id FROM w_items WHERE id = 1", "nextval")

    # -- found by the differential fuzzer (tests/differential) ------------------------------

    def test_found_text_parameter_cast_to_the_key_type_in_binary(self):
        # `id = $1::integer` with $1 declared text and sent in binary: the bytes are its text.
        for v in ("7", "11", "-3", "40"):
            self.check(Stmt("SELECT id, grp FROM w_small WHERE id = $1::integer", [v], types=[25], formats=[1]),
                       ordered=False)
            self.check(Stmt("SELECT id FROM w_items WHERE id = $1::bigint", [v], types=[1043], formats=[1]),
                       ordered=False)
        self.check(Stmt("SELECT id FROM w_small WHERE id = $1::integer", ["1.5"], types=[25], formats=[1]))
        self.check(Stmt("SELECT id FROM w_small WHERE id = $1::integer", ["4.5"], types=[1700]))

    def test_found_reference_write_counts_once_over_the_extended_protocol(self):
        self.check(Stmt("UPDATE w_ref SET label = $1 WHERE k = $2", ["uno", "1"], types=[25, 23]))
        self.check(Stmt("INSERT INTO w_ref (k, label) VALUES ($1, $2)", ["4", "four"], types=[23, 25]))
        self.check(Stmt("DELETE FROM w_ref WHERE k >= $1", ["3"], types=[23]))

    def test_found_comment_on_an_unlisted_table(self):
        # The unlisted table lives on the default shard (and the oracle) only.
        for i in (0, ORACLE):
            cluster.psql(i, "CREATE TABLE IF NOT EXISTS w_unlisted (a int)")
        self.check("COMMENT ON TABLE w_unlisted IS 'only here'")
        self.check("COMMENT ON COLUMN w_unlisted.a IS 'only here'")

    def test_found_unique_constraint_without_the_shard_key(self):
        self.refused("ALTER TABLE w_items ADD CONSTRAINT w_items_name_key UNIQUE (name)",
                     'constraint "w_items_name_key" on sharded table "w_items" does not include shard key')
        self.refused("CREATE UNIQUE INDEX w_items_grp ON w_items (grp)", "does not include shard key")
        self.refused("CREATE TABLE w_serial (id bigint, code text PRIMARY KEY)", "PRIMARY KEY constraint")
        with connect_proxy() as p:
            p.query("CREATE UNIQUE INDEX w_items_grp_id ON w_items (grp, id)")
            p.query("DROP INDEX w_items_grp_id")
        # Made on the shards directly, `shardgate check` reports it.
        for i in range(N):
            cluster.psql(i, "CREATE TABLE IF NOT EXISTS w_serial (id bigint, code text UNIQUE)")
        out = subprocess.run([os.environ["SHARDGATE_BIN"], "check", "-c", sg.config_path],
                             capture_output=True, text=True, timeout=60)
        self.assertNotEqual(out.returncode, 0, out.stdout)
        self.assertIn('unique index "w_serial_code_key" does not include shard key "id"', out.stdout)
        self.assertNotIn('unique index "w_items_pkey"', out.stdout)

    def test_found_qualified_order_by_is_the_tables_column(self):
        # SELECT b.id ... ORDER BY a.id: rows without a match (b.id NULL) sort by a.id.
        self.check("SELECT b.id FROM w_items a LEFT JOIN w_items b ON b.id = a.id AND b.grp = 1 "
                   "ORDER BY a.id DESC, b.id")

    def test_found_refusal_after_the_shards_answered_is_counted(self):
        sql = "SELECT name FROM w_items ORDER BY name, id"
        with connect_proxy() as p:
            r = p.batch([Stmt(sql, result_formats=[1])])
        self.assertIsNotNone(r[-1].error)
        self.assertEqual(r[-1].error.sqlstate, "0A000", r[-1].error)
        rows = [x for x in sg.admin("SHOW REFUSALS") if x["query"] == sql]
        self.assertEqual(len(rows), 1, sg.admin("SHOW REFUSALS"))
        self.assertEqual(int(rows[0]["count"]), 1)
        self.assertEqual(rows[0]["construct"], "combining binary results across shards")


if __name__ == "__main__":
    unittest.main(verbosity=2)
