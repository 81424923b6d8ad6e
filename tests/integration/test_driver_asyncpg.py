"""Driver matrix: asyncpg (Debian's python3-asyncpg) through the proxy to 2 shards, in
transaction and session pooling: its statement cache (every query a named prepared
statement), `async with conn.transaction()` over two shards and nested (savepoints), errors
as asyncpg.exceptions classes, executemany over both shards with a failing row, a pool of 24
concurrent tasks, cursors in a transaction (portals fetched in pieces), COPY both ways.
SG_TARGET=direct runs the same cases against one PostgreSQL."""

import asyncio
import random
import unittest

import client_target
import driver_suite

try:
    import asyncpg
except ImportError as e:                    # fail with what to install, never skip
    raise RuntimeError("asyncpg is missing: apt-get install python3-asyncpg "
                       "(scripts/deps.sh does)") from e

M = None


def setUpModule():
    global M
    M = client_target.start_matrix("driver_asyncpg")
    unittest.addModuleCleanup(M.close)

    async def create():
        conn = await asyncpg.connect(**kwargs(M.targets["transaction"]))
        try:
            await conn.execute("DROP TABLE IF EXISTS accounts")
            await conn.execute(client_target.ACCOUNTS_DDL)
        finally:
            await conn.close()
    asyncio.run(create())


def kwargs(T):
    return dict(host=T.host, port=T.port, user=T.user, password=T.password,
                database=T.dbname, timeout=10, command_timeout=30,
                server_settings={"application_name": "asyncpg-test"})


class Cases(driver_suite.AccountsChecks):

    def setUp(self):
        self.empty_accounts()
        self.s0, self.s1 = self.two_shard_keys(3)

    async def expect_refusal_async(self, run, construct):
        """driver_suite's expect_refusal for a coroutine function."""
        if self.T.mode == "direct":
            return await run()
        with self.assertRaises(asyncpg.exceptions.FeatureNotSupportedError) as e:
            await run()
        self.assertEqual(e.exception.sqlstate, "0A000")
        self.assertIn(construct, str(e.exception))
        return None

    def run_async(self, body):
        """Runs `body(conn)` on a fresh connection (closed afterwards) with a deadline."""
        async def main():
            conn = await asyncpg.connect(**kwargs(self.T))
            try:
                return await body(conn)
            finally:
                await conn.close()
        return asyncio.run(asyncio.wait_for(main(), 60))

    def test_listen_notify_with_add_listener(self):
        # add_listener LISTENs (outside a transaction) through a named prepared statement
        # ([Parse, Describe, Flush] then [Bind, Execute, Sync]), remove_listener UNLISTENs; a
        # NOTIFY in a transaction arrives at its COMMIT, never after a ROLLBACK; a second
        # add_listener reuses the cached LISTEN statement; a listener added inside a rolled-back
        # transaction hears nothing; without the statement cache (the unnamed statement) too.
        async def body(conn):
            got = asyncio.Queue()

            def callback(c, pid, channel, payload):
                got.put_nowait((channel, payload))
            await conn.add_listener("asyncpg_ch", callback)
            await conn.add_listener("asyncpg_sync", callback)
            notifier = await asyncpg.connect(**kwargs(self.T))
            uncached = await asyncpg.connect(statement_cache_size=0, **kwargs(self.T))
            try:
                await notifier.execute("NOTIFY asyncpg_ch, 'one'")
                with self.assertRaises(ZeroDivisionError):
                    async with notifier.transaction():
                        await notifier.execute("SELECT pg_notify('asyncpg_ch', 'rolled back')")
                        raise ZeroDivisionError()
                async with notifier.transaction():
                    await notifier.execute("SELECT pg_notify('asyncpg_ch', 'two')")
                seen = [await asyncio.wait_for(got.get(), 10) for _ in range(2)]
                await conn.remove_listener("asyncpg_ch", callback)
                await notifier.execute("NOTIFY asyncpg_ch, 'after UNLISTEN'")
                await notifier.execute("NOTIFY asyncpg_sync")
                seen.append(await asyncio.wait_for(got.get(), 10))
                # The cached LISTEN statement again.
                await conn.add_listener("asyncpg_ch", callback)
                await notifier.execute("NOTIFY asyncpg_ch, 'three'")
                seen.append(await asyncio.wait_for(got.get(), 10))
                # Inside a transaction that rolls back: never in effect.
                with self.assertRaises(ZeroDivisionError):
                    async with conn.transaction():
                        await conn.add_listener("asyncpg_rb", callback)
                        raise ZeroDivisionError()
                # Without the statement cache: the unnamed statement.
                await uncached.add_listener("asyncpg_unnamed", callback)
                await notifier.execute("NOTIFY asyncpg_rb, 'rolled back listen'")
                await notifier.execute("NOTIFY asyncpg_unnamed, 'four'")
                seen.append(await asyncio.wait_for(got.get(), 10))
                await uncached.remove_listener("asyncpg_unnamed", callback)
                await notifier.execute("NOTIFY asyncpg_unnamed, 'after UNLISTEN'")
                await notifier.execute("NOTIFY asyncpg_sync, 'last'")
                seen.append(await asyncio.wait_for(got.get(), 10))
                self.assertEqual(seen, [("asyncpg_ch", "one"), ("asyncpg_ch", "two"),
                                        ("asyncpg_sync", ""), ("asyncpg_ch", "three"),
                                        ("asyncpg_unnamed", "four"), ("asyncpg_sync", "last")])
                self.assertTrue(got.empty())
                self.assertEqual(await conn.fetchval("SELECT 1"), 1)
            finally:
                await notifier.close()
                await uncached.close()
        self.run_async(body)

    def test_crud_by_key_through_the_statement_cache(self):
        keys = self.s0 + self.s1

        async def body(conn):
            ins = "INSERT INTO accounts (id, owner, balance) VALUES ($1, $2, $3)"
            for k in keys:
                await conn.execute(ins, k, f"owner {k}", k * 10)
            got = []
            for _ in range(3):              # the cached statements are reused
                for k in keys:
                    got.append(await conn.fetchrow(
                        "SELECT id, owner, balance FROM accounts WHERE id = $1", k))
            self.assertEqual([tuple(r) for r in got[:len(keys)]],
                             [(k, f"owner {k}", k * 10) for k in keys])
            self.assertEqual(got[:len(keys)], got[-len(keys):])
            self.assertEqual(await conn.execute(
                "UPDATE accounts SET balance = balance + $1 WHERE id = $2", 5, keys[0]),
                "UPDATE 1")
            self.assertEqual(await conn.execute("DELETE FROM accounts WHERE id = $1", keys[-1]),
                             "DELETE 1")
            # A statement over both shards, prepared and cached like the others.
            for _ in range(2):
                rows = await conn.fetch("SELECT id FROM accounts WHERE id = ANY($1::bigint[]) "
                                        "ORDER BY id", keys)
                self.assertEqual([r["id"] for r in rows], sorted(keys[:-1]))
            self.assertEqual(await conn.fetchval("SELECT count(*) FROM accounts"), len(keys) - 1)
        self.run_async(body)
        self.assert_accounts([(k, f"owner {k}", k * 10 + (5 if k == self.s0[0] else 0))
                              for k in keys[:-1]])

    def test_transaction_over_two_shards_commit_rollback_and_savepoints(self):
        a, b = self.s0[0], self.s1[0]

        class Abort(Exception):
            pass

        async def body(conn):
            await conn.executemany("INSERT INTO accounts VALUES ($1, $2, 100)",
                                   [(a, "a"), (b, "b")])
            async with conn.transaction():
                await conn.execute("UPDATE accounts SET balance = balance - 30 WHERE id = $1", a)
                await conn.execute("UPDATE accounts SET balance = balance + 30 WHERE id = $1", b)
            with self.assertRaises(Abort):
                async with conn.transaction():
                    await conn.execute("UPDATE accounts SET balance = 0 WHERE id = $1", a)
                    await conn.execute("INSERT INTO accounts VALUES ($1, 'x', 1)", self.s1[1])
                    raise Abort()
            async with conn.transaction():
                await conn.execute("INSERT INTO accounts VALUES ($1, 'kept', 1)", self.s0[1])
                with self.assertRaises(Abort):
                    async with conn.transaction():          # SAVEPOINT ... ROLLBACK TO
                        await conn.execute("INSERT INTO accounts VALUES ($1, 'undone', 2)",
                                           self.s1[2])
                        await conn.execute("UPDATE accounts SET balance = 1 WHERE id = $1", a)
                        raise Abort()
                async with conn.transaction():              # SAVEPOINT ... RELEASE
                    await conn.execute("INSERT INTO accounts VALUES ($1, 'kept', 3)", self.s1[1])
                self.assertEqual(await conn.fetchval(
                    "SELECT sum(balance) FROM accounts"), 70 + 130 + 1 + 3)
        self.run_async(body)
        self.assert_accounts([(a, "a", 70), (b, "b", 130), (self.s0[1], "kept", 1),
                              (self.s1[1], "kept", 3)])

    def test_unique_violation_then_the_connection_goes_on(self):
        a, b = self.s0[0], self.s1[0]

        async def body(conn):
            await conn.executemany("INSERT INTO accounts VALUES ($1, 'o', 1)", [(a,), (b,)])
            tr = conn.transaction()
            await tr.start()
            await conn.execute("UPDATE accounts SET balance = 2 WHERE id = $1", a)
            with self.assertRaises(asyncpg.exceptions.UniqueViolationError) as e:
                await conn.execute("INSERT INTO accounts VALUES ($1, 'dup', 0)", b)
            self.assertEqual(e.exception.sqlstate, "23505")
            self.assertEqual(e.exception.constraint_name, "accounts_pkey")
            with self.assertRaises(asyncpg.exceptions.InFailedSQLTransactionError):
                await conn.fetchval("SELECT 1")
            await tr.rollback()
            with self.assertRaises(asyncpg.exceptions.UniqueViolationError):
                await conn.execute("INSERT INTO accounts VALUES ($1, 'dup', 0)", a)
            await conn.execute("UPDATE accounts SET balance = 5 WHERE id = $1", b)
        self.run_async(body)
        self.assert_accounts([(self.s0[0], "o", 1), (self.s1[0], "o", 5)])

    def test_executemany_over_two_shards_with_a_failing_row_applies_nothing(self):
        b = self.s1[0]
        rows = [(self.s0[0], "n", 1), (self.s1[1], "n", 2), (b, "dup", 3), (self.s0[1], "n", 4)]

        async def body(conn):
            await conn.execute("INSERT INTO accounts VALUES ($1, 'b', 1)", b)
            with self.assertRaises(asyncpg.exceptions.UniqueViolationError):
                await conn.executemany("INSERT INTO accounts VALUES ($1, $2, $3)", rows)
            # Inside a transaction the failure fails the transaction.
            with self.assertRaises(asyncpg.exceptions.UniqueViolationError):
                async with conn.transaction():
                    await conn.executemany("INSERT INTO accounts VALUES ($1, $2, $3)", rows)
            await conn.executemany("INSERT INTO accounts VALUES ($1, $2, $3)",
                                   [r for r in rows if r[0] != b])
        self.run_async(body)
        self.assert_accounts([(b, "b", 1)] + [r for r in rows if r[0] != b])

    def test_pool_of_24_tasks_moving_money_across_shards(self):
        keys = self.s0 + self.s1

        async def main():
            async with asyncpg.create_pool(min_size=2, max_size=20, **kwargs(self.T)) as pool:
                await pool.executemany("INSERT INTO accounts VALUES ($1, 'o', 1000)",
                                       [(k,) for k in keys])

                async def work(seed):
                    rnd = random.Random(seed)
                    for _ in range(3):
                        amount = rnd.randint(-20, 20)
                        # Rows locked in key order, as applications avoid deadlocks.
                        moves = sorted([(rnd.choice(self.s0), -amount),
                                        (rnd.choice(self.s1), amount)])
                        async with pool.acquire() as conn, conn.transaction():
                            for key, delta in moves:
                                await conn.execute("UPDATE accounts SET balance = balance + $1 "
                                                   "WHERE id = $2", delta, key)
                await asyncio.gather(*(work(i) for i in range(24)))
                return await pool.fetchval("SELECT sum(balance) FROM accounts")
        total = asyncio.run(asyncio.wait_for(main(), 120))
        self.assertEqual(total, 1000 * len(keys))
        rows = self.shard_accounts()
        self.assertEqual(sum(r[2] for r in rows), 1000 * len(keys))
        self.assertEqual(self.T.prepared_xacts(), [])

    def test_cursors_in_a_transaction(self):
        keys = self.s0 + self.s1

        async def body(conn):
            await conn.executemany("INSERT INTO accounts VALUES ($1, 'o', $1)",
                                   [(k,) for k in keys])
            async with conn.transaction():
                await conn.execute("UPDATE accounts SET balance = 0 WHERE id = $1", self.s0[0])
                got = [r["id"] async for r in conn.cursor(
                    "SELECT id FROM accounts WHERE id = ANY($1::bigint[]) ORDER BY id",
                    self.s1, prefetch=1)]
                self.assertEqual(got, sorted(self.s1))
                cur = await conn.cursor("SELECT id, balance FROM accounts WHERE id = $1",
                                        self.s0[0])
                self.assertEqual(tuple(await cur.fetchrow()), (self.s0[0], 0))
                # fetchval/fetchrow over both shards (an Execute with a row limit of 1).
                self.assertEqual(await conn.fetchval("SELECT count(*) FROM accounts"), len(keys))
                self.assertEqual((await conn.fetchrow("SELECT id FROM accounts ORDER BY id"))["id"],
                                 min(keys))

            # Expected refusal: a cursor (a named portal fetched in pieces) over a statement
            # combined across shards is refused with 0A000 naming it.
            async def both_shards():
                async with conn.transaction():
                    cur = await conn.cursor("SELECT id FROM accounts ORDER BY id")
                    first = await cur.fetch(2)
                    return [r["id"] for r in first + await cur.fetch(10)]
            got = await self.expect_refusal_async(both_shards, "named portal")
            if got is not None:
                self.assertEqual(got, sorted(keys))
        self.run_async(body)

    def test_copy_in_and_out_across_shards(self):
        keys = self.s0 + self.s1
        records = [(k, f"copied {k}", k) for k in keys]

        async def body(conn):
            # copy_records_to_table sends binary COPY data, split by key over the shards.
            got = await conn.copy_records_to_table("accounts", records=records,
                                                   columns=["id", "owner", "balance"])
            self.assertEqual(got, f"COPY {len(keys)}")
            # A failing tuple (a key that exists) applies nothing anywhere.
            with self.assertRaises(asyncpg.exceptions.UniqueViolationError):
                await conn.copy_records_to_table("accounts", records=[(10_000_001, "n", 1),
                                                                      records[-1]],
                                                 columns=["id", "owner", "balance"])
            self.assertEqual(await conn.fetchval("SELECT count(*) FROM accounts"), len(keys))
            out = CollectBytes()
            await conn.copy_from_query("SELECT id, owner, balance FROM accounts", output=out,
                                       format="csv")
            return out.data.decode()
        csv = self.run_async(body)
        self.assertEqual(sorted(csv.splitlines()),
                         sorted(f"{k},copied {k},{k}" for k in keys))
        self.assert_accounts(records)


class CollectBytes:
    """An asyncpg COPY output sink."""

    def __init__(self):
        self.data = b""

    async def __call__(self, chunk):
        self.data += chunk


TransactionPooling, SessionPooling = driver_suite.per_pool_mode(Cases, lambda: M)
del Cases

if __name__ == "__main__":
    unittest.main()
