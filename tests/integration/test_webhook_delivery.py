"""Status-callback delivery through the real outbox and dispatcher, on SQLite and PostgreSQL.

Time is a test clock (backoffs elapse and events age when the test says so)
and the receiver is an in-memory HTTP transport that answers from a script,
so retries, give-ups, ordering and crash leftovers are checked exactly.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
import sqlalchemy as sa

from orchestrion.dispatch.retry import Backoff
from orchestrion.dispatch.worker import Dispatcher
from orchestrion.domain import ids
from orchestrion.domain.models import Account, Conversation, ConversationStatus
from orchestrion.domain.webhooks import DeliveryStatus, EventType, WebhookAttempt
from orchestrion.services import events
from orchestrion.services.context import Context
from orchestrion.services.webhooks import DELIVER_JOB, DeliveryHandler
from orchestrion.store.store import Store
from orchestrion.store.tables import jobs
from orchestrion.store.webhooks import INTERRUPTED
from orchestrion.webhooks.sender import WebhookPolicy, WebhookSender
from tests.integration.dispatch_support import ManualClock, run_until_idle

pytestmark = pytest.mark.asyncio(loop_scope="function")

START_MS = 1_900_000_000_000
LEASE_MS = 1_000
MAX_ATTEMPTS = 3
MAX_AGE_MS = 60_000
HOOK_A = "https://hooks.example.com/a"
HOOK_B = "https://hooks.example.com/b"


@dataclasses.dataclass
class World:
    ctx: Context
    clock: ManualClock
    conversation: Conversation
    script: dict[str, list[int]]  # per URL path: the status of each answer in turn (the last repeats)
    seen: list[httpx.Request]

    def dispatcher(self, worker_id: str = "worker-a") -> Dispatcher:
        return Dispatcher(
            self.ctx,
            {DELIVER_JOB: DeliveryHandler(self.ctx)},
            worker_id=worker_id,
            concurrency=4,
            lease_ms=LEASE_MS,
            backoff=Backoff(base_ms=100, cap_ms=1_000),
        )

    async def emit(self, name: str, conversation: Conversation | None = None) -> None:
        async with self.ctx.store.write() as tx:
            await events.emit(
                self.ctx, tx, conversation or self.conversation, EventType.CONVERSATION_UPDATED, {"name": name}
            )

    async def run_until_idle(self, dispatcher: Dispatcher) -> None:
        await run_until_idle(self.ctx, self.clock, dispatcher)

    async def log(self) -> list[tuple[Any, list[WebhookAttempt]]]:
        async with self.ctx.store.read() as tx:
            rows = list(await tx.conn.execute(sa.text("SELECT id FROM webhook_deliveries ORDER BY id")))
            out = []
            for row in rows:
                delivery = await tx.webhooks.get(row.id)
                attempts = (await tx.webhooks.attempts_of([row.id]))[row.id]
                out.append((delivery, attempts))
        return out

    def names(self) -> list[tuple[str, str]]:
        return [(r.url.path, httpx.Response(200, content=r.content).json()["data"]["name"]) for r in self.seen]


@pytest_asyncio.fixture(loop_scope="function")
async def world(store: Store) -> AsyncIterator[World]:
    clock = ManualClock(START_MS)
    script: dict[str, list[int]] = {}
    seen: list[httpx.Request] = []

    async def receive(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answers = script.setdefault(request.url.path, [200])
        return httpx.Response(answers.pop(0) if len(answers) > 1 else answers[0])

    policy = WebhookPolicy(timeout_s=1.0, max_attempts=MAX_ATTEMPTS, max_age_ms=MAX_AGE_MS)

    async def public_address(_host: str, _port: int) -> list[str]:
        return ["93.184.215.14"]  # hooks.example.com, as a public DNS would answer

    sender = WebhookSender(policy, transport=httpx.MockTransport(receive), resolver=public_address)
    ctx = Context(store=store, clock=clock, webhooks=sender)
    account = Account(sid=ids.new_account_sid(), auth_token=ids.new_secret(), created_ms=START_MS)
    async with store.write() as tx:
        # The database is the module's; each test starts with an empty delivery log (the outbox is emptied too).
        await tx.conn.exec_driver_sql("DELETE FROM webhook_attempts")
        await tx.conn.exec_driver_sql("DELETE FROM webhook_deliveries")
        await tx.accounts.insert(account)
    conversation = Conversation(
        id=ids.new_id(ids.CONVERSATION),
        account_sid=account.sid,
        configuration_id=ids.new_id(ids.CONFIGURATION),
        configuration_version=1,
        configuration={"statusCallbacks": [{"url": HOOK_A, "method": "POST"}]},
        status=ConversationStatus.ACTIVE,
        name=None,
        metadata={},
        status_callbacks=None,
        created_ms=START_MS,
        updated_ms=START_MS,
    )
    yield World(ctx, clock, conversation, script, seen)
    await sender.aclose()


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
        [retry_at] = (await tx.conn.execute(sa.select(sa.func.min(jobs.c.run_at_ms)).where(jobs.c.attempts == 1))).one()
        due = await tx.jobs.next_due_ms()
    assert due == retry_at > world.clock.now  # so an idle dispatcher sleeps until then instead of polling


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
