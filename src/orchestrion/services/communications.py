"""Communications: what was said in a conversation, by whom, to whom.

A Communication is unique per ``resourceId`` within its conversation: a second
record with the same resourceId returns the first one, unchanged (the first
wins). ``record_communication`` is the one way in, for the API and for the
orchestrator's own outbound messages.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from orchestrion.domain import ids
from orchestrion.domain.channels import validate_address
from orchestrion.domain.errors import InvalidInput, NotFound
from orchestrion.domain.lifecycle import check_open
from orchestrion.domain.models import Communication, Conversation, Endpoint, Json
from orchestrion.domain.webhooks import EventType
from orchestrion.services import events
from orchestrion.services.context import Context
from orchestrion.services.conversations import load_conversation, reactivate
from orchestrion.store.paging import Page, PageRequest
from orchestrion.store.store import Tx


@dataclass(frozen=True, slots=True)
class NewCommunication:
    author: Endpoint
    content: Json
    recipients: tuple[Endpoint, ...]
    channel_id: str | None = None
    resource_id: str | None = None
    occurred_ms: int | None = None  # None: now


def check_endpoints(new: NewCommunication) -> None:
    """Every address well formed for its channel."""
    if not new.recipients:
        raise InvalidInput("A communication needs at least one recipient")
    for endpoint in (new.author, *new.recipients):
        validate_address(endpoint.channel, endpoint.address)


async def resolve_endpoint(tx: Tx, conversation_id: str, endpoint: Endpoint, where: str) -> Endpoint:
    """Link an endpoint to its participant: the one named, else the owner of its address."""
    owner = await tx.participants.find_by_address(conversation_id, endpoint.channel, endpoint.address)
    if endpoint.participant_id is None:
        return dataclasses.replace(endpoint, participant_id=owner)
    if (
        not ids.is_id(endpoint.participant_id, ids.PARTICIPANT)
        or await tx.participants.get(conversation_id, endpoint.participant_id) is None
    ):
        raise InvalidInput(f"{where}.participantId {endpoint.participant_id} is not a participant of this conversation")
    if owner is not None and owner != endpoint.participant_id:
        raise InvalidInput(
            f"{where}: address {endpoint.address} on channel {endpoint.channel} belongs to participant {owner}, "
            f"not {endpoint.participant_id}"
        )
    return endpoint


@dataclass(frozen=True, slots=True)
class Recorded:
    """What ``record_communication`` did: the stored communication, and its conversation if it was new."""

    communication: Communication
    conversation: Conversation | None  # None: recorded before (same resourceId), or the conversation is gone

    @property
    def new(self) -> bool:
        return self.conversation is not None


async def record_communication(
    ctx: Context, tx: Tx, communication: Communication, *, announced: Communication | None = None
) -> Recorded:
    """Store a communication inside the caller's transaction; idempotent on resourceId.

    The stored communication is the given one, or the one already recorded
    with the same resourceId. A new one counts as activity in its
    conversation (and brings an INACTIVE conversation back to ACTIVE).
    ``announced``: what COMMUNICATION_CREATED shows, when the row is stored
    in a later state than the one it was created in (a sandbox timeline
    folded into one write). The caller has checked that the conversation
    exists in the account.
    """
    stored = await tx.communications.insert(communication)
    if stored.id != communication.id:
        return Recorded(stored, None)
    now = ctx.clock.now_ms()
    conversation = await tx.conversations.touch(communication.conversation_id, min(communication.occurred_ms, now))
    if conversation is None:
        return Recorded(stored, None)
    created = stored if announced is None else announced
    await events.communication_event(ctx, tx, EventType.COMMUNICATION_CREATED, created, conversation)
    return Recorded(stored, await reactivate(ctx, tx, conversation))


async def _build(ctx: Context, tx: Tx, conversation: Conversation, new: NewCommunication) -> Communication:
    author = await resolve_endpoint(tx, conversation.id, new.author, "author")
    recipients = tuple(
        [await resolve_endpoint(tx, conversation.id, r, f"recipients[{i}]") for i, r in enumerate(new.recipients)]
    )
    now = ctx.clock.now_ms()
    return Communication(
        id=ids.new_id(ids.COMMUNICATION),
        conversation_id=conversation.id,
        account_sid=conversation.account_sid,
        author=author,
        content=new.content,
        channel_id=new.channel_id,
        resource_id=new.resource_id,
        recipients=recipients,
        occurred_ms=now if new.occurred_ms is None else new.occurred_ms,
        created_ms=now,
        updated_ms=now,
    )


async def create_communication(
    ctx: Context, account_sid: str, conversation_id: str, new: NewCommunication
) -> Communication:
    check_endpoints(new)
    async with ctx.store.write() as tx:
        conversation = await load_conversation(tx, account_sid, conversation_id, for_update=True)
        if new.resource_id is not None:
            # A replay answers with what was recorded, even once the conversation is CLOSED.
            existing = await tx.communications.get_by_resource_id(conversation.id, new.resource_id)
            if existing is not None:
                return existing
        check_open(conversation.status)
        return (await record_communication(ctx, tx, await _build(ctx, tx, conversation, new))).communication


async def get_communication(
    ctx: Context, account_sid: str, conversation_id: str, communication_id: str
) -> Communication:
    if not (ids.is_id(conversation_id, ids.CONVERSATION) and ids.is_id(communication_id, ids.COMMUNICATION)):
        raise NotFound("Communication", communication_id)
    async with ctx.store.read() as tx:
        communication = await tx.communications.get(conversation_id, communication_id)
    if communication is None or communication.account_sid != account_sid:
        raise NotFound("Communication", communication_id)
    return communication


async def list_communications(
    ctx: Context, account_sid: str, conversation_id: str, page: PageRequest, *, channel_id: str | None = None
) -> Page[Communication]:
    async with ctx.store.read() as tx:
        await load_conversation(tx, account_sid, conversation_id)
        return await tx.communications.list(conversation_id, page, channel_id=channel_id)
