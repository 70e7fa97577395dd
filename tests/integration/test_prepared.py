"""Prepared statements of the hot path: the same answers on both backends, the same errors as SQLAlchemy's."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy import exc

from orchestrion.domain.errors import StoreUnavailable
from orchestrion.store.database import Database
from orchestrion.store.prepared import Prepared
from orchestrion.store.secrets import SecretBox
from orchestrion.store.store import Store
from orchestrion.store.tables import api_keys, jobs
from tests.conftest import SECRET_KEY

pytestmark = pytest.mark.asyncio(loop_scope="function")

_INSERT = Prepared(jobs.insert().returning(jobs.c.id, jobs.c.kind, jobs.c.payload))
_RENAME = Prepared(jobs.update().where(jobs.c.kind == sa.bindparam("b_kind")).values(kind=sa.bindparam("v_kind")))
_PENDING_OF_KIND = Prepared(
    sa.select(jobs.c.kind, jobs.c.payload).where(jobs.c.kind == sa.bindparam("b_kind"), jobs.c.attempts == 0)
)
_KEY = Prepared(api_keys.insert())


@pytest_asyncio.fixture(loop_scope="function")
async def store(database_url: str) -> AsyncIterator[Store]:
    store = Store(Database(database_url), SecretBox(SECRET_KEY))
    yield store
    await store.close()


def _job(kind: str) -> dict[str, object]:
    return {"kind": kind, "payload": {"nested": [1, "two"]}, "max_attempts": 3, "run_at_ms": 1, "created_ms": 1}


async def test_an_insert_returns_its_row_with_json_decoded(store: Store, database_url: str) -> None:
    kind = f"prepared-insert-{database_url[:6]}"
    async with store.write() as tx:
        inserted = await tx.conn.run(_INSERT, _job(kind))
    row = inserted.first()
    assert row is not None and row["kind"] == kind and row.payload == {"nested": [1, "two"]}
    assert isinstance(row["id"], int)


async def test_an_update_counts_the_rows_it_changed(store: Store, database_url: str) -> None:
    kind = f"prepared-update-{database_url[:6]}"
    async with store.write() as tx:
        await tx.conn.run(_INSERT, _job(kind))
        await tx.conn.run(_INSERT, _job(kind))
        renamed = await tx.conn.run(_RENAME, {"b_kind": kind, "v_kind": kind + "-renamed"})
        nothing = await tx.conn.run(_RENAME, {"b_kind": kind, "v_kind": "never"})
    assert (renamed.rowcount, renamed.rows) == (2, [])
    assert nothing.rowcount == 0


async def test_a_literal_in_the_statement_binds_itself(store: Store, database_url: str) -> None:
    kind = f"prepared-literal-{database_url[:6]}"
    async with store.write() as tx:
        await tx.conn.run(_INSERT, _job(kind))
        found = await tx.conn.run(_PENDING_OF_KIND, {"b_kind": kind})
    assert [dict(row) for row in found.rows] == [{"kind": kind, "payload": {"nested": [1, "two"]}}]


async def test_a_missing_value_is_refused_rather_than_bound_as_null(store: Store) -> None:
    with pytest.raises((exc.StatementError, exc.InvalidRequestError), match="b_kind"):
        async with store.write() as tx:
            await tx.conn.run(_RENAME, {"v_kind": "x"})


async def test_a_broken_constraint_is_sqlalchemys_integrity_error_to_the_store(store: Store) -> None:
    with pytest.raises(StoreUnavailable) as raised:
        async with store.write() as tx:  # no such account: the foreign key refuses it
            await tx.conn.run(_KEY, {"sid": "SK" + "0" * 32, "account_sid": "AC", "secret_hash": b"x", "created_ms": 1})
    assert isinstance(raised.value.__cause__, exc.IntegrityError)


async def test_a_driver_failure_becomes_store_unavailable(store: Store) -> None:
    broken = Prepared(sa.select(sa.literal_column("no_such_column")).select_from(jobs))
    with pytest.raises(StoreUnavailable):
        async with store.read() as tx:
            await tx.conn.run(broken, {})


async def test_a_statement_is_part_of_its_transaction_and_rolls_back_with_it(store: Store, database_url: str) -> None:
    kind = f"prepared-rollback-{database_url[:6]}"

    class Abandon(Exception):
        pass

    with pytest.raises(Abandon):
        async with store.write() as tx:
            await tx.conn.run(_INSERT, _job(kind))  # the transaction's first statement
            await tx.conn.execute(jobs.insert().values(**_job(kind)))  # then one through SQLAlchemy
            raise Abandon
    async with store.read() as tx:
        assert (await tx.conn.run(_PENDING_OF_KIND, {"b_kind": kind})).rows == []


async def test_a_read_in_autocommit_takes_no_transaction(store: Store, database_url: str) -> None:
    kind = f"prepared-autocommit-{database_url[:6]}"
    async with store.write() as tx:
        await tx.conn.run(_INSERT, _job(kind))
    async with store.read() as tx:
        first = await tx.conn.run(_PENDING_OF_KIND, {"b_kind": kind})
        async with store.write() as writer:
            await writer.conn.run(_INSERT, _job(kind))
        second = await tx.conn.run(_PENDING_OF_KIND, {"b_kind": kind})  # sees the commit in between
    assert (len(first.rows), len(second.rows)) == (1, 2)


async def test_a_transaction_of_prepared_statements_alone_rolls_back_on_an_error(
    store: Store, database_url: str
) -> None:
    kind = f"prepared-only-rollback-{database_url[:6]}"

    class Abandon(Exception):
        pass

    with pytest.raises(Abandon):
        async with store.write() as tx:
            await tx.conn.run(_INSERT, _job(kind))
            raise Abandon
    async with store.read() as tx:
        assert (await tx.conn.run(_PENDING_OF_KIND, {"b_kind": kind})).rows == []
    async with store.write() as tx:  # the connection went back clean: the next transaction commits
        await tx.conn.run(_INSERT, _job(kind))
    async with store.read() as tx:
        assert len((await tx.conn.run(_PENDING_OF_KIND, {"b_kind": kind})).rows) == 1


@pytest.mark.parametrize("first", ["prepared", "sqlalchemy"])
async def test_a_transaction_mixing_prepared_and_sqlalchemy_statements_commits_both(
    store: Store, database_url: str, first: str
) -> None:
    kind = f"prepared-mixed-{first}-{database_url[:6]}"
    async with store.write() as tx:
        if first == "sqlalchemy":
            await tx.conn.execute(jobs.insert().values(**_job(kind)))
        await tx.conn.run(_INSERT, _job(kind))
        await tx.conn.execute(jobs.insert().values(**_job(kind)))
    async with store.read() as tx:
        found = await tx.conn.run(_PENDING_OF_KIND, {"b_kind": kind})
    assert len(found.rows) == (3 if first == "sqlalchemy" else 2)
