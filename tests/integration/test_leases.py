"""Heartbeats and fencing: a running job keeps its lease, and a run that lost its job writes nothing.

Driven through the real dispatcher and webhook delivery handler on SQLite and
PostgreSQL; time is a manual clock and heartbeats are called by the test, so
"longer than the lease" means exactly that, whatever the machine's speed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from orchestrion.domain.webhooks import DeliveryStatus
from orchestrion.store.store import Store
from orchestrion.store.webhooks import INTERRUPTED
from tests.integration.webhook_support import LEASE_MS, World, webhook_world

pytestmark = pytest.mark.asyncio(loop_scope="function")


@pytest_asyncio.fixture(loop_scope="function")
async def world(store: Store) -> AsyncIterator[World]:
    async with webhook_world(store) as w:
        yield w


async def test_a_job_running_longer_than_its_lease_is_not_claimed_by_another_dispatcher(world: World) -> None:
    release = world.hold_next_request()
    await world.emit("slow")
    first, second = world.dispatcher("worker-a"), world.dispatcher("worker-b")
    assert await first.run_once() == 1
    await world.request_held()

    for _ in range(4):  # two whole leases go by, with a heartbeat every half lease
        world.clock.advance(LEASE_MS // 2)
        await first.heartbeat()
        assert await second.run_once() == 0

    release.set()
    await first.drain()
    [(delivery, attempts)] = await world.log()
    assert delivery.status is DeliveryStatus.DELIVERED
    assert [(a.number, a.status_code) for a in attempts] == [(1, 200)]
    assert len(world.seen) == 1


async def test_a_run_whose_job_was_taken_over_commits_nothing(world: World) -> None:
    release = world.hold_next_request()
    await world.emit("stalled")
    first, second = world.dispatcher("worker-a"), world.dispatcher("worker-b")
    assert await first.run_once() == 1
    await world.request_held()

    world.clock.advance(LEASE_MS + 1)  # the first worker stalls: no heartbeat for a whole lease
    assert await second.run_once() == 1
    await second.drain()  # the second run delivers the event (attempt 2) and completes the job

    release.set()  # the first run's answer comes back late
    await first.drain()
    [(delivery, attempts)] = await world.log()
    assert delivery.status is DeliveryStatus.DELIVERED
    # The first run's outcome was refused: its attempt shows only as interrupted.
    assert [(a.number, a.status_code, a.error) for a in attempts] == [(1, None, INTERRUPTED), (2, 200, None)]
    async with world.ctx.store.read() as tx:
        assert await tx.jobs.count() == 0


async def test_a_heartbeat_that_finds_its_job_taken_stops_the_run(world: World) -> None:
    first_release, second_release = world.hold_next_request(), world.hold_next_request()
    await world.emit("stalled")
    first, second = world.dispatcher("worker-a"), world.dispatcher("worker-b")
    await first.run_once()
    await world.request_held()
    world.clock.advance(LEASE_MS + 1)
    await second.run_once()
    await world.request_held()

    await first.heartbeat()  # finds the job taken: the first run is stopped at once
    await first.drain()
    assert first.running() == []
    second_release.set()
    await second.drain()
    first_release.set()
    [(_, attempts)] = await world.log()
    assert [(a.number, a.status_code, a.error) for a in attempts] == [(1, None, INTERRUPTED), (2, 200, None)]
