"""Migrations produce exactly the schema that store/tables.py describes, on both backends."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from orchestrion.store.database import Database
from orchestrion.store.migrate import alembic_config
from orchestrion.store.tables import metadata
from tests.conftest import postgres_database


def _diff(url: str) -> list[Any]:
    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async def run() -> list[Any]:
        database = Database(url)
        try:
            async with database.connect() as conn:
                return await conn.run_sync(compare)
        finally:
            await database.dispose()

    return asyncio.run(run())


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Any) -> Any:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    yield from postgres_database()


def test_migrating_step_by_step_gives_the_declared_schema(empty_database: str) -> None:
    command.upgrade(alembic_config(empty_database), "head")
    assert _diff(empty_database) == []


def test_an_upgrade_from_empty_commits_once_so_processes_started_together_never_repeat_a_migration(
    empty_database: str,
) -> None:
    # The migration lock lives as long as one transaction: an upgrade that committed between
    # migrations would let a second process read the version there and run the next one again.
    commits: list[str] = []

    def count(conn: sa.Connection) -> None:
        commits.append(conn.dialect.name)

    sa.event.listen(sa.Engine, "commit", count)
    try:
        command.upgrade(alembic_config(empty_database), "head")
    finally:
        sa.event.remove(sa.Engine, "commit", count)
    assert len(commits) == 1
    assert _diff(empty_database) == []


def test_downgrade_to_base_and_upgrade_again_gives_the_declared_schema(empty_database: str) -> None:
    config = alembic_config(empty_database)
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    command.upgrade(config, "head")
    assert _diff(empty_database) == []


def test_profile_addresses_become_profiles_and_identifiers(empty_database: str) -> None:
    config = alembic_config(empty_database)
    command.upgrade(config, "0001")
    rows = [
        ("ACa", "+14155550100", "mem_profile_1", 1),
        ("ACa", "CHAT:ada", "mem_profile_1", 2),
        ("ACa", "VOICE:+14155550100", "mem_profile_2", 3),  # the same number: already the first profile's
        ("ACb", "+14155550100", "mem_profile_3", 4),
    ]

    async def arrange() -> None:
        database = Database(empty_database)
        try:
            async with database.begin() as conn:
                for account, address, profile, ms in rows:
                    await conn.execute(
                        sa.text("INSERT INTO profile_addresses VALUES (:a, :k, :p, :ms)"),
                        {"a": account, "k": address, "p": profile, "ms": ms},
                    )
        finally:
            await database.dispose()

    async def read(query: str) -> list[tuple[Any, ...]]:
        database = Database(empty_database)
        try:
            async with database.connect() as conn:
                return [tuple(r) for r in await conn.execute(sa.text(query))]
        finally:
            await database.dispose()

    asyncio.run(arrange())
    command.upgrade(config, "head")
    assert asyncio.run(read("SELECT id, account_sid, created_ms FROM profiles ORDER BY id")) == [
        ("mem_profile_1", "ACa", 1),
        ("mem_profile_2", "ACa", 3),
        ("mem_profile_3", "ACb", 4),
    ]
    assert asyncio.run(
        read("SELECT account_sid, id_type, value, profile_id FROM profile_identifiers ORDER BY 1, 2")
    ) == [
        ("ACa", "chat", "ada", "mem_profile_1"),
        ("ACa", "phone", "+14155550100", "mem_profile_1"),
        ("ACb", "phone", "+14155550100", "mem_profile_3"),
    ]
    command.downgrade(config, "0001")
    assert sorted(asyncio.run(read("SELECT account_sid, address, profile_id FROM profile_addresses"))) == [
        ("ACa", "+14155550100", "mem_profile_1"),
        ("ACa", "CHAT:ada", "mem_profile_1"),
        ("ACb", "+14155550100", "mem_profile_3"),
    ]
