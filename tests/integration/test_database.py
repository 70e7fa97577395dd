"""The database adapter: a connection that PostgreSQL dropped is a StoreUnavailable, and the pool recovers."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
import sqlalchemy as sa

from orchestrion.domain.errors import StoreUnavailable
from orchestrion.store.database import Database
from orchestrion.store.prepared import Prepared
from orchestrion.store.secrets import SecretBox
from orchestrion.store.store import Store
from tests.conftest import POSTGRES_ADMIN_URL, SECRET_KEY, free_port, postgres_database

pytestmark = pytest.mark.asyncio(loop_scope="function")


@pytest.fixture
def pg_url() -> Iterator[str]:
    from orchestrion.store.migrate import upgrade

    for url in postgres_database():
        upgrade(url)
        yield url


@pytest_asyncio.fixture(loop_scope="function")
async def pg_store(pg_url: str) -> AsyncIterator[tuple[Store, str]]:
    store = Store(Database(pg_url), SecretBox(SECRET_KEY))
    yield store, pg_url.rsplit("/", 1)[1]
    await store.close()


async def _drop_connections(database: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
    finally:
        await admin.close()


async def test_the_polled_action_read_on_a_dropped_connection_is_unavailable_at_most_once_then_recovers(
    pg_store: tuple[Store, str],
) -> None:
    store, database = pg_store
    async with store.read() as tx:  # a pooled connection, which the server then drops
        assert await tx.actions.view("AC" + "0" * 32, "conv_conversation_x", "conv_action_x") is None
    await _drop_connections(database)

    # The pool of prepared reads (store.pg) replaces a connection it saw closed; one whose end it
    # has not read yet fails that read with StoreUnavailable (a 503), never anything else.
    with contextlib.suppress(StoreUnavailable):
        async with store.read() as tx:
            await tx.actions.view("AC" + "0" * 32, "conv_conversation_x", "conv_action_x")
    async with store.read() as tx:
        assert await tx.actions.view("AC" + "0" * 32, "conv_conversation_x", "conv_action_x") is None


async def test_a_failed_commit_on_sqlite_leaves_the_writer_ready_for_the_next_transaction(sqlite_url: str) -> None:
    store = Store(Database(sqlite_url), SecretBox(SECRET_KEY))
    try:
        with pytest.raises(StoreUnavailable):
            async with store.write() as tx:  # checked only at COMMIT, which fails (as on a full disk)
                await tx.conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
                await tx.conn.exec_driver_sql(
                    "INSERT INTO api_keys (sid, account_sid, secret_hash, created_ms) VALUES ('SK', 'AC', x'00', 0)"
                )
        async with store.write() as tx:
            await tx.jobs.enqueue("k", {}, now_ms=1)
        async with store.read() as tx:
            assert await tx.jobs.count("k") == 1
    finally:
        await store.close()


@pytest.mark.parametrize("statement", ["prepared", "sqlalchemy"])
async def test_a_read_while_postgresql_is_down_is_unavailable_whatever_runs_it(statement: str) -> None:
    database = Database(f"postgresql://nobody@127.0.0.1:{free_port()}/none", pool_size=8)  # nothing listens
    one = Prepared(sa.select(sa.bindparam("b_n", type_=sa.Integer).label("n")))
    try:
        with pytest.raises(StoreUnavailable, match="database unavailable"):
            async with database.connect() as conn:
                if statement == "prepared":
                    await conn.run(one, {"b_n": 1})
                else:
                    await conn.execute(sa.text("SELECT 1"))
    finally:
        await database.dispose()


async def test_a_prepared_read_the_server_refuses_to_connect_is_unavailable() -> None:
    # The server answers, but not for this database: asyncpg raises a server error while connecting.
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    database = Database(f"{base}/orchestrion_no_such_database", pool_size=8)
    one = Prepared(sa.select(sa.bindparam("b_n", type_=sa.Integer).label("n")))
    try:
        with pytest.raises(StoreUnavailable, match="database error"):
            async with database.connect() as conn:
                await conn.run(one, {"b_n": 1})
    finally:
        await database.dispose()


async def test_a_constraint_broken_at_commit_is_an_integrity_error_and_the_next_transaction_works(
    pg_store: tuple[Store, str],
) -> None:
    store, database = pg_store
    deferred = sa.Table(f"deferred_{database[-12:]}", sa.MetaData(), sa.Column("id", sa.Integer))
    async with store.write() as tx:
        await tx.conn.exec_driver_sql(
            f"CREATE TABLE {deferred.name} (id int PRIMARY KEY DEFERRABLE INITIALLY DEFERRED)"
        )
    insert = Prepared(deferred.insert())
    with pytest.raises(StoreUnavailable) as raised:
        async with store.write() as tx:
            await tx.conn.run(insert, {"id": 1})
            await tx.conn.run(insert, {"id": 1})  # accepted now, refused by the COMMIT
    assert isinstance(raised.value.__cause__, sa.exc.IntegrityError)
    async with store.write() as tx:
        await tx.conn.run(insert, {"id": 2})
    async with store.read() as tx:
        assert [row.id for row in (await tx.conn.execute(sa.select(deferred.c.id))).all()] == [2]
