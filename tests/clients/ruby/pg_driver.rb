# Driver matrix: Ruby pg (Debian's ruby-pg) doing what an application does, through the target
# in PG* variables. SG_S0 / SG_S1: comma-separated keys on shard s0 / s1. Each case checks its
# answers and raises on a wrong one (exit 1); the final rows are checked on the shards by
# tests/integration/test_driver_ruby.py.
require "pg"
require "json"

S0 = ENV.fetch("SG_S0").split(",").map(&:to_i)
S1 = ENV.fetch("SG_S1").split(",").map(&:to_i)

def check(what, got, want)
  raise "#{what}: got #{got.inspect}, want #{want.inspect}" unless got == want
end

def connect
  PG.connect(application_name: "ruby-pg-test")
end

conn = connect
conn.exec("DROP TABLE IF EXISTS accounts")
conn.exec("CREATE TABLE accounts (id bigint PRIMARY KEY, owner text NOT NULL, balance bigint NOT NULL DEFAULT 0)")

# CRUD by key, with a named prepared statement reused.
keys = S0.first(3) + S1.first(3)
keys.each { |k| conn.exec_params("INSERT INTO accounts (id, owner, balance) VALUES ($1, $2, $3)", [k, "o#{k}", 100]) }
conn.prepare("get", "SELECT owner, balance FROM accounts WHERE id = $1")
keys.each { |k| check("get #{k}", conn.exec_prepared("get", [k]).values, [["o#{k}", "100"]]) }
check("update", conn.exec_params("UPDATE accounts SET owner = $1 WHERE id = $2", ["renamed", S1[2]]).cmd_tuples, 1)
check("delete", conn.exec_params("DELETE FROM accounts WHERE id = $1", [S0[2]]).cmd_tuples, 1)
check("count", conn.exec("SELECT count(*) FROM accounts").getvalue(0, 0), (keys.size - 1).to_s)

# A transaction over two shards: commit, then one rolled back by an exception.
conn.transaction do |c|
  c.exec_params("UPDATE accounts SET balance = balance - 30 WHERE id = $1", [S0[0]])
  c.exec_params("UPDATE accounts SET balance = balance + 30 WHERE id = $1", [S1[0]])
end
begin
  conn.transaction do |c|
    c.exec_params("UPDATE accounts SET balance = 0 WHERE id = $1", [S0[0]])
    c.exec_params("UPDATE accounts SET balance = 0 WHERE id = $1", [S1[0]])
    raise ArgumentError, "abort"
  end
rescue ArgumentError
end
check("after rollback", conn.exec_params("SELECT balance FROM accounts WHERE id = $1", [S0[0]]).getvalue(0, 0), "70")

# Savepoints: ROLLBACK TO undoes the statements after it on both shards.
conn.transaction do |c|
  c.exec_params("UPDATE accounts SET balance = balance + 1 WHERE id = $1", [S0[1]])
  c.exec("SAVEPOINT sp")
  c.exec_params("UPDATE accounts SET balance = 999 WHERE id = $1", [S1[1]])
  c.exec_params("UPDATE accounts SET balance = 999 WHERE id = $1", [S0[1]])
  c.exec("ROLLBACK TO SAVEPOINT sp")
  c.exec_params("UPDATE accounts SET balance = balance + 2 WHERE id = $1", [S1[1]])
end

# A unique violation: PG::UniqueViolation, the transaction failed until ROLLBACK, then usable.
conn.exec("BEGIN")
conn.exec_params("UPDATE accounts SET balance = balance + 5 WHERE id = $1", [S0[0]])
err = nil
begin
  conn.exec_params("INSERT INTO accounts (id, owner) VALUES ($1, 'dup')", [S1[0]])
rescue PG::UniqueViolation => e
  err = e
end
check("unique violation sqlstate", err && err.result.error_field(PG::Result::PG_DIAG_SQLSTATE), "23505")
failed = begin
  conn.exec("SELECT 1")
  nil
rescue PG::InFailedSqlTransaction => e
  e.class.name
end
check("failed transaction", failed, "PG::InFailedSqlTransaction")
conn.exec("ROLLBACK")
check("usable again", conn.exec("SELECT 2").getvalue(0, 0), "2")

# A multi-row INSERT over both shards with one failing row applies nothing.
bad = "INSERT INTO accounts (id, owner) VALUES (#{S0[2]}, 'n'), (#{S1[3]}, 'n'), (#{S1[0]}, 'dup')"
begin
  conn.exec(bad)
  raise "the duplicate was accepted"
rescue PG::UniqueViolation
end
check("nothing applied", conn.exec("SELECT count(*) FROM accounts WHERE owner = 'n'").getvalue(0, 0), "0")

# A cursor in a transaction, declared on s1, fetched after a statement on s0.
conn.transaction do |c|
  c.exec("DECLARE cur CURSOR FOR SELECT id FROM accounts WHERE id IN (#{S1[0]}, #{S1[1]}) ORDER BY id")
  first = c.exec("FETCH 1 FROM cur").values
  c.exec_params("UPDATE accounts SET owner = owner WHERE id = $1", [S0[0]])
  rest = c.exec("FETCH ALL FROM cur").values
  check("cursor rows", (first + rest).flatten.map(&:to_i), [S1[0], S1[1]].sort)
  c.exec("CLOSE cur")
end

# COPY both ways over both shards.
conn.copy_data("COPY accounts (id, owner, balance) FROM STDIN") do
  [S0[3], S1[4]].each { |k| conn.put_copy_data("#{k}\tcopied\t7\n") }
end
out = +""
conn.copy_data("COPY accounts (id, owner) TO STDOUT") do
  while (row = conn.get_copy_data)
    out << row
  end
end
check("copy out rows", out.lines.size, keys.size - 1 + 2)

# LISTEN/NOTIFY (one LISTEN sent as a simple query, one with exec_params: the extended
# protocol): a NOTIFY from another connection arrives with its payload; after UNLISTEN only the
# channel still listened on is heard.
listener = connect
listener.exec("LISTEN ruby_ch")
listener.exec_params("LISTEN ruby_sync", [])
heard = lambda do
  got = nil
  listener.wait_for_notify(10) { |channel, _pid, payload| got = [channel, payload] }
  got
end
conn.exec_params("SELECT pg_notify($1, $2)", ["ruby_ch", "hello"])
check("notification", heard.call, ["ruby_ch", "hello"])
listener.exec("UNLISTEN ruby_ch")
conn.exec("NOTIFY ruby_ch, 'after UNLISTEN'")
conn.exec("NOTIFY ruby_sync, 'last'")
check("after UNLISTEN", heard.call, ["ruby_sync", "last"])
listener.close

# 24 threads, each with its own connection, moving money between the shards.
threads = (0...24).map do |t|
  Thread.new do
    rnd = Random.new(t)
    c = connect
    3.times do
      amount = rnd.rand(-20..20)
      moves = [[S0.first(2).sample(random: rnd), -amount], [S1.first(2).sample(random: rnd), amount]].sort
      c.transaction do |tx|
        moves.each { |k, d| tx.exec_params("UPDATE accounts SET balance = balance + $1 WHERE id = $2", [d, k]) }
      end
    end
    c.close
  end
end
threads.each(&:join)

puts JSON.generate({ "total" => conn.exec("SELECT sum(balance) FROM accounts").getvalue(0, 0).to_i })
conn.close
