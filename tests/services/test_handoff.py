"""services.handoff: a new send job goes straight to this process's dispatcher, at once or after a short wait."""

from __future__ import annotations

import asyncio

import pytest

from orchestrion.dispatch.worker import Dispatcher
from orchestrion.domain import ids
from orchestrion.domain.errors import NotFound
from orchestrion.services import actions
from orchestrion.services.handoff import NoHandoff, Reservation
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


# --- admission (backpressure): a new Action waits a bounded time for a slot


def _take_every_slot(dispatcher: Dispatcher) -> list[Reservation]:
    held = [reservation for _ in range(4) if (reservation := dispatcher.reserve(actions.SEND_JOB)) is not None]
    assert len(held) == 4  # a fifth try would mark the pool as refusing work, which is not what these tests set up
    return held


async def _waiting_for_a_slot(dispatcher: Dispatcher, count: int) -> None:
    """Until ``count`` requests wait for a slot (the loop is single-threaded: a few turns do)."""
    for _ in range(100):
        if dispatcher.waiting() == count:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"{dispatcher.waiting()} requests wait, not {count}")


async def test_a_send_waits_for_a_slot_to_free_and_is_handed_off(world: World) -> None:
    dispatcher = world.dispatcher(admission_wait_s=30)
    world.ctx.handoff = dispatcher
    held = _take_every_slot(dispatcher)
    cid = await world.conversation()
    sending = asyncio.create_task(world.send(cid, channel_settings=NOW))
    await _waiting_for_a_slot(dispatcher, 1)
    assert not sending.done()
    held[0].cancel()
    created = await sending
    assert [job.kind for job in dispatcher.running()] == [actions.SEND_JOB]  # handed off, not left to a claim
    await dispatcher.drain()
    assert (await world.action(cid, created["id"]))["status"] == "COMPLETED"
    async with world.ctx.store.read() as tx:
        assert await tx.jobs.entries() == []


async def test_after_the_admission_wait_the_job_is_written_for_a_claim(world: World) -> None:
    dispatcher = world.dispatcher(admission_wait_s=0.01)
    world.ctx.handoff = dispatcher
    _take_every_slot(dispatcher)
    cid = await world.conversation()
    await world.send(cid, channel_settings=NOW)
    async with world.ctx.store.read() as tx:
        [waiting] = await tx.jobs.entries()
    assert waiting.locked_by is None
    assert dispatcher.waiting() == 0


async def test_requests_get_freed_slots_in_the_order_they_came(world: World) -> None:
    dispatcher = world.dispatcher(admission_wait_s=30)
    held = _take_every_slot(dispatcher)
    order: list[int] = []

    async def admitted(n: int) -> None:
        reservation = await dispatcher.admit(actions.SEND_JOB)
        assert reservation is not None
        order.append(n)

    tasks = []
    for n in range(3):
        tasks.append(asyncio.create_task(admitted(n)))
        await _waiting_for_a_slot(dispatcher, n + 1)
    for reservation in held[:3]:
        reservation.cancel()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2]


async def test_a_request_cancelled_while_it_waits_passes_its_slot_on(world: World) -> None:
    dispatcher = world.dispatcher(admission_wait_s=30)
    held = _take_every_slot(dispatcher)
    first = asyncio.create_task(dispatcher.admit(actions.SEND_JOB))
    await _waiting_for_a_slot(dispatcher, 1)
    second = asyncio.create_task(dispatcher.admit(actions.SEND_JOB))
    await _waiting_for_a_slot(dispatcher, 2)
    held[0].cancel()  # the slot goes to the first...
    first.cancel()  # ...which is cancelled before it could take it
    assert await second is not None
    assert first.cancelled()


async def test_a_stopping_dispatcher_lets_its_waiting_requests_go_without_a_slot(world: World) -> None:
    dispatcher = world.dispatcher(admission_wait_s=30)
    _take_every_slot(dispatcher)
    waiting = asyncio.create_task(dispatcher.admit(actions.SEND_JOB))
    await _waiting_for_a_slot(dispatcher, 1)
    stop = asyncio.Event()
    stop.set()
    await dispatcher.run(stop)
    assert await waiting is None


async def test_while_jobs_wait_in_the_outbox_freed_slots_alternate_between_claims_and_requests(world: World) -> None:
    dispatcher = world.dispatcher(admission_wait_s=30)
    world.ctx.handoff = dispatcher
    held = _take_every_slot(dispatcher)
    cid = await world.conversation()
    world.ctx.handoff = NoHandoff()
    await world.send(cid, channel_settings=NOW)  # a job in the outbox, for a claim
    assert dispatcher.reserve(actions.SEND_JOB) is None  # refused: the pool knows work may wait for it
    request = asyncio.create_task(dispatcher.admit(actions.SEND_JOB))
    await _waiting_for_a_slot(dispatcher, 1)
    held[0].cancel()  # this slot is the claim's turn...
    await asyncio.sleep(0)
    assert dispatcher.waiting() == 1
    assert await dispatcher.run_once() == 1  # ...and the claim takes the job from the outbox
    held[1].cancel()  # the next one goes to the request
    assert await request is not None
    await dispatcher.drain()


async def test_a_claim_that_finds_no_job_hands_the_freed_slot_to_a_waiting_request(world: World) -> None:
    dispatcher = world.dispatcher(admission_wait_s=30)
    held = _take_every_slot(dispatcher)
    assert dispatcher.reserve(actions.SEND_JOB) is None  # refused: the next freed slot is the claim's turn
    request = asyncio.create_task(dispatcher.admit(actions.SEND_JOB))
    await _waiting_for_a_slot(dispatcher, 1)
    held[0].cancel()
    assert await dispatcher.run_once() == 0
    assert await request is not None
