"""Service-level fixtures: a ``World`` on each backend's real database (SQLite file, private PostgreSQL)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest_asyncio

from orchestrion.domain import ids
from orchestrion.runtime import Runtime
from orchestrion.store.tables import jobs
from tests.conftest import test_settings
from tests.integration.dispatch_support import ManualClock
from tests.services.world import START_MS, STEP_MS, World
from tests.sqltrace import trace


@pytest_asyncio.fixture
async def world(private_database_url: str) -> AsyncIterator[World]:
    """A fresh account on this module's database, time stopped at START_MS, an empty outbox."""
    runtime = Runtime.build(test_settings(private_database_url))
    clock = ManualClock(START_MS)
    sql = trace(runtime.ctx.store)  # before the store's first connection
    ctx = dataclasses.replace(runtime.ctx, clock=clock, sandbox_step_ms=STEP_MS)
    async with ctx.store.write() as tx:
        await tx.conn.execute(jobs.delete())  # what an earlier test of the module left scheduled
    try:
        yield World(ctx, clock, ids.new_account_sid(), sql)
    finally:
        await ctx.webhooks.aclose()
        await ctx.store.close()
