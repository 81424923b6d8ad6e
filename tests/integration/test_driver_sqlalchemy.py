"""Driver matrix: SQLAlchemy (Debian's python3-sqlalchemy, 1.4) through the proxy to 2 shards,
in transaction and session pooling, with the psycopg2 and the asyncpg dialects: create_all
(catalog queries, then DDL every shard gets), ORM session CRUD by key, a transaction moving
money between two shards (commit, and rollback on an exception), a SAVEPOINT
(begin_nested), IntegrityError on a duplicate key with the session usable after rollback.
SG_TARGET=direct runs the same cases against one PostgreSQL."""

import asyncio
import unittest

import client_target
import driver_suite

try:
    import sqlalchemy as sa
    from sqlalchemy import exc as sa_exc
    from sqlalchemy import orm
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
except ImportError as e:                    # fail with what to install, never skip
    raise RuntimeError("SQLAlchemy is missing: apt-get install python3-sqlalchemy "
                       "python3-asyncpg (scripts/deps.sh does)") from e

TABLE = "sa_accounts"
M = None
Base = orm.declarative_base()


class Account(Base):
    __tablename__ = TABLE
    id = sa.Column(sa.BigInteger, primary_key=True, autoincrement=False)
    owner = sa.Column(sa.Text, nullable=False)
    balance = sa.Column(sa.BigInteger, nullable=False, server_default="0")


def setUpModule():
    global M
    M = client_target.start_matrix(
        "driver_sqlalchemy",
        tables=({"name": TABLE, "kind": "sharded", "shard_key": "id", "key_type": "bigint"},))
    unittest.addModuleCleanup(M.close)


def url(T, dialect):
    return f"postgresql+{dialect}://{T.user}:{T.password}@{T.host}:{T.port}/{T.dbname}"


class Cases:

    def setUp(self):
        self.s0, self.s1 = self.T.keys_on_two_shards(2)
        self.engine = sa.create_engine(url(self.T, "psycopg2"), pool_size=5,
                                       connect_args={"connect_timeout": 10})
        self.addCleanup(self.engine.dispose)
        Base.metadata.drop_all(self.engine)
        Base.metadata.create_all(self.engine)        # catalog query, then CREATE TABLE

    def shard_rows(self):
        return self.T.all_rows(f"SELECT id, owner, balance FROM {TABLE}")

    def assert_rows(self, expected):
        self.assertEqual(self.shard_rows(), sorted(expected))
        self.assertEqual(self.T.placement_errors(TABLE), [])
        self.assertEqual(self.T.prepared_xacts(), [])

    def test_psycopg2_dialect_orm_crud_and_transactions(self):
        a, b = self.s0[0], self.s1[0]
        Session = orm.sessionmaker(self.engine)
        with Session.begin() as session:                 # a multi-row INSERT over two shards
            session.add_all([Account(id=a, owner="a", balance=100),
                             Account(id=b, owner="b", balance=100)])
        with Session.begin() as session:                 # a transfer between two shards
            self.assertEqual(session.get(Account, b).owner, "b")
            session.get(Account, a).balance -= 30
            session.get(Account, b).balance += 30
        self.assert_rows([(a, "a", 70), (b, "b", 130)])

        with self.assertRaises(ZeroDivisionError):       # rolled back on both shards
            with Session.begin() as session:
                session.get(Account, a).balance = 0
                session.add(Account(id=self.s1[1], owner="x", balance=1))
                session.flush()
                raise ZeroDivisionError()
        with Session.begin() as session:
            session.add(Account(id=self.s0[1], owner="kept", balance=1))
            nested = session.begin_nested()              # SAVEPOINT
            session.add(Account(id=self.s1[1], owner="undone", balance=2))
            session.flush()
            nested.rollback()                            # ROLLBACK TO SAVEPOINT
            self.assertEqual(session.query(sa.func.sum(Account.balance)).scalar(), 201)
        self.assert_rows([(a, "a", 70), (b, "b", 130), (self.s0[1], "kept", 1)])

        with Session() as session:
            session.add(Account(id=b, owner="dup", balance=0))
            with self.assertRaises(sa_exc.IntegrityError) as e:
                session.commit()
            self.assertEqual(driver_suite.sqlstate_of(e.exception), "23505")
            session.rollback()
            session.delete(session.get(Account, self.s0[1]))
            session.commit()
            self.assertEqual(sorted(x.id for x in session.query(Account).all()), sorted([a, b]))
            session.rollback()
        self.assert_rows([(a, "a", 70), (b, "b", 130)])

    def test_asyncpg_dialect_orm_crud_and_transactions(self):
        a, b = self.s0[0], self.s1[0]

        async def main():
            engine = create_async_engine(url(self.T, "asyncpg"), pool_size=5)
            try:
                async with AsyncSession(engine) as session:
                    async with session.begin():
                        session.add_all([Account(id=a, owner="a", balance=100),
                                         Account(id=b, owner="b", balance=100)])
                    async with session.begin():       # a transfer between two shards
                        (await session.get(Account, a)).balance -= 40
                        (await session.get(Account, b)).balance += 40
                    with self.assertRaises(ZeroDivisionError):
                        async with session.begin():
                            (await session.get(Account, a)).balance = 0
                            await session.flush()
                            raise ZeroDivisionError()
                    session.add(Account(id=a, owner="dup", balance=0))
                    with self.assertRaises(sa_exc.IntegrityError) as e:
                        await session.commit()
                    self.assertEqual(driver_suite.sqlstate_of(e.exception), "23505")
                    await session.rollback()
                    result = await session.execute(
                        sa.select(Account.id, Account.balance).order_by(Account.id))
                    return [tuple(r) for r in result]
            finally:
                await engine.dispose()
        got = asyncio.run(asyncio.wait_for(main(), 60))
        self.assertEqual(got, sorted([(a, 60), (b, 140)]))
        self.assert_rows([(a, "a", 60), (b, "b", 140)])


TransactionPooling, SessionPooling = driver_suite.per_pool_mode(Cases, lambda: M)
del Cases

if __name__ == "__main__":
    unittest.main()
