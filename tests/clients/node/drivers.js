// Driver matrix: postgres.js, knex, Sequelize and TypeORM doing what an application does,
// through the target in PG* variables (`node drivers.js LIBRARY`). SG_S0 / SG_S1: keys on
// shard s0 / s1. Each case checks its own answers and throws on a wrong one (exit 1); it prints
// {"total": ...} and tests/integration/test_driver_node.py checks the rows on the shards.
'use strict';

const assert = require('assert');

const S0 = process.env.SG_S0.split(',').map(Number);
const S1 = process.env.SG_S1.split(',').map(Number);
const conn = {
  host: process.env.PGHOST, port: Number(process.env.PGPORT), user: process.env.PGUSER,
  password: process.env.PGPASSWORD, database: process.env.PGDATABASE,
};
const DDL = 'CREATE TABLE accounts (id bigint PRIMARY KEY, owner text NOT NULL, balance bigint NOT NULL DEFAULT 0)';

// Money moves between a key on s0 and one on s1, rows locked in key order.
function moves(i) {
  const amount = (i * 7) % 41 - 20;
  return [[S0[i % 2], -amount], [S1[(i >> 1) % 2], amount]].sort((a, b) => a[0] - b[0]);
}

async function postgresjs() {
  const postgres = require('postgres');
  const sql = postgres({ ...conn, max: 20, connect_timeout: 10, onnotice: () => {} });
  try {
    await sql`DROP TABLE IF EXISTS accounts`;
    await sql.unsafe(DDL);
    const keys = [S0[0], S0[1], S1[0], S1[1]];
    for (const k of keys) await sql`INSERT INTO accounts (id, owner, balance) VALUES (${k}, ${'o' + k}, 100)`;
    for (const k of keys) {
      const [row] = await sql`SELECT owner, balance FROM accounts WHERE id = ${k}`;
      assert.deepStrictEqual([row.owner, row.balance], ['o' + k, '100']);
    }
    const upd = await sql`UPDATE accounts SET owner = 'renamed' WHERE id = ${S1[1]}`;
    assert.strictEqual(upd.count, 1);
    // A transaction over two shards, a rolled-back one, and a savepoint.
    await sql.begin(async (tx) => {
      await tx`UPDATE accounts SET balance = balance - 30 WHERE id = ${S0[0]}`;
      await tx`UPDATE accounts SET balance = balance + 30 WHERE id = ${S1[0]}`;
    });
    await assert.rejects(sql.begin(async (tx) => {
      await tx`UPDATE accounts SET balance = 0 WHERE id = ${S0[0]}`;
      await tx`UPDATE accounts SET balance = 0 WHERE id = ${S1[0]}`;
      throw new Error('abort');
    }), /abort/);
    await sql.begin(async (tx) => {
      await tx`UPDATE accounts SET balance = balance + 1 WHERE id = ${S0[1]}`;
      await assert.rejects(tx.savepoint(async (sp) => {
        await sp`UPDATE accounts SET balance = 999 WHERE id = ${S1[1]}`;
        throw new Error('undo');
      }), /undo/);
      await tx.savepoint(async (sp) => sp`UPDATE accounts SET balance = balance + 2 WHERE id = ${S1[1]}`);
    });
    // A unique violation: PostgresError 23505; the failed transaction rolls back.
    await assert.rejects(sql.begin(async (tx) => {
      await tx`UPDATE accounts SET balance = balance + 5 WHERE id = ${S0[0]}`;
      await tx`INSERT INTO accounts (id, owner) VALUES (${S1[0]}, 'dup')`;
    }), (e) => e instanceof postgres.PostgresError && e.code === '23505');
    // A batch over both shards with a failing row applies nothing.
    await assert.rejects(
      sql`INSERT INTO accounts ${sql([{ id: S0[2], owner: 'n' }, { id: S1[2], owner: 'n' }, { id: S1[0], owner: 'dup' }])}`,
      (e) => e.code === '23505');
    const [{ n }] = await sql`SELECT count(*) AS n FROM accounts WHERE owner = 'n'`;
    assert.strictEqual(n, '0');
    // Expected refusal: an aggregate under a cast (count(*)::int) over several shards is not
    // combined; it is refused with 0A000 naming the aggregate (direct: answered).
    const cast = sql`SELECT count(*)::int AS n FROM accounts`;
    if (process.env.SG_MODE === 'shardgate') {
      await assert.rejects(cast, (e) => e.code === '0A000' && /count\(\)/.test(e.message));
    } else {
      assert.strictEqual((await cast)[0].n, 4);
    }
    // A cursor in a transaction over rows of s1, after a statement on s0 (postgres.js runs
    // nothing else on the connection while its cursor is open).
    await sql.begin(async (tx) => {
      const got = [];
      await tx`UPDATE accounts SET owner = owner WHERE id = ${S0[0]}`;
      for await (const rows of tx`SELECT id FROM accounts WHERE id = ANY(${[S1[0], S1[1]]}::bigint[]) ORDER BY id`.cursor(1)) {
        got.push(Number(rows[0].id));
      }
      assert.deepStrictEqual(got, [S1[0], S1[1]].sort((a, b) => a - b));
    });
    // COPY in over both shards, and out.
    const w = await sql`COPY accounts (id, owner, balance) FROM STDIN`.writable();
    await new Promise((resolve, reject) => {
      w.on('error', reject);
      w.on('finish', resolve);
      w.write(`${S0[2]}\tcopied\t7\n${S1[2]}\tcopied\t7\n`);
      w.end();
    });
    let out = '';
    for await (const chunk of await sql`COPY accounts (id) TO STDOUT`.readable()) out += chunk;
    assert.strictEqual(out.trim().split('\n').length, 6);
    // LISTEN/NOTIFY: sql.listen (its own connection; postgres.js prepares the LISTEN as a
    // named statement); a NOTIFY from the pool arrives with its payload; after unlisten only
    // the channel still listened on is heard.
    const heard = [];
    const waiters = [];
    const onNotify = (channel) => (payload) => {
      heard.push([channel, payload]);
      waiters.splice(0).forEach((wake) => wake());
    };
    const nextHeard = async () => {
      const deadline = Date.now() + 10000;
      while (!heard.length) {
        if (Date.now() > deadline) throw new Error('no notification within 10 s');
        await new Promise((wake) => { waiters.push(wake); setTimeout(wake, 200); });
      }
      return heard.shift();
    };
    const ch = await sql.listen('pgjs_ch', onNotify('pgjs_ch'));
    const sync = await sql.listen('pgjs_sync', onNotify('pgjs_sync'));
    await sql.notify('pgjs_ch', 'hello');
    assert.deepStrictEqual(await nextHeard(), ['pgjs_ch', 'hello']);
    await ch.unlisten();
    await sql`NOTIFY pgjs_ch, 'after UNLISTEN'`;
    await sql`SELECT pg_notify('pgjs_sync', 'last')`;
    assert.deepStrictEqual(await nextHeard(), ['pgjs_sync', 'last']);
    assert.strictEqual(heard.length, 0);
    await sync.unlisten();
    // 24 concurrent tasks on the pool.
    await Promise.all(Array.from({ length: 24 }, (_, t) => (async () => {
      for (let i = 0; i < 1; i++) {
        await sql.begin(async (tx) => {
          for (const [k, d] of moves(t + i)) await tx`UPDATE accounts SET balance = balance + ${d} WHERE id = ${k}`;
        });
      }
    })()));
    const [{ total }] = await sql`SELECT sum(balance) AS total FROM accounts`;
    return Number(total);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

async function knexjs() {
  const knex = require('knex')({ client: 'pg', connection: conn, pool: { min: 0, max: 20 } });
  try {
    await knex.schema.dropTableIfExists('accounts');
    await knex.schema.createTable('accounts', (t) => {
      t.bigInteger('id').primary();
      t.text('owner').notNullable();
      t.bigInteger('balance').notNullable().defaultTo(0);
    });
    await knex('accounts').insert([S0[0], S0[1], S1[0], S1[1]].map((id) => ({ id, owner: 'o' + id, balance: 100 })));
    const row = await knex('accounts').where({ id: S1[0] }).first();
    assert.deepStrictEqual([row.owner, row.balance], ['o' + S1[0], '100']);
    assert.strictEqual(await knex('accounts').where({ id: S1[1] }).update({ owner: 'renamed' }), 1);
    await knex.transaction(async (trx) => {
      await trx('accounts').where({ id: S0[0] }).decrement('balance', 30);
      await trx('accounts').where({ id: S1[0] }).increment('balance', 30);
    });
    await assert.rejects(knex.transaction(async (trx) => {
      await trx('accounts').where({ id: S0[0] }).update({ balance: 0 });
      await trx('accounts').where({ id: S1[0] }).update({ balance: 0 });
      throw new Error('abort');
    }), /abort/);
    await knex.transaction(async (trx) => {
      await trx('accounts').where({ id: S0[1] }).increment('balance', 1);
      await assert.rejects(trx.transaction(async (sp) => {               // a savepoint
        await sp('accounts').where({ id: S1[1] }).update({ balance: 999 });
        throw new Error('undo');
      }), /undo/);
      await trx.transaction(async (sp) => sp('accounts').where({ id: S1[1] }).increment('balance', 2));
    });
    await assert.rejects(knex.transaction(async (trx) => {
      await trx('accounts').where({ id: S0[0] }).increment('balance', 5);
      await trx('accounts').insert({ id: S1[0], owner: 'dup' });
    }), (e) => e.code === '23505');
    await assert.rejects(knex('accounts').insert([{ id: S0[2], owner: 'n' }, { id: S1[2], owner: 'n' }, { id: S1[0], owner: 'dup' }]),
      (e) => e.code === '23505');
    assert.strictEqual(Number((await knex('accounts').where({ owner: 'n' }).count('* as n'))[0].n), 0);
    await knex('accounts').insert([{ id: S0[2], owner: 'copied', balance: 7 }, { id: S1[2], owner: 'copied', balance: 7 }]);
    await Promise.all(Array.from({ length: 24 }, (_, t) => (async () => {
      for (let i = 0; i < 1; i++) {
        await knex.transaction(async (trx) => {
          for (const [k, d] of moves(t + i)) await trx('accounts').where({ id: k }).increment('balance', d);
        });
      }
    })()));
    return Number((await knex('accounts').sum('balance as total'))[0].total);
  } finally {
    await knex.destroy();
  }
}

async function sequelizejs() {
  const { Sequelize, DataTypes, UniqueConstraintError } = require('sequelize');
  const db = new Sequelize(conn.database, conn.user, conn.password, {
    host: conn.host, port: conn.port, dialect: 'postgres', logging: false, pool: { max: 20, min: 0 },
  });
  try {
    const Account = db.define('Account', {
      id: { type: DataTypes.BIGINT, primaryKey: true },
      owner: { type: DataTypes.TEXT, allowNull: false },
      balance: { type: DataTypes.BIGINT, allowNull: false, defaultValue: 0 },
    }, { tableName: 'accounts', timestamps: false });
    await Account.sync({ force: true });                     // catalog queries, DROP, CREATE
    await Account.bulkCreate([S0[0], S0[1], S1[0], S1[1]].map((id) => ({ id, owner: 'o' + id, balance: 100 })));
    const a = await Account.findByPk(S1[0]);
    assert.deepStrictEqual([a.owner, a.balance], ['o' + S1[0], '100']);
    assert.deepStrictEqual(await Account.update({ owner: 'renamed' }, { where: { id: S1[1] } }), [1]);
    await db.transaction(async (t) => {
      await Account.decrement('balance', { by: 30, where: { id: S0[0] }, transaction: t });
      await Account.increment('balance', { by: 30, where: { id: S1[0] }, transaction: t });
    });
    await assert.rejects(db.transaction(async (t) => {
      await Account.update({ balance: 0 }, { where: { id: S0[0] }, transaction: t });
      await Account.update({ balance: 0 }, { where: { id: S1[0] }, transaction: t });
      throw new Error('abort');
    }), /abort/);
    await db.transaction(async (t) => {
      await Account.increment('balance', { by: 1, where: { id: S0[1] }, transaction: t });
      await assert.rejects(db.transaction({ transaction: t }, async (sp) => {   // a savepoint
        await Account.update({ balance: 999 }, { where: { id: S1[1] }, transaction: sp });
        throw new Error('undo');
      }), /undo/);
      await db.transaction({ transaction: t }, async (sp) =>
        Account.increment('balance', { by: 2, where: { id: S1[1] }, transaction: sp }));
    });
    await assert.rejects(db.transaction(async (t) => {
      await Account.increment('balance', { by: 5, where: { id: S0[0] }, transaction: t });
      await Account.create({ id: S1[0], owner: 'dup' }, { transaction: t });
    }), UniqueConstraintError);
    await assert.rejects(Account.bulkCreate([{ id: S0[2], owner: 'n' }, { id: S1[2], owner: 'n' }, { id: S1[0], owner: 'dup' }]),
      UniqueConstraintError);
    assert.strictEqual(await Account.count({ where: { owner: 'n' } }), 0);
    await Account.bulkCreate([{ id: S0[2], owner: 'copied', balance: 7 }, { id: S1[2], owner: 'copied', balance: 7 }]);
    await Promise.all(Array.from({ length: 24 }, (_, t) => (async () => {
      for (let i = 0; i < 1; i++) {
        await db.transaction(async (tx) => {
          for (const [k, d] of moves(t + i)) await Account.increment('balance', { by: d, where: { id: k }, transaction: tx });
        });
      }
    })()));
    return Number(await Account.sum('balance'));
  } finally {
    await db.close();
  }
}

async function typeormjs() {
  require('reflect-metadata');
  const { DataSource, EntitySchema, QueryFailedError } = require('typeorm');
  const Account = new EntitySchema({
    name: 'Account', tableName: 'accounts',
    columns: {
      id: { type: 'bigint', primary: true },
      owner: { type: 'text' },
      balance: { type: 'bigint', default: 0 },
    },
  });
  const ds = new DataSource({ type: 'postgres', ...conn, username: conn.user, entities: [Account], extra: { max: 20 } });
  await ds.initialize();
  try {
    await ds.query('DROP TABLE IF EXISTS accounts');
    await ds.synchronize();                                  // catalog queries, then CREATE TABLE
    const repo = ds.getRepository(Account);
    await repo.insert([S0[0], S0[1], S1[0], S1[1]].map((id) => ({ id, owner: 'o' + id, balance: 100 })));
    const a = await repo.findOneBy({ id: S1[0] });
    assert.deepStrictEqual([a.owner, a.balance], ['o' + S1[0], '100']);
    assert.strictEqual((await repo.update({ id: S1[1] }, { owner: 'renamed' })).affected, 1);
    await ds.transaction(async (m) => {
      await m.decrement(Account, { id: S0[0] }, 'balance', 30);
      await m.increment(Account, { id: S1[0] }, 'balance', 30);
    });
    await assert.rejects(ds.transaction(async (m) => {
      await m.update(Account, { id: S0[0] }, { balance: 0 });
      await m.update(Account, { id: S1[0] }, { balance: 0 });
      throw new Error('abort');
    }), /abort/);
    const qr = ds.createQueryRunner();
    await qr.startTransaction();
    await qr.manager.increment(Account, { id: S0[1] }, 'balance', 1);
    await qr.startTransaction();                             // a savepoint
    await qr.manager.update(Account, { id: S1[1] }, { balance: 999 });
    await qr.rollbackTransaction();                          // ROLLBACK TO SAVEPOINT
    await qr.manager.increment(Account, { id: S1[1] }, 'balance', 2);
    await qr.commitTransaction();
    await qr.release();
    await assert.rejects(ds.transaction(async (m) => {
      await m.increment(Account, { id: S0[0] }, 'balance', 5);
      await m.insert(Account, { id: S1[0], owner: 'dup' });
    }), (e) => e instanceof QueryFailedError && e.driverError.code === '23505');
    await assert.rejects(repo.insert([{ id: S0[2], owner: 'n' }, { id: S1[2], owner: 'n' }, { id: S1[0], owner: 'dup' }]),
      (e) => e instanceof QueryFailedError && e.driverError.code === '23505');
    assert.strictEqual(await repo.countBy({ owner: 'n' }), 0);
    await repo.insert([{ id: S0[2], owner: 'copied', balance: 7 }, { id: S1[2], owner: 'copied', balance: 7 }]);
    await Promise.all(Array.from({ length: 24 }, (_, t) => (async () => {
      for (let i = 0; i < 1; i++) {
        await ds.transaction(async (m) => {
          for (const [k, d] of moves(t + i)) await m.increment(Account, { id: k }, 'balance', d);
        });
      }
    })()));
    return Number((await ds.query('SELECT sum(balance) AS total FROM accounts'))[0].total);
  } finally {
    await ds.destroy();
  }
}

const cases = { postgresjs, knex: knexjs, sequelize: sequelizejs, typeorm: typeormjs };
cases[process.argv[2]]().then((total) => {
  console.log(JSON.stringify({ total }));
}, (e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
