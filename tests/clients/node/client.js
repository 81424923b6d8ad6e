// node-postgres client for tests/integration/test_client_node.py.
//
//   node client.js <case>
//
// Connects with the PG* environment variables (PGHOST, PGPORT, PGUSER, PGPASSWORD,
// PGDATABASE), runs one case and prints what it observed as one JSON object on stdout; the
// Python test asserts the answers. A failure prints the error and exits 1.
'use strict';

const pg = require('pg');

// Tables are named per run so cases never collide with one another.
const suffix = `${process.pid}`;

async function withClient(fn) {
  const client = new pg.Client({ connectionTimeoutMillis: 10000, statement_timeout: 30000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function errorOf(promise) {
  try {
    await promise;
    return null;
  } catch (e) {
    return { code: e.code, message: e.message, position: e.position || null,
             constraint: e.constraint || null };
  }
}

const cases = {
  // LISTEN/NOTIFY (issue 17): another client's NOTIFY arrives with its payload; one sent in a
  // rolled-back transaction never does, one in a committed transaction does at COMMIT.
  async listen() {
    const ch = `node_ch_${suffix}`;
    return withClient(async (l) => withClient(async (n) => {
      const got = [];
      let wake = null;
      l.on('notification', (m) => { got.push([m.channel, m.payload]); if (wake) wake(); });
      await l.query(`LISTEN ${ch}`);
      await n.query(`NOTIFY ${ch}, 'one'`);
      await n.query('BEGIN');
      await n.query('SELECT pg_notify($1, $2)', [ch, 'rolled back']);
      await n.query('ROLLBACK');
      await n.query('BEGIN');
      await n.query('SELECT pg_notify($1, $2)', [ch, 'two']);
      await n.query('COMMIT');
      const deadline = Date.now() + 5000;
      while (got.length < 2 && Date.now() < deadline) {
        await new Promise((r) => { wake = r; setTimeout(r, 100); });
      }
      await l.query(`UNLISTEN ${ch}`);
      return { channelsOk: got.every(([c]) => c === ch), payloads: got.map(([, p]) => p) };
    }));
  },

  // Against several shards (test_routing.py seeds table items): SELECTs the proxy combines
  // across shards, with parameters (the extended protocol), unnamed and named.
  async fanout() {
    return withClient(async (c) => {
      const agg = await c.query('SELECT count(*) AS n, sum(qty) AS s, max(id) AS top FROM items WHERE qty >= $1', [2]);
      const byQty = { name: 'by_qty', text: 'SELECT qty, count(*) AS n FROM items WHERE id > $1 GROUP BY qty ORDER BY n DESC, qty LIMIT 3' };
      const grouped = await c.query({ ...byQty, values: [0] });
      const again = await c.query({ ...byQty, values: [30] });
      const top = await c.query('SELECT id, name FROM items WHERE qty <> $1 ORDER BY id DESC LIMIT 4 OFFSET 1', [99]);
      const hidden = await c.query('SELECT name FROM items WHERE id < $1 ORDER BY qty DESC, id LIMIT 3', [100]);
      const distinct = await c.query('SELECT DISTINCT qty FROM items WHERE id >= $1 ORDER BY qty DESC', [1]);
      const refused = await errorOf(c.query("SELECT string_agg(name, ',' ORDER BY id) FROM items WHERE id > $1", [0]));
      const avg = await c.query('SELECT avg(qty) AS a FROM items WHERE id > $1', [0]);
      const after = await c.query('SELECT count(*) AS n FROM items WHERE id = $1', [7]);
      return {
        agg: agg.rows, aggFields: agg.fields.map((f) => f.name),
        grouped: grouped.rows, again: again.rows,
        top: top.rows, hidden: hidden.rows, hiddenFields: hidden.fields.map((f) => f.name),
        distinct: distinct.rows.map((r) => r.qty), refused: refused && refused.code, after: after.rows,
        avg: avg.rows,
      };
    });
  },

  // Parameters of many types, sent with the extended protocol.
  async params() {
    return withClient(async (c) => {
      const r = await c.query(
        'SELECT $1::int AS i, $2::bigint AS big, $3::text AS t, $4::bool AS b, ' +
        '$5::jsonb AS j, $6::bytea AS y, $7::timestamptz AS ts, $8::numeric AS n, ' +
        '$9::int[] AS arr, $10::text AS nul, $11::float8 AS f, $12::uuid AS u, ' +
        '$13::date AS d',
        [42, '9007199254740993', "héllo 'quoted' \\ 世界", true, { a: [1, 2], b: null },
         Buffer.from([0, 1, 2, 255]), new Date('2024-01-02T03:04:05.678Z'),
         '12345.678901234567890', [1, 2, 3], null, 0.1, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
         '2024-02-29']);
      const row = r.rows[0];
      return {
        i: row.i, big: row.big, t: row.t, b: row.b, j: row.j, y: row.y.toString('hex'),
        ts: row.ts.toISOString(), n: row.n, arr: row.arr, nul: row.nul, f: row.f, u: row.u,
        d: row.d.getFullYear() * 10000 + (row.d.getMonth() + 1) * 100 + row.d.getDate(),
        rowCount: r.rowCount, fields: r.fields.map((f) => f.name),
      };
    });
  },

  // Named prepared statements: parsed once per connection by the driver, then only
  // Bind/Execute; reused many times, interleaved, inside and outside transactions.
  async named() {
    return withClient(async (c) => {
      await c.query(`CREATE TABLE named_${suffix} (id int PRIMARY KEY, label text)`);
      const insert = (id) => ({ name: 'insert_row', text: `INSERT INTO named_${suffix} VALUES ($1, $2)`,
                                values: [id, `row ${id}`] });
      const addOne = (n) => ({ name: 'add_one', text: 'SELECT $1::int + 1 AS n', values: [n] });
      let sum = 0;
      for (let i = 0; i < 60; i++) {
        sum += (await c.query(addOne(i))).rows[0].n;
        if (i % 3 === 0) {
          await c.query('BEGIN');
          await c.query(insert(i));
          await c.query('COMMIT');
        }
      }
      const lookup = { name: 'lookup', text: `SELECT label FROM named_${suffix} WHERE id = $1` };
      const labels = [];
      for (const id of [0, 30, 57, 58]) {
        const r = await c.query({ ...lookup, values: [id] });
        labels.push(r.rows.length ? r.rows[0].label : null);
      }
      const count = (await c.query(`SELECT count(*)::int AS n FROM named_${suffix}`)).rows[0].n;
      return { sum, labels, count };
    });
  },

  async transactions() {
    return withClient(async (c) => {
      const t = `tx_${suffix}`;
      await c.query(`CREATE TABLE ${t} (v int)`);
      await c.query('BEGIN');
      await c.query(`INSERT INTO ${t} VALUES ($1)`, [1]);
      await c.query('ROLLBACK');
      await c.query('BEGIN');
      await c.query(`INSERT INTO ${t} VALUES ($1), ($2)`, [2, 3]);
      await c.query('SAVEPOINT sp');
      await c.query(`INSERT INTO ${t} VALUES ($1)`, [4]);
      await c.query('ROLLBACK TO SAVEPOINT sp');
      await c.query('COMMIT');
      const failed = [];
      await c.query('BEGIN');
      await c.query(`INSERT INTO ${t} VALUES ($1)`, [5]);
      failed.push((await errorOf(c.query('SELECT 1 / $1::int', [0]))).code);
      failed.push((await errorOf(c.query(`INSERT INTO ${t} VALUES ($1)`, [6]))).code);
      await c.query('ROLLBACK');
      const r = await c.query(`SELECT array_agg(v ORDER BY v) AS vs FROM ${t}`);
      return { values: r.rows[0].vs, failed };
    });
  },

  async errors() {
    return withClient(async (c) => {
      const t = `err_${suffix}`;
      await c.query(`CREATE TABLE ${t} (k int PRIMARY KEY)`);
      await c.query(`INSERT INTO ${t} VALUES (1)`);
      const out = {
        unique: await errorOf(c.query(`INSERT INTO ${t} VALUES ($1)`, [1])),
        undefinedTable: await errorOf(c.query('SELECT * FROM no_such_table_here')),
        syntax: await errorOf(c.query('SELECT 1 FROM WHERE')),
        badInput: await errorOf(c.query('SELECT $1::int', ['forty-two'])),
        namedDivByZero: await errorOf(c.query({ name: 'div', text: 'SELECT 10 / $1::int AS q',
                                                values: [0] })),
      };
      // The same named statement still works with good input, and so does the session.
      out.namedOk = (await c.query({ name: 'div', text: 'SELECT 10 / $1::int AS q',
                                     values: [5] })).rows[0].q;
      out.after = (await c.query('SELECT 1 AS one')).rows[0].one;
      return out;
    });
  },

  // Text with no parameters goes as one simple Query: several statements, several results.
  async multi() {
    return withClient(async (c) => {
      const results = await c.query('SELECT 1 AS a; SELECT 2 AS b, 3 AS c; ' +
                                    'SELECT g FROM generate_series(1, 3) g');
      const rows = await c.query({ text: 'SELECT g, g * g FROM generate_series(1, 1000) g',
                                   rowMode: 'array' });
      let sumSquares = 0;
      for (const [, sq] of rows.rows) sumSquares += sq;
      return { results: results.map((r) => r.rows), arrayRows: rows.rowCount, sumSquares };
    });
  },

  async notice() {
    return withClient(async (c) => {
      const notices = [];
      c.on('notice', (n) => notices.push(`${n.severity}: ${n.message}`));
      await c.query("DO $$ BEGIN RAISE NOTICE 'hello %', 42; RAISE WARNING 'careful'; END $$");
      return { notices };
    });
  },

  // A pool of 10 connections shared by 200 concurrent queries and 20 transactions.
  async pool() {
    const pool = new pg.Pool({ max: 10, connectionTimeoutMillis: 10000 });
    try {
      const t = `pool_${suffix}`;
      await pool.query(`CREATE TABLE ${t} (worker int, n int)`);
      const doubled = await Promise.all(
        Array.from({ length: 200 }, (_, i) => pool.query('SELECT $1::int * 2 AS d', [i])));
      const txs = Array.from({ length: 20 }, async (_, w) => {
        const c = await pool.connect();
        try {
          await c.query('BEGIN');
          for (let n = 0; n < 5; n++) await c.query(`INSERT INTO ${t} VALUES ($1, $2)`, [w, n]);
          await c.query(w % 2 ? 'COMMIT' : 'ROLLBACK');
        } finally {
          c.release();
        }
      });
      await Promise.all(txs);
      const r = await pool.query(`SELECT count(*)::int AS n, count(DISTINCT worker)::int AS w FROM ${t}`);
      return { doubledSum: doubled.reduce((s, x) => s + x.rows[0].d, 0), ...r.rows[0] };
    } finally {
      await pool.end();
    }
  },
};

async function main() {
  const name = process.argv[2];
  if (!cases[name]) {
    console.error(`unknown case ${name}; one of: ${Object.keys(cases).join(', ')}`);
    process.exit(2);
  }
  const result = await cases[name]();
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((e) => {
  console.error(e.stack || e);
  process.exit(1);
});
