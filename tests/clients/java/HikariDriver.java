// The driver matrix's JDBC application (tests/integration/test_driver_jdbc.py): Debian's
// pgjdbc behind Debian's HikariCP, against the proxy over 2 shards (or one PostgreSQL).
//
// What an application does: the schema through the driver, CRUD by key with prepared
// statements, a transaction moving money between a key on each shard (committed, and one
// rolled back), a savepoint rolled back to, a duplicate key as PSQLException 23505 with the
// transaction failed (25P02) until ROLLBACK, 24 threads on a pool of 20 each running
// transactions over both shards, and LISTEN / NOTIFY with PGConnection.getNotifications
// (a LISTEN outside a transaction, one inside a transaction that commits and one that rolls
// back). Keys come from SG_S0 / SG_S1 (on shard 0 / 1); connection from PG* variables.
// Prints one JSON line: {"total": ..., "notifications": [...]}; exits non-zero on any
// unexpected answer.

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.postgresql.util.PSQLException;

public class HikariDriver {
    static void check(boolean ok, String what) {
        if (!ok) throw new AssertionError(what);
    }

    static long[] keys(String env) {
        String[] parts = System.getenv(env).split(",");
        long[] out = new long[parts.length];
        for (int i = 0; i < parts.length; i++) out[i] = Long.parseLong(parts[i]);
        return out;
    }

    static long balance(Connection c, long id) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT balance FROM accounts WHERE id = ?")) {
            ps.setLong(1, id);
            try (ResultSet rs = ps.executeQuery()) {
                check(rs.next(), "account " + id + " missing");
                return rs.getLong(1);
            }
        }
    }

    static void move(Connection c, long from, long to, long amount) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("UPDATE accounts SET balance = balance + ? WHERE id = ?")) {
            ps.setLong(1, -amount);
            ps.setLong(2, from);
            check(ps.executeUpdate() == 1, "debit " + from);
            ps.setLong(1, amount);
            ps.setLong(2, to);
            check(ps.executeUpdate() == 1, "credit " + to);
        }
    }

    static List<String> take(PGConnection pg, int want, int timeoutMs) throws SQLException {
        List<String> got = new ArrayList<>();
        long deadline = System.currentTimeMillis() + timeoutMs;
        while (got.size() < want) {
            int left = (int) (deadline - System.currentTimeMillis());
            if (left <= 0) break;
            PGNotification[] ns = pg.getNotifications(left);
            if (ns == null) continue;
            for (PGNotification n : ns) got.add(n.getName() + ":" + n.getParameter());
        }
        return got;
    }

    public static void main(String[] args) {
        try {
            run();
        } catch (Throwable e) {
            e.printStackTrace();
            System.exit(1);
        }
        System.exit(0);  // (HikariCP's housekeeping threads must not keep the JVM up)
    }

    static void run() throws Exception {
        long[] s0 = keys("SG_S0");
        long[] s1 = keys("SG_S1");
        HikariConfig cfg = new HikariConfig();
        cfg.setJdbcUrl("jdbc:postgresql://" + System.getenv("PGHOST") + ":" + System.getenv("PGPORT") + "/"
                       + System.getenv("PGDATABASE") + "?sslmode=disable");
        cfg.setUsername(System.getenv("PGUSER"));
        cfg.setPassword(System.getenv("PGPASSWORD"));
        cfg.setMaximumPoolSize(20);
        cfg.setConnectionTimeout(20000);
        try (HikariDataSource ds = new HikariDataSource(cfg)) {
            try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
                st.execute("DROP TABLE IF EXISTS accounts");
                st.execute("CREATE TABLE accounts (id bigint PRIMARY KEY, owner text NOT NULL, "
                           + "balance bigint NOT NULL DEFAULT 0)");
            }
            // CRUD by key.
            try (Connection c = ds.getConnection();
                 PreparedStatement ins = c.prepareStatement("INSERT INTO accounts (id, owner, balance) VALUES (?, ?, 100)")) {
                for (long k : new long[] {s0[0], s0[1], s1[0], s1[1]}) {
                    ins.setLong(1, k);
                    ins.setString(2, "owner" + k);
                    check(ins.executeUpdate() == 1, "insert " + k);
                }
                try (PreparedStatement up = c.prepareStatement("UPDATE accounts SET owner = ? WHERE id = ?")) {
                    up.setString(1, "renamed");
                    up.setLong(2, s1[1]);
                    check(up.executeUpdate() == 1, "rename");
                }
                try (PreparedStatement q = c.prepareStatement("SELECT owner FROM accounts WHERE id = ?")) {
                    q.setLong(1, s1[1]);
                    try (ResultSet rs = q.executeQuery()) {
                        check(rs.next() && rs.getString(1).equals("renamed"), "read back");
                    }
                }
            }
            // A transaction over both shards: committed, then one rolled back, then a savepoint.
            try (Connection c = ds.getConnection()) {
                c.setAutoCommit(false);
                move(c, s0[0], s1[0], 10);
                c.commit();
                move(c, s0[0], s1[0], 50);
                c.rollback();
                move(c, s1[0], s0[0], 5);
                Savepoint sp = c.setSavepoint("sp");
                move(c, s0[1], s1[1], 30);
                c.rollback(sp);
                c.commit();
                check(balance(c, s0[0]) == 95 && balance(c, s1[0]) == 105, "balances after the transactions");
                c.commit();
                // A duplicate key: 23505, then 25P02 until ROLLBACK.
                try (PreparedStatement ins = c.prepareStatement("INSERT INTO accounts (id, owner) VALUES (?, 'dup')")) {
                    move(c, s0[1], s1[1], 1);
                    ins.setLong(1, s0[0]);
                    String state = "";
                    try {
                        ins.executeUpdate();
                    } catch (PSQLException e) {
                        state = e.getSQLState();
                    }
                    check(state.equals("23505"), "duplicate key: " + state);
                    try {
                        balance(c, s1[1]);
                        state = "";
                    } catch (PSQLException e) {
                        state = e.getSQLState();
                    }
                    check(state.equals("25P02"), "failed transaction: " + state);
                    c.rollback();
                }
                c.setAutoCommit(true);
            }
            // 24 threads on the pool of 20, each moving money both ways between the shards.
            ExecutorService pool = Executors.newFixedThreadPool(24);
            List<Future<Void>> jobs = new ArrayList<>();
            for (int t = 0; t < 24; t++) {
                final int n = t;
                jobs.add(pool.submit(() -> {
                    for (int i = 0; i < 8; i++) {
                        try (Connection c = ds.getConnection()) {
                            c.setAutoCommit(false);
                            // Rows always locked in one order (s0's, then s1's): no deadlock.
                            long amount = (n + i) % 2 == 0 ? 1 : -1;
                            move(c, s0[1], s1[1], amount);
                            move(c, s0[1], s1[1], -amount);
                            c.commit();
                            c.setAutoCommit(true);
                            balance(c, (n % 2 == 0) ? s0[0] : s1[0]);
                        }
                    }
                    return null;
                }));
            }
            try {
                for (Future<Void> f : jobs) f.get(120, TimeUnit.SECONDS);
            } finally {
                pool.shutdownNow();
            }
            // LISTEN / NOTIFY.
            List<String> notes;
            try (Connection l = ds.getConnection(); Connection n = ds.getConnection();
                 Statement ls = l.createStatement(); Statement ns = n.createStatement()) {
                PGConnection pg = l.unwrap(PGConnection.class);
                ls.execute("LISTEN jdbc_plain");
                l.setAutoCommit(false);
                ls.execute("LISTEN jdbc_committed");
                l.commit();
                ls.execute("LISTEN jdbc_rolled_back");
                l.rollback();
                l.setAutoCommit(true);
                ns.execute("NOTIFY jdbc_rolled_back, 'no'");
                ns.execute("NOTIFY jdbc_plain, 'one'");
                n.setAutoCommit(false);
                ns.execute("NOTIFY jdbc_committed, 'two'");
                n.commit();
                n.setAutoCommit(true);
                notes = take(pg, 2, 10000);
                notes.addAll(take(pg, 1, 300));  // nothing more
                ls.execute("UNLISTEN *");
            }
            long total = 0;
            try (Connection c = ds.getConnection(); Statement st = c.createStatement();
                 ResultSet rs = st.executeQuery("SELECT sum(balance) FROM accounts")) {
                check(rs.next(), "sum");
                total = rs.getLong(1);
            }
            StringBuilder out = new StringBuilder("{\"total\": " + total + ", \"notifications\": [");
            for (int i = 0; i < notes.size(); i++) out.append(i > 0 ? ", " : "").append('"').append(notes.get(i)).append('"');
            System.out.println(out.append("]}"));
        }
    }
}
