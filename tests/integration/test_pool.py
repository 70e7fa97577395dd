"""The PostgreSQL pool: never more connections than its size, none held while waiting for another, SSL as asked.

On PostgreSQL only (SQLite has no pool): each test gets its own database.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy import event

from orchestrion.domain import ids
from orchestrion.domain.inbound import InboundMessage
from orchestrion.runtime import Runtime
from orchestrion.services import ingestion
from orchestrion.store.database import Database
from orchestrion.store.pool import room
from tests.conftest import postgres_database, test_settings
from tests.integration.dispatch_support import ManualClock
from tests.send_cases import AGENT, CUSTOMER, SENT_MESSAGE_EVENTS
from tests.services.world import START_MS, World
from tests.sqltrace import trace

pytestmark = pytest.mark.asyncio


@pytest.fixture
def pg_url() -> Iterator[str]:
    from orchestrion.store.migrate import upgrade

    for url in postgres_database():
        upgrade(url)
        yield url


@pytest_asyncio.fixture
async def one_connection(pg_url: str) -> AsyncIterator[World]:
    """The services on a pool of ONE connection: anything that holds one while asking for another waits forever."""
    runtime = Runtime.build(test_settings(pg_url, db_pool_size=1))
    assert runtime.ctx.store.database.pool_size == 1
    clock = ManualClock(START_MS)
    ctx = dataclasses.replace(runtime.ctx, clock=clock)
    try:
        yield World(ctx, clock, ids.new_account_sid(), trace(ctx.store))
    finally:
        await ctx.webhooks.aclose()
        await ctx.store.close()


async def test_a_burst_waits_for_the_pool_instead_of_opening_more_connections(pg_url: str) -> None:
    database = Database(pg_url, pool_size=2)
    opened = 0

    def count(*_: object) -> None:
        nonlocal opened
        opened += 1

    for engine in database.engines():
        event.listen(engine, "connect", count)
    try:

        async def read() -> None:
            async with database.connect() as conn:
                await conn.execute(sa.text("SELECT pg_sleep(0.02)"))

        await asyncio.gather(*(read() for _ in range(12)))
    finally:
        await database.dispose()
    assert opened == 2


async def test_every_use_case_runs_on_a_pool_of_one_connection(one_connection: World) -> None:
    world = one_connection
    rules = {"SMS": {"captureRules": [{"from": "*", "to": AGENT}]}}
    cid = await world.conversation(await world.configuration(channelSettings=rules), callbacks=True)
    created = await world.send(cid)
    await asyncio.wait_for(world.finish(), timeout=60)
    assert (await world.action(cid, created["id"]))["status"] == "COMPLETED"
    reply = InboundMessage(ids.new_message_sid(), CUSTOMER, AGENT, body="thanks")
    assert (await ingestion.ingest(world.ctx, world.account_sid, reply)).conversation_id == cid
    assert [t for t, _ in await world.events(cid)] == [*SENT_MESSAGE_EVENTS, "COMMUNICATION_CREATED"]


async def test_an_explicit_sslmode_in_the_url_is_given_to_the_driver(pg_url: str) -> None:
    database = Database(pg_url + "?sslmode=disable")
    try:
        async with database.connect() as conn:
            ssl = await conn.execute(sa.text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"))
            assert ssl.scalar() is False
    finally:
        await database.dispose()


async def test_the_servers_room_is_what_max_connections_leaves(pg_url: str) -> None:
    database = Database(pg_url)
    try:
        left = await room(database)
        async with database.connect() as conn:
            limit = int((await conn.execute(sa.text("SHOW max_connections"))).scalar_one())
    finally:
        await database.dispose()
    assert left is not None and left.max_connections == limit
    assert 0 < left.free <= limit - left.reserved
