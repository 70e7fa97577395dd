"""Integration fixtures: a Store on each backend's real database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest_asyncio

from orchestrion.store.database import Database
from orchestrion.store.secrets import SecretBox
from orchestrion.store.store import Store
from tests.conftest import SECRET_KEY


@pytest_asyncio.fixture
async def store(private_database_url: str) -> AsyncIterator[Store]:
    s = Store(Database(private_database_url), SecretBox(SECRET_KEY))
    async with s.write() as tx:
        # Jobs are global (not per account): each test starts with an empty outbox and no dead letters.
        await tx.conn.exec_driver_sql("DELETE FROM jobs")
        await tx.conn.exec_driver_sql("DELETE FROM dead_jobs")
    yield s
    await s.close()
    await asyncio.sleep(0)
