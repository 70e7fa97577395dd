"""A world for the console's reads: services over a real store, a test clock, the real dispatcher.

Conversations are made through the services (so their history and status
callbacks are written as in production), Actions are sent through the outbox
and the sandbox, and status callbacks reach an in-memory receiver that answers
with the status the test sets.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import httpx

from orchestrion.dispatch.retry import Backoff
from orchestrion.dispatch.worker import Dispatcher
from orchestrion.domain import ids
from orchestrion.domain.channels import Channel
from orchestrion.domain.models import Account, Action, Address
from orchestrion.domain.sending import EndpointRef, MessageContent, SendMessageCommand
from orchestrion.services import actions, conversations, participants
from orchestrion.services.context import Context
from orchestrion.services.jobs import build_handlers
from orchestrion.store.store import Store
from orchestrion.webhooks.sender import WebhookPolicy, WebhookSender
from tests.builders import new_configuration, public_address
from tests.integration.dispatch_support import ManualClock, run_until_idle

START_MS = 1_900_000_000_000
HOOK = "https://hooks.example.com/events"
AGENT = "+15005550006"
CUSTOMER = "+14155550100"


@dataclasses.dataclass
class World:
    ctx: Context
    clock: ManualClock
    account_sid: str
    configuration_id: str
    answer: list[int]  # the status the receiver answers with (one element, changed by tests)
    received: list[httpx.Request]

    async def conversation(self, name: str | None = None) -> str:
        created = await conversations.create_conversation(
            self.ctx,
            self.account_sid,
            conversations.NewConversation(configuration_id=self.configuration_id, name=name),
        )
        return created.conversation.id

    async def add_participant(self, conversation_id: str, address: str, name: str = "Ann") -> str:
        fields = participants.ParticipantFields(name=name, type="CUSTOMER", addresses=(Address(Channel.SMS, address),))
        return (await participants.create_participant(self.ctx, self.account_sid, conversation_id, fields)).id

    async def send(self, conversation_id: str, to: str = CUSTOMER, text: str = "hello") -> Action:
        command = SendMessageCommand(
            sender=EndpointRef(address=AGENT, channel=Channel.SMS),
            to=(EndpointRef(address=to, channel=Channel.SMS),),
            content=MessageContent(text=text),
        )
        return await actions.create_send_message(self.ctx, self.account_sid, conversation_id, command)

    async def settle(self) -> None:
        """Run every job due until the outbox is empty (the clock jumps to each one)."""
        dispatcher = Dispatcher(
            self.ctx, build_handlers(self.ctx), concurrency=4, lease_ms=1_000, backoff=Backoff(base_ms=10, cap_ms=100)
        )
        await run_until_idle(self.ctx, self.clock, dispatcher, max_rounds=200)


async def world_on(store: Store, **settings: Any) -> AsyncIterator[World]:
    clock = ManualClock(START_MS)
    answer = [204]
    received: list[httpx.Request] = []

    async def receive(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(answer[0])

    sender = WebhookSender(
        WebhookPolicy(timeout_s=1.0, max_attempts=2), transport=httpx.MockTransport(receive), resolver=public_address
    )
    ctx = Context(store=store, clock=clock, webhooks=sender, sandbox_step_ms=10)
    account = Account(sid=ids.new_account_sid(), auth_token=ids.new_secret(), created_ms=START_MS)
    configuration = new_configuration(account.sid, statusCallbacks=[{"url": HOOK, "method": "POST"}], **settings)
    async with store.write() as tx:
        await tx.accounts.insert(account)
        await tx.configurations.insert(configuration)
    try:
        yield World(ctx, clock, account.sid, configuration.id, answer, received)
    finally:
        await sender.aclose()
