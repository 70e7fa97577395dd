"""Status-callback delivery through the real outbox and dispatcher, on SQLite and PostgreSQL.

Time is a manual clock and the receiver an in-memory HTTP transport that
answers from a script (``webhook_support``), so retries, give-ups, ordering
and crash leftovers are checked exactly.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
import sqlalchemy as sa

from orchestrion.domain import ids
from orchestrion.domain.errors import InvalidState, NotFound
from orchestrion.domain.webhooks import DeliveryStatus, EventType
from orchestrion.services import events, webhooks
from orchestrion.services import jobs as jobs_service
from orchestrion.services.webhooks import DELIVER_JOB
from orchestrion.store.store import Store
from orchestrion.store.tables import jobs
from orchestrion.store.webhooks import INTERRUPTED
from tests.integration.webhook_support import HOOK_A, HOOK_B, LEASE_MS, MAX_AGE_MS, MAX_ATTEMPTS, World, webhook_world

pytestmark = pytest.mark.asyncio(loop_scope="function")


@pytest_asyncio.fixture(loop_scope="function")
async def world(store: Store) -> AsyncIterator[World]:
    async with webhook_world(store) as w:
        yield w


async def test_a_5xx_is_retried_until_delivered_with_one_token(world: World) -> None:
    world.script["/a"] = [500, 503, 200]
    await world.emit("first")
    await world.run_until_idle(world.dispatcher())
    [(delivery, attempts)] = await world.log()
    assert delivery.status is DeliveryStatus.DELIVERED and delivery.attempts == 3
    assert [(a.number, a.status_code) for a in attempts] == [(1, 500), (2, 503), (3, 200)]
    assert {r.headers["i-twilio-idempotency-token"] for r in world.seen} == {delivery.id}


async def test_an_event_that_runs_out_of_attempts_fails(world: World) -> None:
    world.script["/a"] = [500]
    await world.emit("first")
    await world.run_until_idle(world.dispatcher())
    [(delivery, attempts)] = await world.log()
    assert len(world.seen) == len(attempts) == MAX_ATTEMPTS
    assert (delivery.status, delivery.failure_reason) == (
        DeliveryStatus.FAILED,
        f"HTTP 500 (after {MAX_ATTEMPTS} attempts)",
    )
    assert delivery.completed_ms == world.clock.now


async def test_a_failed_delivery_retried_by_an_operator_goes_on_with_its_attempt_numbers(world: World) -> None:
    world.script["/a"] = [500, 500, 500, 200]
    await world.emit("late")
    await world.run_until_idle(world.dispatcher())
    [dead] = await jobs_service.list_jobs(world.ctx, dead=True, kind=DELIVER_JOB)
    assert dead.last_error == "HTTP 500"

    await jobs_service.retry_dead_job(world.ctx, dead.id)
    await world.run_until_idle(world.dispatcher())

    [(delivery, attempts)] = await world.log()
    assert (delivery.status, delivery.failure_reason) == (DeliveryStatus.DELIVERED, None)
    assert [(a.number, a.status_code) for a in attempts] == [(1, 500), (2, 500), (3, 500), (4, 200)]
    assert await jobs_service.list_jobs(world.ctx, dead=True) == []


async def test_an_event_older_than_the_maximum_age_gets_one_attempt_and_no_retry(world: World) -> None:
    world.script["/a"] = [500, 200]
    await world.emit("stale")
    world.clock.now += MAX_AGE_MS
    await world.run_until_idle(world.dispatcher())
    [(delivery, attempts)] = await world.log()
    assert len(attempts) == 1 and delivery.status is DeliveryStatus.FAILED
    assert delivery.failure_reason == "HTTP 500; no retry: the event is 60 s old (after 1 attempt)"


async def test_a_later_event_waits_while_an_earlier_one_is_retried(world: World) -> None:
    world.script["/a"] = [500, 200]
    await world.emit("first")
    await world.emit("second")
    dispatcher = world.dispatcher()
    assert await dispatcher.run_once() == 1  # only the head of the conversation's stream
    await dispatcher.drain()
    assert await dispatcher.run_once() == 0  # the head waits for its retry; the second waits for the head
    await world.run_until_idle(dispatcher)
    assert world.names() == [("/a", "first"), ("/a", "first"), ("/a", "second")]


async def test_an_event_held_back_by_a_retry_is_not_due_before_it(world: World) -> None:
    world.script["/a"] = [500, 200]
    await world.emit("first")
    await world.emit("second")
    dispatcher = world.dispatcher()
    await dispatcher.run_once()
    await dispatcher.drain()
    async with world.ctx.store.read() as tx:
        [retry_at] = (await tx.conn.execute(sa.select(jobs.c.lease_until_ms).where(jobs.c.attempts == 1))).one()
        due_in = await tx.jobs.next_due_in_ms(now_ms=world.clock.now)
    assert due_in == retry_at - world.clock.now > 0  # so an idle dispatcher sleeps until then instead of polling


async def test_each_callback_url_is_its_own_stream(world: World) -> None:
    world.script["/a"] = [500, 200]
    both = dataclasses.replace(world.conversation, status_callbacks=[{"url": HOOK_A}, {"url": HOOK_B}])
    await world.emit("first", both)
    await world.emit("second", both)
    dispatcher = world.dispatcher()
    assert await dispatcher.run_once() == 2  # the heads of both streams at once
    await dispatcher.drain()
    assert world.names() == [("/a", "first"), ("/b", "first")] or world.names() == [("/b", "first"), ("/a", "first")]
    await world.run_until_idle(dispatcher)
    assert [name for path, name in world.names() if path == "/b"] == ["first", "second"]
    assert [name for path, name in world.names() if path == "/a"] == ["first", "first", "second"]


async def test_an_attempt_lost_with_its_worker_shows_as_interrupted(world: World) -> None:
    await world.emit("first")
    async with world.ctx.store.write() as tx:  # a worker claims the job, then dies before recording anything
        [claimed] = await tx.jobs.claim("dead-worker", now_ms=world.clock.now, lease_ms=LEASE_MS, limit=1)
    assert claimed.attempts == 1
    world.clock.now += LEASE_MS + 1
    await world.run_until_idle(world.dispatcher())
    [(delivery, attempts)] = await world.log()
    assert delivery.status is DeliveryStatus.DELIVERED
    assert [(a.number, a.status_code, a.error) for a in attempts] == [(1, None, INTERRUPTED), (2, 200, None)]


async def test_a_delivered_event_is_not_sent_again_when_its_job_runs_twice(world: World) -> None:
    await world.emit("once")
    await world.run_until_idle(world.dispatcher())
    [(delivery, _)] = await world.log()
    async with world.ctx.store.write() as tx:  # the job survived a crash after the delivery was recorded
        await tx.jobs.enqueue(DELIVER_JOB, {"deliveryId": delivery.id}, now_ms=world.clock.now)
    await world.run_until_idle(world.dispatcher())
    assert len(world.seen) == 1


async def test_a_4xx_fails_at_once(world: World) -> None:
    world.script["/a"] = [410, 200]
    await world.emit("gone")
    await world.run_until_idle(world.dispatcher())
    [(delivery, attempts)] = await world.log()
    assert [a.status_code for a in attempts] == [410]
    assert delivery.failure_reason == "HTTP 410: not retried (after 1 attempt)"


async def test_no_callbacks_means_no_delivery_and_no_job(world: World) -> None:
    silent = dataclasses.replace(world.conversation, status_callbacks=[])
    async with world.ctx.store.write() as tx:
        assert await events.emit(world.ctx, tx, silent, EventType.CONVERSATION_UPDATED, {}) == 0
    async with world.ctx.store.read() as tx:
        assert await tx.jobs.count() == 0
    assert await world.log() == []


async def test_finished_deliveries_past_retention_are_purged_with_their_attempts(world: World) -> None:
    await world.emit("old")
    await world.run_until_idle(world.dispatcher())
    await world.emit("pending")
    async with world.ctx.store.write() as tx:
        assert await tx.webhooks.purge(world.clock.now + 1) == 1
    [(delivery, attempts)] = await world.log()
    assert (delivery.status, attempts) == (DeliveryStatus.PENDING, [])
    async with world.ctx.store.read() as tx:
        left = (await tx.conn.execute(sa.select(sa.func.count()).select_from(jobs))).scalar_one()
    assert left == 1


# --- Redelivery (the console's Redeliver button): the same event, once more, through the outbox.


async def test_a_failed_event_redelivered_gets_one_more_attempt_with_the_same_token(world: World) -> None:
    world.script["/a"] = [410, 200]
    await world.emit("again")
    await world.run_until_idle(world.dispatcher())
    [(failed, _)] = await world.log()
    assert failed.status is DeliveryStatus.FAILED
    await webhooks.redeliver(world.ctx, failed.account_sid, failed.conversation_id, failed.id)
    await world.run_until_idle(world.dispatcher())
    [(delivery, attempts)] = await world.log()
    assert (delivery.status, delivery.failure_reason) == (DeliveryStatus.DELIVERED, None)
    assert [(a.number, a.status_code) for a in attempts] == [(1, 410), (2, 200)]
    assert [r.headers["i-twilio-idempotency-token"] for r in world.seen] == [delivery.id, delivery.id]
    assert world.names() == [("/a", "again"), ("/a", "again")]


async def test_a_delivered_event_can_be_delivered_again(world: World) -> None:
    await world.emit("twice")
    await world.run_until_idle(world.dispatcher())
    [(delivered, _)] = await world.log()
    await webhooks.redeliver(world.ctx, delivered.account_sid, delivered.conversation_id, delivered.id)
    await world.run_until_idle(world.dispatcher())
    [(delivery, attempts)] = await world.log()
    assert delivery.status is DeliveryStatus.DELIVERED
    assert [(a.number, a.status_code) for a in attempts] == [(1, 200), (2, 200)]


async def test_a_redelivered_event_counts_its_age_from_the_redelivery(world: World) -> None:
    world.script["/a"] = [410, 500, 200]
    await world.emit("late")
    await world.run_until_idle(world.dispatcher())
    [(failed, _)] = await world.log()
    world.clock.now += 2 * MAX_AGE_MS  # long after the event: a retry would not be scheduled by its own age
    await webhooks.redeliver(world.ctx, failed.account_sid, failed.conversation_id, failed.id)
    await world.run_until_idle(world.dispatcher())
    [(delivery, attempts)] = await world.log()
    assert [(a.number, a.status_code) for a in attempts] == [(1, 410), (2, 500), (3, 200)]
    assert delivery.status is DeliveryStatus.DELIVERED


async def test_an_event_still_being_delivered_is_not_redelivered(world: World) -> None:
    await world.emit("pending")
    [(pending, _)] = await world.log()
    with pytest.raises(InvalidState):
        await webhooks.redeliver(world.ctx, pending.account_sid, pending.conversation_id, pending.id)
    async with world.ctx.store.read() as tx:
        assert await tx.jobs.count() == 1


async def test_another_accounts_event_is_not_found(world: World) -> None:
    await world.emit("theirs")
    await world.run_until_idle(world.dispatcher())
    [(delivery, _)] = await world.log()
    with pytest.raises(NotFound):
        await webhooks.redeliver(world.ctx, ids.new_account_sid(), delivery.conversation_id, delivery.id)
