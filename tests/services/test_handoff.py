"""services.handoff: a new send job goes straight to this process's dispatcher when it has a free slot."""

from __future__ import annotations

import asyncio

import pytest

from orchestrion.domain import ids
from orchestrion.domain.errors import NotFound
from orchestrion.services import actions
from tests.services.world import World

pytestmark = pytest.mark.asyncio

NOW = {"sandbox": {"stepMs": 0}}


async def test_a_handed_off_send_runs_without_a_claim(world: World) -> None:
    dispatcher = world.dispatcher()
    world.ctx.handoff = dispatcher
    cid = await world.conversation()
    created = await world.send(cid, channel_settings=NOW)
    assert [job.kind for job in dispatcher.running()] == [actions.SEND_JOB]  # started at commit
    await dispatcher.drain()
    assert (await world.action(cid, created["id"]))["status"] == "COMPLETED"
    async with world.ctx.store.read() as tx:
        assert await tx.jobs.entries() == []


async def test_with_every_slot_taken_the_job_is_written_for_a_claim(world: World) -> None:
    dispatcher = world.dispatcher()  # 4 slots
    held = [dispatcher.reserve(actions.SEND_JOB) for _ in range(4)]
    assert all(held) and dispatcher.reserve(actions.SEND_JOB) is None
    world.ctx.handoff = dispatcher
    cid = await world.conversation()
    created = await world.send(cid, channel_settings=NOW)
    async with world.ctx.store.read() as tx:
        [waiting] = await tx.jobs.entries()
    assert waiting.locked_by is None and waiting.attempts == 0
    for reservation in held:
        assert reservation is not None
        reservation.cancel()
    assert await dispatcher.run_once() == 1
    await dispatcher.drain()
    assert (await world.action(cid, created["id"]))["status"] == "COMPLETED"


async def test_a_refused_request_gives_its_slot_back(world: World) -> None:
    dispatcher = world.dispatcher()
    world.ctx.handoff = dispatcher
    for _ in range(5):
        with pytest.raises(NotFound):
            await world.send(ids.new_id(ids.CONVERSATION))
    assert all(dispatcher.reserve(actions.SEND_JOB) for _ in range(4))


async def test_a_stopped_dispatcher_takes_no_handoff(world: World) -> None:
    dispatcher = world.dispatcher()
    stop = asyncio.Event()
    stop.set()
    await dispatcher.run(stop)
    assert dispatcher.reserve(actions.SEND_JOB) is None
