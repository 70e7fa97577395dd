"""The services on a real store, with a manual clock and an outbox drained by the test.

No HTTP and no server: the ``Context`` comes from ``Runtime.build`` (the
composition root the server uses), with its clock swapped for a manual one;
outbox jobs run through the real handlers (``services.jobs.build_handlers``)
only when a test says so. What the tests look at is what the API would answer:
resources as the wire renders them (``orchestrion.wire``), read back through
the services, so the tests pin behaviour, not the send path's inner calls.

Status-callback deliveries are parked: their job is taken and left undone
(nothing is sent), and the event stays in the delivery log, which is what the
tests read.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any

from orchestrion.dispatch.worker import Dispatcher
from orchestrion.domain.channels import Channel
from orchestrion.domain.models import Address, ConversationStatus, Job
from orchestrion.domain.sending import EndpointRef, MessageContent, SendMessageCommand
from orchestrion.services import actions, communications, conversations, participants, sandbox, webhooks
from orchestrion.services.context import Context
from orchestrion.services.jobs import Handler, build_handlers
from orchestrion.services.participants import ParticipantFields
from orchestrion.store.paging import PageRequest
from orchestrion.store.sandbox import SandboxMessage
from orchestrion.wire.actions import action as action_json
from orchestrion.wire.communications import communication as communication_json
from orchestrion.wire.participants import participant as participant_json
from tests.builders import new_configuration
from tests.integration.dispatch_support import ManualClock, run_until_idle
from tests.send_cases import AGENT, CUSTOMER, sms
from tests.sqltrace import Tracer

START_MS = 1_900_000_000_000
STEP_MS = 10
LEASE_MS = 1_000
HOOK = "https://hooks.example.com/orchestrion"  # never called: deliveries are parked
ALL = PageRequest(limit=1000)

Wire = dict[str, Any]


def ref(endpoint: Mapping[str, str]) -> EndpointRef:
    channel = endpoint.get("channel")
    return EndpointRef(
        participant_id=endpoint.get("participantId"),
        address=endpoint.get("address"),
        channel=None if channel is None else Channel(channel),
    )


def command(
    *,
    sender: Mapping[str, str] | None = None,
    to: Sequence[Mapping[str, str]] | None = None,
    content: Mapping[str, Any] | None = None,
    channel_settings: dict[str, Any] | None = None,
) -> SendMessageCommand:
    """A SEND_MESSAGE as its wire body says it (``from``, ``to``, ``content``, ``channelSettings``)."""
    return SendMessageCommand(
        sender=ref(sender if sender is not None else sms(AGENT)),
        to=tuple(ref(t) for t in (to if to is not None else [sms(CUSTOMER)])),
        content=MessageContent.from_json(content if content is not None else {"text": "Your order has shipped"}),
        channel_settings=channel_settings,
    )


class ParkedDeliveries:
    """Takes ``webhook.deliver`` jobs and sends nothing: the events stay in the delivery log."""

    async def run(self, job: Job) -> None:
        return None

    async def give_up(self, job: Job, reason: str) -> None:
        return None


@dataclasses.dataclass
class World:
    ctx: Context
    clock: ManualClock
    account_sid: str
    sql: Tracer  # what the store sends, when a test opens a window on it

    # --- Arranging

    async def configuration(self, grouping: str = "GROUP_BY_PARTICIPANT_ADDRESSES", **settings: Any) -> str:
        configuration = dataclasses.replace(
            new_configuration(self.account_sid, **settings),
            grouping_type=grouping,
            created_ms=self.clock.now,
            updated_ms=self.clock.now,
        )
        async with self.ctx.store.write() as tx:
            await tx.configurations.insert(configuration)
        return configuration.id

    async def conversation(
        self,
        configuration_id: str | None = None,
        *,
        callbacks: bool = False,
        people: Sequence[ParticipantFields] = (),
    ) -> str:
        """A new ACTIVE conversation; with ``callbacks``, its events go to the (parked) delivery log."""
        view = await conversations.create_conversation(
            self.ctx,
            self.account_sid,
            conversations.NewConversation(
                configuration_id=configuration_id or await self.configuration(),
                participants=tuple(people),
                status_callbacks=({"url": HOOK, "method": "POST"},) if callbacks else None,
            ),
        )
        return view.conversation.id

    async def participant(
        self, conversation_id: str, *addresses: tuple[str, str], type: str | None = None, name: str | None = None
    ) -> Wire:
        """Add a participant with ``(channel, address)`` pairs."""
        fields = ParticipantFields(name=name, type=type, addresses=tuple(Address(Channel(c), a) for c, a in addresses))
        created = await participants.create_participant(self.ctx, self.account_sid, conversation_id, fields)
        return participant_json(created)

    async def set_status(self, conversation_id: str, status: str) -> None:
        change = conversations.ConversationChange(status=ConversationStatus(status))
        await conversations.update_conversation(self.ctx, self.account_sid, conversation_id, change)

    # --- Acting

    async def send(self, conversation_id: str, **body: Any) -> Wire:
        """POST a SEND_MESSAGE: the Action as the 202 shows it."""
        created = await actions.create_send_message(self.ctx, self.account_sid, conversation_id, command(**body))
        return action_json(created)

    def handlers(self) -> dict[str, Handler]:
        """The server's job handlers, status-callback deliveries parked."""
        return {**build_handlers(self.ctx), webhooks.DELIVER_JOB: ParkedDeliveries()}

    def dispatcher(
        self, handlers: Mapping[str, Handler] | None = None, worker_id: str = "worker-a", admission_wait_s: float = 0.0
    ) -> Dispatcher:
        return Dispatcher(
            self.ctx,
            handlers or self.handlers(),
            worker_id=worker_id,
            concurrency=4,
            lease_ms=LEASE_MS,
            lease_clock=self.clock,  # one time for domain and leases: it moves only when the test moves it
            admission_wait_s=admission_wait_s,
        )

    async def run_due(self, handlers: Mapping[str, Handler] | None = None) -> None:
        """Run every job due now, and those they make due now; the clock stays where it is."""
        dispatcher = self.dispatcher(handlers)
        while await dispatcher.run_once():
            await dispatcher.drain()
        await dispatcher.drain()

    async def advance(self, ms: int) -> None:
        """Move time forward by ``ms``, then run what came due."""
        self.clock.advance(ms)
        await self.run_due()

    async def finish(self) -> None:
        """Run the outbox until it is empty, moving time to each job as it comes due."""
        await run_until_idle(self.ctx, self.clock, self.dispatcher())

    async def send_and_finish(self, conversation_id: str, **body: Any) -> Wire:
        created = await self.send(conversation_id, **body)
        await self.finish()
        return await self.action(conversation_id, created["id"])

    # --- Looking (what the API would answer)

    async def action(self, conversation_id: str, action_id: str) -> Wire:
        return action_json(await actions.get_action(self.ctx, self.account_sid, conversation_id, action_id))

    async def communication(self, conversation_id: str, communication_id: str) -> Wire:
        found = await communications.get_communication(self.ctx, self.account_sid, conversation_id, communication_id)
        return communication_json(found)

    async def communications(self, conversation_id: str) -> list[Wire]:
        page = await communications.list_communications(self.ctx, self.account_sid, conversation_id, ALL)
        return [communication_json(c) for c in page.items]

    async def participants(self, conversation_id: str) -> list[Wire]:
        page = await participants.list_participants(self.ctx, self.account_sid, conversation_id, ALL)
        return [participant_json(p) for p in page.items]

    async def inbox(self, conversation_id: str) -> list[SandboxMessage]:
        where = sandbox.InboxFilter(conversation_id=conversation_id)
        return await sandbox.list_messages(self.ctx, self.account_sid, where)

    async def events(self, conversation_id: str) -> list[tuple[str, Wire]]:
        """The conversation's status-callback events, oldest first: (eventType, data)."""
        page = await webhooks.list_deliveries(self.ctx, self.account_sid, conversation_id, ALL)
        return [(str(v.delivery.event_type), json.loads(v.delivery.body)["data"]) for v in page.items]

    async def status(self, conversation_id: str) -> str:
        view = await conversations.get_conversation(self.ctx, self.account_sid, conversation_id)
        return str(view.conversation.status)
