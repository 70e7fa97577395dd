"""Participants: who takes part in a conversation, and at which addresses.

Every nested resource (participants, communications, actions) starts from
``load_conversation``: the account-scoped lookup that turns another account's
conversation into a NotFound, exactly like a missing one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from orchestrion.domain import ids
from orchestrion.domain.channels import Channel, validate_address
from orchestrion.domain.errors import InvalidInput, InvalidState, NotFound
from orchestrion.domain.models import Address, Conversation, ConversationStatus, Participant
from orchestrion.domain.webhooks import EventType
from orchestrion.services import events
from orchestrion.services.context import Context
from orchestrion.store.paging import Page, PageRequest
from orchestrion.store.store import Tx

MAX_ADDRESSES = 50


@dataclass(frozen=True, slots=True)
class ParticipantFields:
    """What a request says about a participant; None means "not given"."""

    name: str | None = None
    type: str | None = None
    profile_id: str | None = None
    addresses: tuple[Address, ...] | None = None


async def load_conversation(
    tx: Tx, account_sid: str, conversation_id: str, *, for_update: bool = False
) -> Conversation:
    # A malformed id is as missing as an unknown one, without asking the store.
    if not ids.is_id(conversation_id, ids.CONVERSATION):
        raise NotFound("Conversation", conversation_id)
    conversation = await tx.conversations.get(account_sid, conversation_id, for_update=for_update)
    if conversation is None:
        raise NotFound("Conversation", conversation_id)
    return conversation


def check_addresses(addresses: Iterable[Address]) -> tuple[Address, ...]:
    """Each address well formed for its channel, none listed twice."""
    out = tuple(addresses)
    if len(out) > MAX_ADDRESSES:
        raise InvalidInput(f"A participant has at most {MAX_ADDRESSES} addresses")
    seen: set[tuple[Channel, str]] = set()
    for a in out:
        validate_address(a.channel, a.address)
        if (a.channel, a.address) in seen:
            raise InvalidInput(f"Address {a.address} on channel {a.channel} is listed twice")
        seen.add((a.channel, a.address))
    return out


def check_distinct(participants: Sequence[ParticipantFields]) -> None:
    """No address may belong to two of the participants of one request."""
    owners: dict[tuple[Channel, str], int] = {}
    for index, fields in enumerate(participants):
        for a in fields.addresses or ():
            first = owners.setdefault((a.channel, a.address), index)
            if first != index:
                raise InvalidInput(
                    f"Address {a.address} on channel {a.channel} is given to participants[{first}] "
                    f"and participants[{index}]"
                )


def _check_accepts_participants(conversation: Conversation) -> None:
    if conversation.status is ConversationStatus.CLOSED:
        raise InvalidState(f"Conversation {conversation.id} is CLOSED: its participants can no longer change")


def new_participant(conversation: Conversation, fields: ParticipantFields, now_ms: int) -> Participant:
    return Participant(
        id=ids.new_id(ids.PARTICIPANT),
        conversation_id=conversation.id,
        account_sid=conversation.account_sid,
        name=fields.name,
        type=fields.type,
        profile_id=fields.profile_id,
        addresses=check_addresses(fields.addresses or ()),
        created_ms=now_ms,
        updated_ms=now_ms,
    )


async def add_participant(tx: Tx, conversation: Conversation, fields: ParticipantFields, now_ms: int) -> Participant:
    """Insert a participant inside the caller's transaction (409 if an address is taken)."""
    _check_accepts_participants(conversation)
    participant = new_participant(conversation, fields, now_ms)
    await tx.participants.insert(participant)
    return participant


async def admit_participant(
    ctx: Context, tx: Tx, conversation: Conversation, fields: ParticipantFields, now_ms: int
) -> Participant:
    """``add_participant``, announced: a PARTICIPANT_ADDED status callback in the same transaction."""
    participant = await add_participant(tx, conversation, fields, now_ms)
    await events.participant_event(ctx, tx, conversation, EventType.PARTICIPANT_ADDED, participant)
    return participant


async def create_participant(
    ctx: Context, account_sid: str, conversation_id: str, fields: ParticipantFields
) -> Participant:
    check_addresses(fields.addresses or ())
    async with ctx.store.write() as tx:
        conversation = await load_conversation(tx, account_sid, conversation_id, for_update=True)
        return await admit_participant(ctx, tx, conversation, fields, ctx.clock.now_ms())


async def get_participant(ctx: Context, account_sid: str, conversation_id: str, participant_id: str) -> Participant:
    if not (ids.is_id(conversation_id, ids.CONVERSATION) and ids.is_id(participant_id, ids.PARTICIPANT)):
        raise NotFound("Participant", participant_id)
    async with ctx.store.read() as tx:
        participant = await tx.participants.get(conversation_id, participant_id)
    if participant is None or participant.account_sid != account_sid:
        raise NotFound("Participant", participant_id)
    return participant


async def list_participants(
    ctx: Context, account_sid: str, conversation_id: str, page: PageRequest
) -> Page[Participant]:
    async with ctx.store.read() as tx:
        await load_conversation(tx, account_sid, conversation_id)
        return await tx.participants.list(conversation_id, page)


async def update_participant(
    ctx: Context, account_sid: str, conversation_id: str, participant_id: str, fields: ParticipantFields
) -> Participant:
    """Replace the participant (PUT): a field left out is cleared, as Twilio's clients expect.

    Its address claims are replaced with it, so the addresses it no longer has are free again.
    """
    addresses = check_addresses(fields.addresses or ())
    async with ctx.store.write() as tx:
        conversation = await load_conversation(tx, account_sid, conversation_id, for_update=True)
        current = (
            await tx.participants.get(conversation_id, participant_id)
            if ids.is_id(participant_id, ids.PARTICIPANT)
            else None
        )
        if current is None:
            raise NotFound("Participant", participant_id)
        changed = dataclasses.replace(
            current, name=fields.name or None, type=fields.type, profile_id=fields.profile_id, addresses=addresses
        )
        if changed == current:
            return current
        _check_accepts_participants(conversation)
        changed = dataclasses.replace(changed, updated_ms=ctx.clock.now_ms())
        await tx.participants.update(changed)
        await events.participant_event(ctx, tx, conversation, EventType.PARTICIPANT_UPDATED, changed)
        return changed


async def remove_participant(ctx: Context, account_sid: str, conversation_id: str, participant_id: str) -> Participant:
    """Remove a participant (our addition to the API); its addresses are free again. The removed one is returned."""
    async with ctx.store.write() as tx:
        conversation = await load_conversation(tx, account_sid, conversation_id, for_update=True)
        current = (
            await tx.participants.get(conversation_id, participant_id)
            if ids.is_id(participant_id, ids.PARTICIPANT)
            else None
        )
        if current is None:
            raise NotFound("Participant", participant_id)
        _check_accepts_participants(conversation)
        await tx.participants.delete(conversation_id, participant_id)  # its addresses go with it (cascade)
        await events.participant_event(ctx, tx, conversation, EventType.PARTICIPANT_REMOVED, current)
        return current
