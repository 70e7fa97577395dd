"""Processes started together on an empty database: migrations run once, every process comes up.

Each command applies the migrations first; started at once, the processes
would race in Alembic. They take a lock (an advisory lock on PostgreSQL, the
write lock on SQLite) so one migrates and the others find the schema ready.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from orchestrion.runtime import Runtime
from orchestrion.store.tables import accounts
from tests.acceptance.processes import Processes
from tests.conftest import postgres_database, test_settings
from tests.integration.test_migrations import _diff

pytestmark = pytest.mark.slow

ACCOUNT = {"ORCHESTRION_ACCOUNT_SID": "AC" + "7" * 32, "ORCHESTRION_AUTH_TOKEN": "t" * 32}


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    yield from postgres_database()


def test_servers_started_together_on_an_empty_database_all_come_up(empty_database: str) -> None:
    processes = Processes(empty_database)
    try:
        started = [processes.start_serve(**ACCOUNT) for _ in range(3)]
        urls = [processes.healthy(url, proc) for url, proc in started]
        auth = (ACCOUNT["ORCHESTRION_ACCOUNT_SID"], ACCOUNT["ORCHESTRION_AUTH_TOKEN"])
        for url in urls:
            assert httpx.get(url + "/v2/Conversations", auth=auth, timeout=10).status_code == 200
    finally:
        processes.stop_all()
    assert _diff(empty_database) == []


def test_servers_started_together_without_an_account_make_one_development_account(empty_database: str) -> None:
    processes = Processes(empty_database)
    try:
        started = [processes.start_serve() for _ in range(3)]
        for url, proc in started:
            processes.healthy(url, proc)
    finally:
        processes.stop_all()
    assert _accounts(empty_database) == 1


def _accounts(database_url: str) -> int:
    async def count() -> int:
        runtime = Runtime.build(test_settings(database_url))
        try:
            async with runtime.ctx.store.read() as tx:
                return int((await tx.conn.execute(sa.select(sa.func.count()).select_from(accounts))).scalar_one())
        finally:
            await runtime.ctx.store.close()

    return asyncio.run(count())
