# Driver matrix: ActiveRecord 6.1 (Debian's ruby-activerecord, with ruby-pg) doing what a Rails
# application does, through the target in PG* variables: a migration, CRUD by key (prepared
# statements, AR's default), a transaction over two shards, a nested transaction with
# requires_new (a savepoint), ActiveRecord::RecordNotUnique, and 24 threads on a pool of 20.
# SG_S0 / SG_S1: keys on shard s0 / s1. Checks its answers and raises on a wrong one (exit 1);
# prints {"total": ...}; tests/integration/test_driver_ruby.py checks the rows on the shards.
require "active_record"
require "json"

S0 = ENV.fetch("SG_S0").split(",").map(&:to_i)
S1 = ENV.fetch("SG_S1").split(",").map(&:to_i)

def check(what, got, want)
  raise "#{what}: got #{got.inspect}, want #{want.inspect}" unless got == want
end

ActiveRecord::Base.establish_connection(
  adapter: "postgresql", host: ENV["PGHOST"], port: ENV["PGPORT"].to_i, username: ENV["PGUSER"],
  password: ENV["PGPASSWORD"], database: ENV["PGDATABASE"], pool: 20, checkout_timeout: 30,
  prepared_statements: true
)

ActiveRecord::Migration.verbose = false
ActiveRecord::Schema.define do
  drop_table :accounts, if_exists: true
  # The key comes from the application: a serial/bigserial id (AR's default) would take its
  # values from a sequence on every shard, which the proxy refuses.
  create_table :accounts, id: false do |t|
    t.bigint :id, null: false
    t.text :owner, null: false
    t.bigint :balance, null: false, default: 0
  end
  execute "ALTER TABLE accounts ADD PRIMARY KEY (id)"
end

class Account < ActiveRecord::Base
  self.primary_key = "id"
end

keys = S0.first(2) + S1.first(2)
keys.each { |k| Account.create!(id: k, owner: "o#{k}", balance: 100) }
keys.each { |k| check("find #{k}", Account.find(k).owner, "o#{k}") }
Account.find(S1[1]).update!(owner: "renamed")

Account.transaction do
  Account.find(S0[0]).decrement!(:balance, 30)
  Account.find(S1[0]).increment!(:balance, 30)
end
Account.transaction do
  Account.where(id: [S0[0], S1[0]]).update_all(balance: 0)
  raise ActiveRecord::Rollback
end
Account.transaction do
  Account.find(S0[1]).increment!(:balance, 1)
  Account.transaction(requires_new: true) do
    Account.find(S1[1]).update!(balance: 999)
    raise ActiveRecord::Rollback
  end
  Account.find(S1[1]).increment!(:balance, 2)
end

dup = begin
  Account.transaction do
    Account.find(S0[0]).increment!(:balance, 5)
    Account.create!(id: S1[0], owner: "dup")
  end
  nil
rescue ActiveRecord::RecordNotUnique => e
  e.cause.result.error_field(PG::Result::PG_DIAG_SQLSTATE)
end
check("duplicate", dup, "23505")
check("usable again", Account.where(id: keys).count, 4)

threads = (0...24).map do |t|
  Thread.new do
    rnd = Random.new(t)
    2.times do
      amount = rnd.rand(-20..20)
      moves = [[S0.first(2).sample(random: rnd), -amount], [S1.first(2).sample(random: rnd), amount]].sort
      ActiveRecord::Base.connection_pool.with_connection do
        Account.transaction do
          moves.each { |k, d| Account.where(id: k).update_all(["balance = balance + ?", d]) }
        end
      end
    end
  end
end
threads.each(&:join)
puts JSON.generate({ "total" => Account.sum(:balance).to_i })
