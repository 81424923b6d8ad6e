// A JDBC application's transactions spanning shards (issue 18): run by
// tests/integration/test_txn_jdbc.py against a 4-shard proxy. Arguments: URL and four keys,
// one per shard. Prints the SQLSTATEs it saw as one line; the test checks the shards.
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Savepoint;

public class CrossShardTxn {
    public static void main(String[] args) throws Exception {
        String url = args[0];
        long[] k = new long[4];
        for (int i = 0; i < 4; i++) k[i] = Long.parseLong(args[i + 1]);
        StringBuilder states = new StringBuilder();
        try (Connection c = DriverManager.getConnection(url)) {
            c.setAutoCommit(false);
            try (PreparedStatement ins = c.prepareStatement("INSERT INTO items (id, val) VALUES (?, ?)")) {
                // 1: committed, with a savepoint rolled back on the way.
                for (int i = 0; i < 2; i++) {
                    ins.setLong(1, k[i]);
                    ins.setInt(2, 1);
                    ins.executeUpdate();
                }
                Savepoint sp = c.setSavepoint("sp");
                ins.setLong(1, k[2]);
                ins.setInt(2, 1);
                ins.executeUpdate();
                c.rollback(sp);
                ins.setLong(1, k[3]);
                ins.setInt(2, 1);
                ins.executeUpdate();
                c.commit();
                // 2: rolled back.
                ins.setLong(1, k[2]);
                ins.setInt(2, 2);
                ins.executeUpdate();
                ins.setLong(1, k[0] + 1000000);
                ins.setInt(2, 2);
                ins.executeUpdate();
                c.rollback();
                // 3: fails on one shard (duplicate key): nothing of it stays.
                ins.setLong(1, k[2]);
                ins.setInt(2, 3);
                ins.executeUpdate();
                try {
                    ins.setLong(1, k[0]);
                    ins.setInt(2, 3);
                    ins.executeUpdate();
                } catch (SQLException e) {
                    states.append(e.getSQLState());
                }
                try {
                    ins.setLong(1, k[1] + 1000000);
                    ins.setInt(2, 3);
                    ins.executeUpdate();
                } catch (SQLException e) {
                    states.append(' ').append(e.getSQLState());
                }
                c.rollback();
            }
        }
        System.out.println(states);
    }
}
