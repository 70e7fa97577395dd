"""Migrations produce exactly the schema that store/tables.py describes, on both backends."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
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


def test_downgrade_to_base_and_upgrade_again_gives_the_declared_schema(empty_database: str) -> None:
    config = alembic_config(empty_database)
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    command.upgrade(config, "head")
    assert _diff(empty_database) == []
