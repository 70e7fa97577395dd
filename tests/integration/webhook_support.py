"""A world for driving status-callback deliveries through the real outbox and dispatcher.

Time is a manual clock (backoffs elapse, events age and leases run out when
the test says so) and the receiver is an in-memory HTTP transport that
answers from a script, and can hold a request open until the test lets it go.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import httpx
import sqlalchemy as sa

from orchestrion.dispatch.retry import Backoff
from orchestrion.dispatch.worker import Dispatcher
from orchestrion.domain import ids
from orchestrion.domain.models import Account, Conversation, ConversationStatus
from orchestrion.domain.webhooks import EventType, WebhookAttempt
from orchestrion.services import events
from orchestrion.services.context import Context
from orchestrion.services.webhooks import DELIVER_JOB, DeliveryHandler
from orchestrion.store.store import Store
from orchestrion.webhooks.sender import WebhookPolicy, WebhookSender
from tests.builders import public_address
from tests.integration.dispatch_support import ManualClock, run_until_idle

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
    holds: list[asyncio.Event] = dataclasses.field(default_factory=list)  # the next requests wait for these
    held: asyncio.Queue[httpx.Request] = dataclasses.field(default_factory=asyncio.Queue)

    def dispatcher(self, worker_id: str = "worker-a") -> Dispatcher:
        return Dispatcher(
            self.ctx,
            {DELIVER_JOB: DeliveryHandler(self.ctx)},
            worker_id=worker_id,
            concurrency=4,
            lease_ms=LEASE_MS,
            backoff=Backoff(base_ms=100, cap_ms=1_000),
            lease_clock=self.clock,
        )

    def hold_next_request(self) -> asyncio.Event:
        """The next request waits, once it has arrived (see ``request_held``), until the event is set."""
        release = asyncio.Event()
        self.holds.append(release)
        return release

    async def request_held(self) -> httpx.Request:
        return await asyncio.wait_for(self.held.get(), 30)

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


@contextlib.asynccontextmanager
async def webhook_world(store: Store) -> AsyncIterator[World]:
    clock = ManualClock(START_MS)
    script: dict[str, list[int]] = {}
    seen: list[httpx.Request] = []
    holds: list[asyncio.Event] = []
    held: asyncio.Queue[httpx.Request] = asyncio.Queue()

    async def receive(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if holds:
            release = holds.pop(0)
            held.put_nowait(request)
            await release.wait()
        answers = script.setdefault(request.url.path, [200])
        return httpx.Response(answers.pop(0) if len(answers) > 1 else answers[0])

    policy = WebhookPolicy(timeout_s=1.0, max_attempts=MAX_ATTEMPTS, max_age_ms=MAX_AGE_MS)

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
    try:
        yield World(ctx, clock, conversation, script, seen, holds, held)
    finally:
        await sender.aclose()
