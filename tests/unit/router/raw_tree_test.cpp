// The raw tree converter gives libpg_query's own tree, field for field, for every node type it
// knows, and leaves what it does not know to the protobuf path.
#include "router/raw_tree.h"

#include <gtest/gtest.h>
#include <pg_query.h>

#include <string>
#include <vector>

#include "router/parser.h"
#include "tests/unit/router/raw_tree_fixture.h"

namespace sg::router {
namespace {

using testing::pack;
using testing::Reference;
using testing::reference;
using testing::same_tree;
using testing::TestArena;

struct Case {
    const char* sql;
    bool fast;  // converted without falling back to the protobuf path
};

// Every node type the converter knows, in the places DML and transaction control put them, and
// statements it must leave to the protobuf path.
const std::vector<Case>& corpus() {
    static const std::vector<Case> cases = {
        // Targets, columns, stars, aliases, identifiers.
        {"SELECT 1", true},
        {"select * from t", true},
        {"SELECT a, b AS bee, t.c, s.t.c, db.s.t.c FROM t", true},
        {"SELECT t.*, u.* FROM t, u", true},
        {"SELECT \"Col\", \"we\"\"ird\" FROM \"My Table\" AS \"X\"", true},
        {"SELECT a FROM s.\"T\" x(a, b)", true},
        {"SELECT a FROM ONLY t", true},
        {"SELECT a FROM t *", true},
        {"SELECT 'héllo', '日本語' AS \"ünï\", café FROM naïve WHERE ü = 'ß'", true},
        {"SELECT DISTINCT a FROM t", true},
        {"SELECT DISTINCT ON (a, b) a, b, c FROM t ORDER BY a, b, c DESC", true},
        {"SELECT ALL a FROM t", true},
        // Constants.
        {"SELECT NULL, TRUE, FALSE, 0, -1, 42, 2147483647, -2147483648", true},
        {"SELECT 2147483648, -2147483649, 99999999999999999999999999999999", true},
        {"SELECT 1.5, -1.5, .5, 1e10, 2.5E-3, -0.0, 1.", true},
        {"SELECT 'x', '', 'it''s', E'a\\nb', $$dollar$$, $tag$x$tag$, U&'\\0041'", true},
        {"SELECT B'101', B'', X'1F', b'0'", true},
        {"SELECT N'national'", true},
        // Parameters.
        {"SELECT $1", true},
        {"SELECT $0, $3, $2", true},
        {"SELECT * FROM t WHERE a = $1 AND b = $2 OR c = $3 AND d IN ($4, $5)", true},
        {"SELECT $1::int, $2::text[], CAST($3 AS bigint)", true},
        {"INSERT INTO t (a, b, c, d, e, f, g, h, i, j, k) "
         "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
         true},
        // Casts and typed literals.
        {"SELECT '1'::int, 'x'::text, CAST(a AS varchar(20)), a::numeric(10, 2)", true},
        {"SELECT interval '1 day', interval '1' day, interval(3) '1 second', "
         "interval '1-2' year to month",
         true},
        {"SELECT timestamp '2020-01-01', date '2020-01-01', time with time zone '10:00', "
         "timestamptz '2020-01-01 00:00:00+00'",
         true},
        {"SELECT '{1,2}'::int[], a::int[3][], a::pg_catalog.int4, a::\"MyType\", "
         "a::double precision, a::bit(3), a::char, a::national character varying(5)",
         true},
        {"SELECT a::timestamp(3) without time zone, a::time(2) with time zone", true},
        {"SELECT 'x' COLLATE \"C\", a COLLATE pg_catalog.\"default\" FROM t", true},
        // Operators and A_Expr kinds.
        {"SELECT a + b * c - d / e % f ^ g, -a, +a, @ a, ~a, a || b FROM t", true},
        {"SELECT a OPERATOR(pg_catalog.+) b, a ->> 'k', a -> 'k' -> 'j', a #> '{x,y}', "
         "a @> b FROM t",
         true},
        {"SELECT * FROM t WHERE a = 1 AND b <> 2 AND c != 3 AND d < 4 AND e >= 5", true},
        {"SELECT * FROM t WHERE NOT (a = 1) OR NOT b", true},
        {"SELECT * FROM t WHERE a IS NULL OR b IS NOT NULL OR c ISNULL OR d NOTNULL", true},
        {"SELECT * FROM t WHERE a IS TRUE AND b IS NOT TRUE AND c IS FALSE AND d IS NOT FALSE "
         "AND e IS UNKNOWN AND f IS NOT UNKNOWN",
         true},
        {"SELECT * FROM t WHERE a IN (1, 2, 3) AND b NOT IN ('x', 'y')", true},
        {"SELECT * FROM t WHERE a LIKE 'x%' AND b NOT LIKE 'y' AND c ILIKE 'z' "
         "AND d NOT ILIKE 'w' AND e LIKE 'a' ESCAPE '!'",
         true},
        {"SELECT * FROM t WHERE a SIMILAR TO 'x' AND b NOT SIMILAR TO 'y' ESCAPE '#'", true},
        {"SELECT * FROM t WHERE a BETWEEN 1 AND 2 AND b NOT BETWEEN 3 AND 4 "
         "AND c BETWEEN SYMMETRIC 5 AND 6 AND d NOT BETWEEN SYMMETRIC 7 AND 8",
         true},
        {"SELECT * FROM t WHERE a IS DISTINCT FROM b AND c IS NOT DISTINCT FROM d", true},
        {"SELECT NULLIF(a, b), a ~ 'x', a !~* 'y', a ~~ b FROM t", true},
        {"SELECT * FROM t WHERE a = ANY($1) AND b <> ALL(ARRAY[1, 2]) AND c < SOME('{1}')", true},
        {"SELECT * FROM t WHERE (a, b) = (1, 2) AND (c, d) < ROW(3, 4)", true},
        // Sub-links.
        {"SELECT * FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.id = t.id)", true},
        {"SELECT * FROM t WHERE NOT EXISTS (SELECT 1 FROM u)", true},
        {"SELECT (SELECT max(x) FROM u) AS m, ARRAY(SELECT id FROM u) FROM t", true},
        {"SELECT * FROM t WHERE a IN (SELECT id FROM u) AND b NOT IN (SELECT id FROM v)", true},
        {"SELECT * FROM t WHERE a = ANY (SELECT id FROM u) AND b > ALL (SELECT id FROM v)", true},
        {"SELECT * FROM t WHERE (a, b) = (SELECT 1, 2) AND (c, d) IN (SELECT x, y FROM u)", true},
        {"SELECT (SELECT arr FROM u LIMIT 1)[1]", true},
        // Expressions.
        {"SELECT COALESCE(a, b, 0), GREATEST(a, b), LEAST(1, 2, 3) FROM t", true},
        {"SELECT CASE WHEN a > 1 THEN 'x' WHEN a < 0 THEN 'y' ELSE 'z' END FROM t", true},
        {"SELECT CASE a WHEN 1 THEN 'one' WHEN 2 THEN 'two' END FROM t", true},
        {"SELECT ROW(1, 'a'), ROW(), (1, 2, 3), ROW(a.*) FROM t a", true},
        {"SELECT ARRAY[1, 2, 3], ARRAY[[1, 2], [3, 4]], ARRAY[]::int[]", true},
        {"SELECT a[1], a[1:2], a[:2], a[2:], a[:], a[1][2], (a).b, (a).*, (a).b[1] FROM t", true},
        {"SELECT (t.c).f, (f(x)).g, ($1).h FROM t", true},
        {"SELECT CURRENT_DATE, CURRENT_TIME, CURRENT_TIME(3), CURRENT_TIMESTAMP, "
         "CURRENT_TIMESTAMP(2), LOCALTIME, LOCALTIME(1), LOCALTIMESTAMP, LOCALTIMESTAMP(4)",
         true},
        {"SELECT CURRENT_ROLE, CURRENT_USER, USER, SESSION_USER, CURRENT_CATALOG, "
         "CURRENT_SCHEMA",
         true},
        // Function calls.
        {"SELECT now(), pg_catalog.now(), lower(a), count(*), count(DISTINCT a) FROM t", true},
        {"SELECT sum(a) FILTER (WHERE a > 0), string_agg(a, ',' ORDER BY a DESC) FROM t", true},
        {"SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY a), mode() WITHIN GROUP "
         "(ORDER BY b) FROM t",
         true},
        {"SELECT concat_ws(',', VARIADIC ARRAY['a', 'b']), f(VARIADIC $1)", true},
        {"SELECT extract(year FROM ts), extract('epoch' FROM ts), date_part('day', ts) FROM t",
         true},
        {"SELECT substring(a FROM 1 FOR 2), substring(a, 1), position('a' IN b), "
         "trim(both 'x' FROM a), trim(leading FROM a), overlay(a placing 'b' from 2 for 3) "
         "FROM t",
         true},
        {"SELECT ts AT TIME ZONE 'UTC', a IS NORMALIZED, normalize(a, NFC) FROM t", true},
        {"SELECT coalesce(sum(a), 0)::bigint, max(b)::text FROM t GROUP BY c", true},
        {"SELECT f(a => 1)", false},  // NamedArgExpr
        {"SELECT xmlelement(name x, 'y')", false},
        {"SELECT grouping(a) FROM t GROUP BY a", false},  // GroupingFunc
        // Window functions.
        {"SELECT row_number() OVER (), rank() OVER (PARTITION BY a ORDER BY b DESC) FROM t", true},
        {"SELECT sum(x) OVER w, avg(x) OVER (w ORDER BY y) FROM t "
         "WINDOW w AS (PARTITION BY a), w2 AS (w)",
         true},
        {"SELECT sum(x) OVER (ORDER BY y ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM t", true},
        {"SELECT sum(x) OVER (ORDER BY y RANGE BETWEEN UNBOUNDED PRECEDING AND "
         "UNBOUNDED FOLLOWING) FROM t",
         true},
        {"SELECT sum(x) OVER (ORDER BY y GROUPS BETWEEN 2 PRECEDING AND 3 FOLLOWING "
         "EXCLUDE CURRENT ROW) FROM t",
         true},
        {"SELECT sum(x) OVER (ORDER BY d RANGE BETWEEN '1 day'::interval PRECEDING AND "
         "CURRENT ROW EXCLUDE TIES) FROM t",
         true},
        {"SELECT count(*) FILTER (WHERE a) OVER (PARTITION BY b ROWS UNBOUNDED PRECEDING "
         "EXCLUDE GROUP) FROM t",
         true},
        // Grouping.
        {"SELECT a, count(*) FROM t GROUP BY a HAVING count(*) > 1", true},
        {"SELECT a, b FROM t GROUP BY ROLLUP (a, b), CUBE (a, (b, c))", true},
        {"SELECT a, b FROM t GROUP BY GROUPING SETS ((a), (b), (), (a, b))", true},
        {"SELECT a FROM t GROUP BY DISTINCT a, ROLLUP (b)", true},
        {"SELECT count(*) FROM t GROUP BY ()", true},
        // Sorting, limits, locking.
        {"SELECT a FROM t ORDER BY a ASC NULLS FIRST, b DESC NULLS LAST, c USING <, 1", true},
        {"SELECT a FROM t LIMIT 10 OFFSET 5", true},
        {"SELECT a FROM t LIMIT ALL", true},
        {"SELECT a FROM t LIMIT $1 OFFSET $2", true},
        {"SELECT a FROM t OFFSET 10 ROWS FETCH FIRST 5 ROWS ONLY", true},
        {"SELECT a FROM t ORDER BY a FETCH NEXT ROW WITH TIES", true},
        {"SELECT a FROM t FOR UPDATE", true},
        {"SELECT a FROM t FOR SHARE", true},
        {"SELECT a FROM t FOR NO KEY UPDATE", true},
        {"SELECT a FROM t FOR KEY SHARE SKIP LOCKED", true},
        {"SELECT a FROM t, u FOR UPDATE OF t NOWAIT FOR SHARE OF u", true},
        // Joins and FROM items.
        {"SELECT * FROM t JOIN u ON t.id = u.id", true},
        {"SELECT * FROM t INNER JOIN u ON true LEFT JOIN v ON v.a = u.a", true},
        {"SELECT * FROM t RIGHT OUTER JOIN u ON t.a = u.a FULL JOIN v ON v.b = u.b", true},
        {"SELECT * FROM t CROSS JOIN u NATURAL JOIN v NATURAL LEFT JOIN w", true},
        {"SELECT * FROM t JOIN u USING (id, k)", true},
        {"SELECT * FROM t JOIN u USING (id) AS j WHERE j.id = 1", true},
        {"SELECT * FROM (t JOIN u ON t.a = u.a) AS tu (x, y), v", true},
        {"SELECT * FROM (SELECT 1) AS s, (SELECT a, b FROM t) s2(x, y)", true},
        {"SELECT * FROM t, LATERAL (SELECT * FROM u WHERE u.a = t.a) l", true},
        {"SELECT * FROM generate_series(1, 10) AS g(i)", true},
        {"SELECT * FROM unnest($1::int[]) WITH ORDINALITY AS u(v, n)", true},
        {"SELECT * FROM ROWS FROM (generate_series(1, 2), generate_series(1, 3)) AS r", true},
        {"SELECT * FROM t, LATERAL f(t.a) WITH ORDINALITY", true},
        {"SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS v(x, y)", true},
        {"SELECT * FROM f() AS (a int)", false},  // column definition list: ColumnDef
        {"SELECT * FROM t TABLESAMPLE bernoulli (10)", false},
        // Set operations and VALUES.
        {"SELECT 1 UNION SELECT 2", true},
        {"SELECT a FROM t UNION ALL SELECT a FROM u ORDER BY 1 LIMIT 3", true},
        {"SELECT a FROM t INTERSECT SELECT a FROM u EXCEPT SELECT a FROM v", true},
        {"(SELECT a FROM t LIMIT 1) UNION (SELECT b FROM u ORDER BY b) INTERSECT ALL "
         "SELECT 3 EXCEPT ALL SELECT 4",
         true},
        {"VALUES (1, 'a'), (2, 'b') ORDER BY 1", true},
        {"VALUES (1), (NULL), (DEFAULT)", true},
        // Common table expressions.
        {"WITH x AS (SELECT 1 AS a) SELECT * FROM x", true},
        {"WITH x(a) AS MATERIALIZED (SELECT 1), y AS NOT MATERIALIZED (SELECT 2) "
         "SELECT * FROM x, y",
         true},
        {"WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 10) "
         "SELECT * FROM r",
         true},
        {"WITH d AS (DELETE FROM t WHERE a < 0 RETURNING *) INSERT INTO u SELECT * FROM d", true},
        {"WITH u AS (UPDATE t SET a = 1 RETURNING id), i AS (INSERT INTO v VALUES (1) "
         "RETURNING id) SELECT * FROM u, i",
         true},
        {"WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r) "
         "SEARCH DEPTH FIRST BY n SET ord SELECT * FROM r",
         false},
        {"WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r) "
         "CYCLE n SET is_cycle USING path SELECT * FROM r",
         false},
        // INSERT.
        {"INSERT INTO t VALUES (1, 'a')", true},
        {"INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4), (5, DEFAULT)", true},
        {"INSERT INTO t DEFAULT VALUES", true},
        {"INSERT INTO t SELECT * FROM u WHERE u.a > 1", true},
        // Shapes the router reads for co-located subqueries, ORs of keys and INSERT ... SELECT.
        {"INSERT INTO t (a, k) SELECT x.a, x.k FROM x JOIN y USING (k) WHERE x.k = 1 OR (x.k = 2 "
         "AND y.b) "
         "ON CONFLICT (k) DO UPDATE SET a = excluded.a RETURNING k",
         true},
        {"SELECT * FROM t u WHERE u.k IN (SELECT k FROM v GROUP BY k HAVING count(*) > 1) AND "
         "EXISTS "
         "(SELECT 1 FROM w AS ww JOIN z AS zz ON zz.k = ww.k WHERE ww.k = u.k) AND u.k = ANY "
         "(SELECT k FROM q)",
         true},
        {"UPDATE t SET a = (SELECT max(b) FROM u WHERE u.k = t.k) WHERE k = 1 OR k = 2", true},
        {"SELECT * FROM (t JOIN u USING (k)) AS j, LATERAL generate_series(1, j.k) AS g(n)", true},
        {"INSERT INTO s.t AS x (a, b) VALUES (1, 2) RETURNING *", true},
        {"INSERT INTO t (a) VALUES (1) RETURNING id, a AS x, a + 1", true},
        {"INSERT INTO t (a) OVERRIDING SYSTEM VALUE VALUES (1)", true},
        {"INSERT INTO t (a) OVERRIDING USER VALUE SELECT 1", true},
        {"INSERT INTO t (c[1], d.e) VALUES (1, 2)", true},
        {"INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING", true},
        {"INSERT INTO t VALUES (1) ON CONFLICT (id) DO NOTHING", true},
        {"INSERT INTO t (id, a) VALUES (1, 2) ON CONFLICT (id) DO UPDATE SET a = excluded.a", true},
        {"INSERT INTO t VALUES (1) ON CONFLICT ON CONSTRAINT t_pkey DO UPDATE SET a = 1 "
         "WHERE t.a < 5",
         true},
        {"INSERT INTO t VALUES (1) ON CONFLICT ((lower(a)) COLLATE \"C\" text_pattern_ops DESC "
         "NULLS LAST, b) WHERE b > 0 DO NOTHING",
         true},
        {"INSERT INTO t VALUES (1, 2) ON CONFLICT (a, b) DO UPDATE SET (a, b) = "
         "(excluded.a, excluded.b) RETURNING *",
         true},
        {"WITH s AS (SELECT 1 AS a) INSERT INTO t SELECT a FROM s", true},
        // UPDATE.
        {"UPDATE t SET a = 1 WHERE id = 2", true},
        {"UPDATE t SET a = a + 1, b = DEFAULT, c = NULL", true},
        {"UPDATE t SET (a, b) = (1, 2), c = 3", true},
        {"UPDATE t SET (a, b) = (SELECT x, y FROM u WHERE u.id = t.id)", true},
        {"UPDATE t SET (a, b) = ROW(1, 2)", true},
        {"UPDATE t SET a[1] = 2, c.f = 3, d[1:2] = '{1,2}'", true},
        {"UPDATE ONLY t AS x SET a = u.b FROM u, v WHERE x.id = u.id RETURNING x.*", true},
        {"UPDATE t SET a = $1 WHERE id = $2 AND version = $3 RETURNING version", true},
        {"WITH s AS (SELECT 1 AS id) UPDATE t SET a = 0 FROM s WHERE t.id = s.id", true},
        {"UPDATE t SET a = 1 WHERE CURRENT OF c", false},  // CurrentOfExpr
        // DELETE.
        {"DELETE FROM t WHERE id = 1", true},
        {"DELETE FROM t", true},
        {"DELETE FROM ONLY t AS x USING u, v WHERE x.id = u.id RETURNING *", true},
        {"DELETE FROM t WHERE id IN (SELECT id FROM u) RETURNING id, a", true},
        {"WITH s AS (SELECT 1 AS id) DELETE FROM t USING s WHERE t.id = s.id", true},
        // Transaction control.
        {"BEGIN", true},
        {"BEGIN WORK", true},
        {"BEGIN ISOLATION LEVEL SERIALIZABLE", true},
        {"BEGIN READ ONLY, ISOLATION LEVEL READ COMMITTED", true},
        {"BEGIN TRANSACTION DEFERRABLE", true},
        {"START TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ WRITE", true},
        {"START TRANSACTION ISOLATION LEVEL READ UNCOMMITTED NOT DEFERRABLE", true},
        {"COMMIT", true},
        {"COMMIT AND CHAIN", true},
        {"END", true},
        {"ROLLBACK", true},
        {"ABORT", true},
        {"ROLLBACK AND NO CHAIN", true},
        {"SAVEPOINT s1", true},
        {"RELEASE SAVEPOINT s1", true},
        {"RELEASE s1", true},
        {"ROLLBACK TO SAVEPOINT s1", true},
        {"ROLLBACK TO s1", true},
        {"PREPARE TRANSACTION 'tx1'", true},
        {"COMMIT PREPARED 'tx1'", true},
        {"ROLLBACK PREPARED 'tx1'", true},
        // SET, RESET, SHOW.
        {"SET search_path TO a, \"B\", public", true},
        {"SET search_path = default", true},
        {"SET LOCAL statement_timeout = '5s'", true},
        {"SET SESSION work_mem TO 65536", true},
        {"SET extra_float_digits = 3", true},
        {"SET x.y = -1.5", true},
        {"SET shardgate.shard = 's1'", true},
        {"SET application_name = 'app'", true},
        {"SET TIME ZONE 'UTC'", true},
        {"SET TIME ZONE LOCAL", true},
        {"SET TIME ZONE INTERVAL '+00:00' HOUR TO MINUTE", true},
        {"SET timezone TO DEFAULT", true},
        {"SET enable_seqscan = off", true},
        {"SET standard_conforming_strings = on", true},
        {"SET work_mem FROM CURRENT", true},
        {"SET NAMES 'UTF8'", true},
        {"SET ROLE admin", true},
        {"SET ROLE NONE", true},
        {"SET SESSION AUTHORIZATION DEFAULT", true},
        {"SET SCHEMA 'x'", true},
        {"SET TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY", true},
        {"SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED", true},
        {"SET TRANSACTION SNAPSHOT '00000003-0000001B-1'", true},
        {"RESET ALL", true},
        {"RESET work_mem", true},
        {"RESET TIME ZONE", true},
        {"SHOW search_path", true},
        {"SHOW ALL", true},
        {"SHOW TIME ZONE", true},
        {"SHOW TRANSACTION ISOLATION LEVEL", true},
        {"SHOW \"Quoted\"", true},
        // Several statements, comments, empty text.
        {"SELECT 1; SELECT 2", true},
        {"BEGIN; UPDATE t SET a = 1 WHERE id = 2; COMMIT;", true},
        {"  -- a comment\n SELECT 1 /* c */ ;  ", true},
        {"SELECT 1;;; SELECT 2;", true},
        {"", true},
        {";", true},
        {"-- only a comment", true},
        {"/* shardgate.shard=s2 */ SELECT * FROM t WHERE id = 1", true},
        {"SELECT 1; CREATE TABLE x (a int)", false},
        {"CREATE TABLE x (a int); SELECT 1", false},
        // Left to the protobuf path.
        {"CREATE TABLE t (id bigint PRIMARY KEY, a text NOT NULL DEFAULT '')", false},
        {"CREATE TEMP TABLE t AS SELECT 1", false},
        {"CREATE INDEX ON t (a)", false},
        {"ALTER TABLE t ADD COLUMN b int", false},
        {"DROP TABLE t, u CASCADE", false},
        {"TRUNCATE t", false},
        {"COPY t FROM STDIN", false},
        {"COPY (SELECT 1) TO STDOUT WITH (FORMAT csv)", false},
        {"EXPLAIN SELECT 1", false},
        {"EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM t WHERE a = 1", false},
        {"PREPARE p (int) AS SELECT $1", false},
        {"EXECUTE p (1)", false},
        {"DEALLOCATE p", false},
        {"DECLARE c CURSOR FOR SELECT 1", false},
        {"FETCH 10 FROM c", false},
        {"CLOSE c", false},
        {"LISTEN ch", false},
        {"NOTIFY ch, 'x'", false},
        {"DISCARD ALL", false},
        {"LOCK TABLE t IN ACCESS EXCLUSIVE MODE", false},
        {"VACUUM ANALYZE t", false},
        {"CALL p(1)", false},
        {"DO $$ BEGIN END $$", false},
        {"SELECT 1 INTO x", false},
        {"MERGE INTO t USING u ON t.id = u.id WHEN MATCHED THEN DELETE", false},
        {"SET CONSTRAINTS ALL DEFERRED", false},
        {"GRANT SELECT ON t TO r", false},
    };
    return cases;
}

TEST(RawTree, ConvertsLikeLibpgQueryByteForByte) {
    size_t fast = 0;
    for (const Case& c : corpus()) {
        SCOPED_TRACE(c.sql);
        const Reference ref = reference(c.sql);
        TestArena arena;
        auto tree = parse_raw_tree(c.sql, arena.allocator());
        ASSERT_FALSE(ref.error) << ref.message;
        ASSERT_TRUE(tree) << tree.error().message;
        EXPECT_EQ(*tree != nullptr, c.fast) << "fast path taken: " << (*tree != nullptr);
        if (*tree == nullptr) continue;
        ++fast;
        EXPECT_EQ(pack(**tree), ref.bytes);
        EXPECT_EQ(same_tree(ref.bytes, **tree), "");
    }
    EXPECT_GE(corpus().size(), 150u);
    EXPECT_GE(fast, 150u);
}

// parse_sql() gives the same tree whichever path a statement takes.
TEST(RawTree, ParseSqlMatchesTheProtobufPath) {
    for (const Case& c : corpus()) {
        SCOPED_TRACE(c.sql);
        const Reference ref = reference(c.sql);
        auto tree = parse_sql(c.sql);
        ASSERT_TRUE(tree) << tree.error().message;
        EXPECT_EQ(pack(tree->result()), ref.bytes);
        EXPECT_EQ(same_tree(ref.bytes, tree->result()), "");
    }
}

// The comparisons above notice a one-field difference (so a wrong conversion cannot pass).
TEST(RawTree, ComparisonSeesOneChangedField) {
    const char* sql = "SELECT a FROM t WHERE id = 1";
    const Reference ref = reference(sql);
    TestArena arena;
    auto tree = parse_raw_tree(sql, arena.allocator());
    ASSERT_TRUE(tree && *tree != nullptr);
    ASSERT_EQ(pack(**tree), ref.bytes);
    PgQuery__SelectStmt* select = (*tree)->stmts[0]->stmt->select_stmt;
    select->where_clause->a_expr->location += 1;
    EXPECT_NE(pack(**tree), ref.bytes);
    EXPECT_NE(same_tree(ref.bytes, **tree), "");
    select->where_clause->a_expr->location -= 1;
    select->from_clause[0]->range_var->schemaname = nullptr;  // packs alike, unpacks as ""
    EXPECT_EQ(pack(**tree), ref.bytes);
    EXPECT_NE(same_tree(ref.bytes, **tree), "");
}

TEST(RawTree, VersionIsLibpgQuerys) {
    TestArena arena;
    auto tree = parse_raw_tree("SELECT 1", arena.allocator());
    ASSERT_TRUE(tree && *tree != nullptr);
    EXPECT_EQ((*tree)->version, PG_VERSION_NUM);
    EXPECT_EQ((*tree)->version, 150001);
}

}  // namespace
}  // namespace sg::router
