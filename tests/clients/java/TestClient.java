// JDBC (Debian's pgjdbc) client for tests/integration/test_client_jdbc.py.
//
//   java -cp CLASSES:/usr/share/java/postgresql.jar TestClient <case> <jdbc-url>
//
// User and password come from PGUSER / PGPASSWORD. One case runs per invocation and prints
// what it observed as one JSON object on stdout; the Python test asserts the answers.

import java.math.BigDecimal;
import java.sql.Array;
import java.sql.BatchUpdateException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Statement;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import org.postgresql.PGStatement;

public final class TestClient {
    private static String url;
    // Tables are named per run so cases never collide with one another.
    private static final String SUFFIX = Long.toString(ProcessHandle.current().pid());

    private static Connection connect(String extraParams) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", System.getenv("PGUSER"));
        p.setProperty("password", System.getenv("PGPASSWORD"));
        p.setProperty("connectTimeout", "10");
        p.setProperty("socketTimeout", "60");
        String u = url + (extraParams.isEmpty() ? "" : (url.contains("?") ? "&" : "?") + extraParams);
        return DriverManager.getConnection(u, p);
    }

    private static void exec(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }

    private static long queryLong(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static String sqlState(ThrowingRunnable r) {
        try {
            r.run();
            return null;
        } catch (SQLException e) {
            return e.getSQLState();
        }
    }

    interface ThrowingRunnable {
        void run() throws SQLException;
    }

    // A PreparedStatement executed past prepareThreshold switches to a named server-side
    // statement; it must keep answering correctly, in and out of transactions.
    static Map<String, Object> prepared() throws SQLException {
        Map<String, Object> out = new LinkedHashMap<>();
        try (Connection c = connect("prepareThreshold=1")) {
            exec(c, "CREATE TABLE prep_" + SUFFIX + " (id int PRIMARY KEY, v text)");
            long sum = 0;
            boolean serverPrepared = false;
            try (PreparedStatement ps = c.prepareStatement("SELECT ?::int * 2, ? || '!'")) {
                for (int i = 0; i < 50; i++) {
                    ps.setInt(1, i);
                    ps.setString(2, "x" + i);
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        sum += rs.getInt(1);
                        if (!rs.getString(2).equals("x" + i + "!")) {
                            throw new IllegalStateException("wrong text for " + i);
                        }
                    }
                }
                serverPrepared = ps.unwrap(PGStatement.class).isUseServerPrepare();
            }
            c.setAutoCommit(false);
            try (PreparedStatement ins = c.prepareStatement("INSERT INTO prep_" + SUFFIX + " VALUES (?, ?)")) {
                for (int i = 0; i < 30; i++) {
                    ins.setInt(1, i);
                    ins.setString(2, "v" + i);
                    ins.executeUpdate();
                    if (i % 10 == 9) {
                        c.commit();   // the statement outlives each transaction
                    }
                }
            }
            c.setAutoCommit(true);
            out.put("sum", sum);
            out.put("serverPrepared", serverPrepared);
            out.put("rows", queryLong(c, "SELECT count(*) FROM prep_" + SUFFIX));
            out.put("idSum", queryLong(c, "SELECT sum(id) FROM prep_" + SUFFIX));
        }
        return out;
    }

    static Map<String, Object> batchWith(String params, String table) throws SQLException {
        Map<String, Object> out = new LinkedHashMap<>();
        try (Connection c = connect(params)) {
            exec(c, "CREATE TABLE " + table + " (id int PRIMARY KEY, name text, amount numeric)");
            c.setAutoCommit(false);
            int[] counts;
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + table + " VALUES (?, ?, ?)")) {
                for (int i = 1; i <= 1000; i++) {
                    ps.setInt(1, i);
                    ps.setString(2, "name " + i);
                    ps.setBigDecimal(3, new BigDecimal(i).movePointLeft(2));
                    ps.addBatch();
                }
                counts = ps.executeBatch();
            }
            c.commit();
            long updated = 0;
            for (int n : counts) {
                updated += n == Statement.SUCCESS_NO_INFO ? 1 : n;
            }
            out.put("batchEntries", counts.length);
            out.put("updated", updated);
            out.put("rows", queryLong(c, "SELECT count(*) FROM " + table));
            try (Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("SELECT sum(amount)::text FROM " + table)) {
                rs.next();
                out.put("amount", rs.getString(1));
            }
            // A batch with a duplicate key fails as a whole inside its transaction.
            String state = null;
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + table + " VALUES (?, ?, ?)")) {
                for (int id : new int[] {2001, 2002, 5}) {
                    ps.setInt(1, id);
                    ps.setString(2, "dup");
                    ps.setBigDecimal(3, BigDecimal.ONE);
                    ps.addBatch();
                }
                ps.executeBatch();
            } catch (BatchUpdateException e) {
                state = e.getSQLState();
                c.rollback();
            }
            c.setAutoCommit(true);
            out.put("duplicateState", state);
            out.put("rowsAfterFailedBatch", queryLong(c, "SELECT count(*) FROM " + table));
        }
        return out;
    }

    static Map<String, Object> batch() throws SQLException {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("plain", batchWith("", "batch_" + SUFFIX));
        out.put("rewritten", batchWith("reWriteBatchedInserts=true", "batchrw_" + SUFFIX));
        return out;
    }

    static Map<String, Object> transactions() throws SQLException {
        Map<String, Object> out = new LinkedHashMap<>();
        String t = "tx_" + SUFFIX;
        try (Connection c = connect("")) {
            exec(c, "CREATE TABLE " + t + " (v int)");
            c.setAutoCommit(false);
            exec(c, "INSERT INTO " + t + " VALUES (1)");
            c.rollback();
            exec(c, "INSERT INTO " + t + " VALUES (2)");
            Savepoint sp = c.setSavepoint("sp");
            exec(c, "INSERT INTO " + t + " VALUES (3)");
            c.rollback(sp);
            exec(c, "INSERT INTO " + t + " VALUES (4)");
            c.commit();
            exec(c, "INSERT INTO " + t + " VALUES (5)");
            List<String> states = new ArrayList<>();
            states.add(sqlState(() -> exec(c, "SELECT 1/0")));
            states.add(sqlState(() -> exec(c, "INSERT INTO " + t + " VALUES (6)")));
            c.rollback();
            c.setAutoCommit(true);
            List<Integer> values = new ArrayList<>();
            try (Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("SELECT v FROM " + t + " ORDER BY v")) {
                while (rs.next()) {
                    values.add(rs.getInt(1));
                }
            }
            out.put("values", values);
            out.put("states", states);
            c.setTransactionIsolation(Connection.TRANSACTION_SERIALIZABLE);
            c.setAutoCommit(false);
            try (Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("SHOW transaction_isolation")) {
                rs.next();
                out.put("isolation", rs.getString(1));
            }
            c.commit();
        }
        return out;
    }

    // Binary transfer: with prepareThreshold=-1 the driver prepares up front and asks for
    // binary results for the types it can decode; values must survive both ways.
    static Map<String, Object> binary() throws SQLException {
        Map<String, Object> out = new LinkedHashMap<>();
        try (Connection c = connect("prepareThreshold=-1&binaryTransfer=true")) {
            List<Map<String, Object>> runs = new ArrayList<>();
            String sql = "SELECT ?::int4, ?::int8, ?::float8, ?::numeric, ?::timestamptz, ?::date,"
                + " ?::bytea, ?::uuid, ?::int4[], ?::text, ?::bool, ?::int2";
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                for (int run = 0; run < 3; run++) {
                    ps.setInt(1, -123456 - run);
                    ps.setLong(2, 1L << 53);
                    ps.setDouble(3, 2.5e-10);
                    ps.setBigDecimal(4, new BigDecimal("98765432109876543210.0123456789"));
                    ps.setObject(5, OffsetDateTime.of(2024, 1, 2, 3, 4, 5, 678_000_000, ZoneOffset.UTC));
                    ps.setObject(6, LocalDate.of(2024, 2, 29));
                    ps.setBytes(7, new byte[] {0, 1, (byte) 0x7f, (byte) 0x80, (byte) 0xff});
                    ps.setObject(8, UUID.fromString("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"));
                    ps.setArray(9, c.createArrayOf("int4", new Integer[] {1, null, 3}));
                    ps.setString(10, "grüße 世界");
                    ps.setBoolean(11, run % 2 == 0);
                    ps.setShort(12, (short) -7);
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        Map<String, Object> r = new LinkedHashMap<>();
                        r.put("int4", rs.getInt(1));
                        r.put("int8", rs.getLong(2));
                        r.put("float8", rs.getDouble(3));
                        r.put("numeric", rs.getBigDecimal(4).toPlainString());
                        r.put("timestamptz", rs.getObject(5, OffsetDateTime.class)
                            .withOffsetSameInstant(ZoneOffset.UTC).toString());
                        r.put("date", rs.getObject(6, LocalDate.class).toString());
                        StringBuilder hex = new StringBuilder();
                        for (byte b : rs.getBytes(7)) {
                            hex.append(String.format("%02x", b));
                        }
                        r.put("bytea", hex.toString());
                        r.put("uuid", rs.getObject(8).toString());
                        Array arr = rs.getArray(9);
                        List<Object> items = new ArrayList<>();
                        for (Object o : (Object[]) arr.getArray()) {
                            items.add(o);
                        }
                        r.put("array", items);
                        r.put("text", rs.getString(10));
                        r.put("bool", rs.getBoolean(11));
                        r.put("int2", rs.getShort(12));
                        runs.add(r);
                    }
                }
            }
            out.put("runs", runs);
        }
        return out;
    }

    static Map<String, Object> errors() throws SQLException {
        Map<String, Object> out = new LinkedHashMap<>();
        String t = "err_" + SUFFIX;
        try (Connection c = connect("prepareThreshold=1")) {
            exec(c, "CREATE TABLE " + t + " (k int PRIMARY KEY)");
            exec(c, "INSERT INTO " + t + " VALUES (1)");
            out.put("unique", sqlState(() -> exec(c, "INSERT INTO " + t + " VALUES (1)")));
            out.put("undefinedTable", sqlState(() -> exec(c, "SELECT * FROM no_such_table")));
            out.put("syntax", sqlState(() -> exec(c, "SELEC 1")));
            // A server-prepared statement failing at execution, then succeeding again.
            List<String> div = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement("SELECT 100 / ?::int")) {
                for (int d : new int[] {5, 0, 4, 0, 10}) {
                    ps.setInt(1, d);
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        div.add(Integer.toString(rs.getInt(1)));
                    } catch (SQLException e) {
                        div.add(e.getSQLState());
                    }
                }
            }
            out.put("division", div);
            out.put("product", c.getMetaData().getDatabaseProductName());
            try (ResultSet rs = c.getMetaData().getTables(null, "public", t, new String[] {"TABLE"})) {
                out.put("tableFound", rs.next() && rs.getString("TABLE_NAME").equals(t));
            }
        }
        return out;
    }

    // Against several shards (test_routing.py seeds table items): SELECTs the proxy combines
    // across shards, run as PreparedStatements past prepareThreshold, when the driver switches
    // to a named server statement and binary results.
    static Map<String, Object> fanout() throws SQLException {
        Map<String, Object> out = new LinkedHashMap<>();
        String[] queries = {
            "SELECT id, qty FROM items WHERE qty >= ? ORDER BY id DESC LIMIT 3",
            "SELECT qty, count(*), min(id) FROM items WHERE id > ? GROUP BY qty ORDER BY qty",
            "SELECT name FROM items WHERE id >= ? ORDER BY qty DESC, id LIMIT 2 OFFSET 1",
            "SELECT DISTINCT qty FROM items WHERE id > ? ORDER BY qty DESC",
        };
        try (Connection c = connect("prepareThreshold=3")) {
            int q = 0;
            for (String sql : queries) {
                List<String> answers = new ArrayList<>();
                boolean serverPrepared;
                try (PreparedStatement ps = c.prepareStatement(sql)) {
                    for (int i = 0; i < 6; i++) {
                        ps.setInt(1, 0);
                        StringBuilder sb = new StringBuilder();
                        try (ResultSet rs = ps.executeQuery()) {
                            int n = rs.getMetaData().getColumnCount();
                            while (rs.next()) {
                                for (int k = 1; k <= n; k++) sb.append(k > 1 ? ":" : "").append(rs.getString(k));
                                sb.append(' ');
                            }
                        }
                        answers.add(sb.toString().trim());
                    }
                    serverPrepared = ps.unwrap(PGStatement.class).isUseServerPrepare();
                }
                // Every execution, text or binary, must give the same answer.
                out.put("q" + q, answers.get(0));
                out.put("q" + q + "Stable", answers.stream().distinct().count() == 1);
                out.put("q" + q + "ServerPrepared", serverPrepared);
                ++q;
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT string_agg(name, ',' ORDER BY id) FROM items WHERE id > ?")) {
                ps.setInt(1, 0);
                out.put("refusedState", sqlState(() -> ps.executeQuery().close()));
            }
        }
        return out;
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: TestClient <case> <jdbc-url>");
            System.exit(2);
        }
        url = args[1];
        Map<String, Object> result;
        switch (args[0]) {
            case "prepared": result = prepared(); break;
            case "batch": result = batch(); break;
            case "transactions": result = transactions(); break;
            case "binary": result = binary(); break;
            case "errors": result = errors(); break;
            case "fanout": result = fanout(); break;
            default:
                System.err.println("unknown case " + args[0]);
                System.exit(2);
                return;
        }
        System.out.println(Json.write(result));
    }

    // Just enough JSON for the results above.
    static final class Json {
        static String write(Object o) {
            StringBuilder sb = new StringBuilder();
            append(sb, o);
            return sb.toString();
        }

        private static void append(StringBuilder sb, Object o) {
            if (o == null) {
                sb.append("null");
            } else if (o instanceof String) {
                sb.append('"');
                for (char ch : ((String) o).toCharArray()) {
                    if (ch == '"' || ch == '\\') {
                        sb.append('\\').append(ch);
                    } else if (ch < 0x20) {
                        sb.append(String.format("\\u%04x", (int) ch));
                    } else {
                        sb.append(ch);
                    }
                }
                sb.append('"');
            } else if (o instanceof Number || o instanceof Boolean) {
                sb.append(o);
            } else if (o instanceof Map) {
                sb.append('{');
                boolean first = true;
                for (Map.Entry<?, ?> e : ((Map<?, ?>) o).entrySet()) {
                    if (!first) {
                        sb.append(',');
                    }
                    first = false;
                    append(sb, e.getKey().toString());
                    sb.append(':');
                    append(sb, e.getValue());
                }
                sb.append('}');
            } else if (o instanceof List) {
                sb.append('[');
                boolean first = true;
                for (Object x : (List<?>) o) {
                    if (!first) {
                        sb.append(',');
                    }
                    first = false;
                    append(sb, x);
                }
                sb.append(']');
            } else {
                append(sb, o.toString());
            }
        }
    }
}
