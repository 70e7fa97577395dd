"""Status-timeout timers and the shared test-clock offset, against the real store of each backend."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrion.domain.clock import SystemClock
from orchestrion.domain.models import ConversationStatus, Job
from orchestrion.domain.timeouts import MINUTE_MS
from orchestrion.services import lifecycle
from orchestrion.services.context import Context
from orchestrion.services.conversations import NewConversation, create_conversation
from orchestrion.services.testclock import TestClock
from orchestrion.store.jobs import JobLease
from orchestrion.store.store import Store
from tests.builders import new_configuration

pytestmark = pytest.mark.asyncio

ACCOUNT = "AC" + "7" * 32
TIMEOUTS = {"channelSettings": {"SMS": {"statusTimeouts": {"inactive": 5, "closed": 60}}}}


async def _conversation(ctx: Context, **settings: Any) -> str:
    configuration = new_configuration(ACCOUNT, **settings)
    async with ctx.store.write() as tx:
        await tx.configurations.insert(configuration)
    view = await create_conversation(ctx, ACCOUNT, NewConversation(configuration_id=configuration.id))
    return view.conversation.id


async def _timer_jobs(ctx: Context) -> list[Job]:
    async with ctx.store.write() as tx:
        claimed = await tx.jobs.claim("test", now_ms=ctx.clock.now_ms() + 10**12, lease_ms=1000, limit=100)
        for job in claimed:
            await tx.jobs.complete(JobLease.of(job, "test"))
    return [j for j in claimed if j.kind == lifecycle.TIMER_JOB]


async def _status(ctx: Context, conversation_id: str) -> ConversationStatus:
    async with ctx.store.read() as tx:
        conversation = await tx.conversations.get(ACCOUNT, conversation_id)
    assert conversation is not None
    return conversation.status


async def test_a_conversation_with_timeouts_gets_one_timer_at_its_inactive_deadline(store: Store) -> None:
    ctx = Context(store=store, clock=SystemClock())
    before = ctx.clock.now_ms()
    await _conversation(ctx, **TIMEOUTS)
    [job] = await _timer_jobs(ctx)
    assert before + 5 * MINUTE_MS <= job.payload["dueMs"] <= ctx.clock.now_ms() + 5 * MINUTE_MS


async def test_a_conversation_without_timeouts_gets_no_timer(store: Store) -> None:
    ctx = Context(store=store, clock=SystemClock())
    await _conversation(ctx)
    assert await _timer_jobs(ctx) == []


async def test_a_timer_run_twice_moves_the_conversation_once(store: Store) -> None:
    clock = SystemClock()
    ctx = Context(store=store, clock=clock)
    conversation_id = await _conversation(ctx, **TIMEOUTS)
    [job] = await _timer_jobs(ctx)
    clock.offset_ms = 5 * MINUTE_MS
    handler = lifecycle.TimeoutHandler(ctx)
    await handler.run(job)
    assert await _status(ctx, conversation_id) is ConversationStatus.INACTIVE
    [closing] = await _timer_jobs(ctx)
    await handler.run(job)  # the first job again: stale now, it does nothing
    assert await _status(ctx, conversation_id) is ConversationStatus.INACTIVE
    assert await _timer_jobs(ctx) == []
    assert closing.payload["dueMs"] > job.payload["dueMs"]


async def test_a_timer_that_fires_early_only_reschedules_itself(store: Store) -> None:
    ctx = Context(store=store, clock=SystemClock())
    conversation_id = await _conversation(ctx, **TIMEOUTS)
    [job] = await _timer_jobs(ctx)
    await lifecycle.TimeoutHandler(ctx).run(job)
    assert await _status(ctx, conversation_id) is ConversationStatus.ACTIVE
    [again] = await _timer_jobs(ctx)
    assert again.payload["dueMs"] == job.payload["dueMs"]


async def test_an_advance_is_seen_by_another_process_sharing_the_database(store: Store) -> None:
    first_clock, second_clock = SystemClock(), SystemClock()
    first = TestClock(Context(store=store, clock=first_clock), first_clock)
    second = TestClock(Context(store=store, clock=second_clock), second_clock)
    await first.load()
    moved = await first.advance(90_000)
    await second.load()
    assert second_clock.offset_ms == moved.offset_ms == first_clock.offset_ms
    assert second.state().now_ms >= moved.now_ms
