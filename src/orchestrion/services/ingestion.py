"""Captured traffic: a message between a customer and one of the account's numbers, into a conversation.

``ingest`` takes a message a customer sent to one of the account's numbers
(posted by Twilio to ``/twilio/{AccountSid}/messages``, or simulated by
``/sandbox/inbound``), or one sent from such a number around the orchestrator
(learnt from its status callback, ``status_callback``), and, in one transaction:

1. absorbs a repeat: a message whose SID is already a Communication of the
   account (Twilio retrying a webhook) changes nothing (but a later status
   of a captured outbound message moves its recipient's deliveryStatus);
2. finds the configuration whose capture rules take it in
   (``domain.capture``); none: the message is ignored;
3. finds the conversation of its group (``services.grouping``, the rule
   conversation create follows too): the newest ACTIVE or INACTIVE one
   holding both addresses (or, by profile, one with the customer's profile,
   ``services.profiles``); none (or only CLOSED ones): a new conversation
   from the configuration;
4. makes sure both sides are participants: the customer a CUSTOMER, the
   configured number an AGENT (with GROUP_BY_PROFILE the customer carries its
   ``profileId``); a participant known at another
   form of the same number (``GROUP_BY_PARTICIPANT_ADDRESSES``) gets the new
   address added;
5. records the Communication (``resourceId`` and ``channelId`` are the message
   SID), which reopens an INACTIVE conversation.

Ingestion of one group is serialized (the group's lock, ``store.grouping``),
so two messages of a new group arriving together start one conversation.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import structlog

from orchestrion.domain import ids
from orchestrion.domain.capture import best_match, choose, rules_of
from orchestrion.domain.channels import Channel, validate_address
from orchestrion.domain.errors import Conflict, InvalidInput, NotFound
from orchestrion.domain.grouping import BY_PROFILE, group_query, number_forms
from orchestrion.domain.inbound import InboundMessage, bare, channel_of, on_channel
from orchestrion.domain.models import (
    Address,
    Communication,
    Configuration,
    Conversation,
    ConversationStatus,
    Endpoint,
    Json,
    Participant,
)
from orchestrion.domain.outcomes import DELIVERY_STATUS, MessageStatus, StatusReport, advance_recipients
from orchestrion.domain.webhooks import EventType
from orchestrion.services import events, grouping, lifecycle, outcomes, sandbox
from orchestrion.services.communications import record_communication
from orchestrion.services.context import Context
from orchestrion.services.conversations import snapshot
from orchestrion.services.participants import ParticipantFields, admit_participant
from orchestrion.services.profiles import profile_of_address
from orchestrion.store.store import Tx

log = structlog.get_logger("orchestrion.ingestion")

CUSTOMER = "CUSTOMER"
AGENT = "AGENT"
_TRIES = 3


@dataclass(frozen=True, slots=True)
class Ingested:
    captured: bool
    conversation_id: str | None = None
    communication_id: str | None = None
    duplicate: bool = False


async def ingest(
    ctx: Context, account_sid: str, message: InboundMessage, *, conversation_id: str | None = None
) -> Ingested:
    """Capture ``message`` (see the module); ``conversation_id``: join that conversation if it is open."""
    channel = message.channel
    validate_address(channel, message.from_address)
    validate_address(channel, message.to_address)
    for attempt in range(1, _TRIES + 1):
        try:
            async with ctx.store.write() as tx:
                result = await _ingest(ctx, tx, account_sid, message, channel, conversation_id)
            break
        except Conflict:  # a participant's address taken by a concurrent request: look again
            if attempt == _TRIES:
                raise
    outcome = "duplicate" if result.duplicate else "captured" if result.captured else "ignored"
    ctx.metrics.inbound_message("outbound" if message.outbound else "inbound", outcome)
    if outcome == "captured":
        log.info(
            "inbound_captured",
            account_sid=account_sid,
            conversation_id=result.conversation_id,
            message_sid=message.message_sid,
        )
    elif outcome == "ignored":
        log.info("inbound_ignored", account_sid=account_sid, message_sid=message.message_sid)
    return result


async def _ingest(
    ctx: Context,
    tx: Tx,
    account_sid: str,
    message: InboundMessage,
    channel: Channel,
    conversation_id: str | None,
) -> Ingested:
    seen = await tx.ingestion.communication_with_channel_id(account_sid, message.message_sid)
    if seen is not None:
        if message.outbound:
            await _advance_delivery(ctx, tx, seen[0], seen[1], message.delivery_status)
        return Ingested(True, seen[0], seen[1], duplicate=True)
    conversation: Conversation | None = None
    if conversation_id is not None:
        conversation = await tx.conversations.get(account_sid, conversation_id, for_update=True)
        if conversation is not None and conversation.status is ConversationStatus.CLOSED:
            conversation = None
    if conversation is None:
        configuration = await _capturing(tx, account_sid, message, channel)
        if configuration is None:
            return Ingested(False)
        conversation, profile_id = await _conversation_of(ctx, tx, configuration, message, channel)
    else:
        profile_id = None
    now = ctx.clock.now_ms()
    customer = await _participant(ctx, tx, conversation, channel, message.customer_address, CUSTOMER, now, profile_id)
    agent = await _participant(ctx, tx, conversation, channel, message.agent_address, AGENT, now)
    customer_end = Endpoint(message.customer_address, channel, customer.id)
    agent_end = Endpoint(message.agent_address, channel, agent.id)
    if message.outbound:
        author, recipient = agent_end, dataclasses.replace(customer_end, delivery_status=message.delivery_status)
    else:
        author, recipient = customer_end, dataclasses.replace(agent_end, delivery_status="DELIVERED")
    content: Json = {"type": "TEXT", "text": message.body or ""}
    if message.media_urls:
        content["mediaUrls"] = list(message.media_urls)
    communication_id = ids.new_id(ids.COMMUNICATION)
    recorded = await record_communication(
        ctx,
        tx,
        Communication(
            id=communication_id,
            conversation_id=conversation.id,
            account_sid=account_sid,
            author=author,
            content=content,
            channel_id=message.message_sid,
            resource_id=message.message_sid,
            recipients=(recipient,),
            occurred_ms=now,
            created_ms=now,
            updated_ms=now,
        ),
    )
    stored = recorded.communication
    return Ingested(True, conversation.id, stored.id, duplicate=stored.id != communication_id)


async def _capturing(tx: Tx, account_sid: str, message: InboundMessage, channel: Channel) -> Configuration | None:
    configurations = {c.id: c for c in await tx.ingestion.configurations(account_sid)}
    candidates = [
        (configuration.id, score)
        for configuration in configurations.values()
        if (
            score := best_match(
                rules_of(configuration.settings, channel), message.from_address, message.to_address, message.metadata
            )
        )
        is not None
    ]
    chosen = choose(candidates)
    if len(candidates) > 1:
        log.info("inbound_matches_several_configurations", chosen=chosen, candidates=[c for c, _ in candidates])
    return None if chosen is None else configurations[chosen]


async def _conversation_of(
    ctx: Context, tx: Tx, configuration: Configuration, message: InboundMessage, channel: Channel
) -> tuple[Conversation, str | None]:
    """The open conversation of the message's group, or a new one; and the customer's profile (by profile)."""
    account_sid = configuration.account_sid
    profile_id = None
    if configuration.grouping_type == BY_PROFILE:
        profile_id = await profile_of_address(ctx, tx, account_sid, channel, message.customer_address, create=True)
        assert profile_id is not None
        found = await grouping.open_by_profiles(tx, account_sid, configuration.id, [profile_id])
        open_one = None if found is None else await tx.conversations.get(account_sid, found, for_update=True)
    else:
        query = group_query(configuration.grouping_type, channel, message.customer_address, message.agent_address)
        open_one = await grouping.open_conversation_by_addresses(tx, account_sid, configuration.id, query)
    if open_one is not None:
        return open_one, profile_id
    now = ctx.clock.now_ms()
    conversation = Conversation(
        id=ids.new_id(ids.CONVERSATION),
        account_sid=configuration.account_sid,
        configuration_id=configuration.id,
        configuration_version=configuration.version,
        configuration=snapshot(configuration, {}),
        status=ConversationStatus.ACTIVE,
        name=None,
        metadata={},
        status_callbacks=None,
        created_ms=now,
        updated_ms=now,
    )
    await tx.conversations.insert(conversation, last_activity_ms=now)
    await lifecycle.schedule(ctx, tx, conversation, now)
    await events.conversation_event(ctx, tx, conversation, EventType.CONVERSATION_CREATED, [])
    return conversation, profile_id


async def _participant(
    ctx: Context,
    tx: Tx,
    conversation: Conversation,
    channel: Channel,
    address: str,
    kind: str,
    now: int,
    profile_id: str | None = None,
) -> Participant:
    """The participant at ``address``: the owner, else the owner of another form of the number, else a new one."""
    owner = await tx.participants.owner_at(conversation.id, channel, address)
    if owner is not None:
        return owner
    for other_channel, other_address in number_forms(channel, address):
        other = await tx.participants.owner_at(conversation.id, other_channel, other_address)
        if other is None:
            continue
        changed = dataclasses.replace(other, addresses=(*other.addresses, Address(channel, address)), updated_ms=now)
        await tx.participants.update(changed)
        await events.participant_event(ctx, tx, conversation, EventType.PARTICIPANT_UPDATED, changed)
        return changed
    fields = ParticipantFields(type=kind, profile_id=profile_id, addresses=(Address(channel, address),))
    return await admit_participant(ctx, tx, conversation, fields, now)


# Twilio's message statuses, as the orchestrator's status reports know them (others are ignored).
_STATUSES = {
    "accepted": MessageStatus.QUEUED,
    "scheduled": MessageStatus.QUEUED,
    "queued": MessageStatus.QUEUED,
    "sending": MessageStatus.QUEUED,
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "undelivered": MessageStatus.UNDELIVERED,
    "failed": MessageStatus.FAILED,
    "canceled": MessageStatus.FAILED,
    "read": MessageStatus.READ,
}


@dataclass(frozen=True, slots=True)
class StatusCallback:
    """A Twilio message status callback (``MessageSid``, ``MessageStatus``, ``ErrorCode``, ``From``, ``To``)."""

    message_sid: str
    status: str
    error_code: int | None = None
    error_message: str | None = None
    from_address: str | None = None
    to_address: str | None = None
    # The Action id the twilio provider put in the callback URL (a signed part of it).
    idempotency_key: str | None = None


async def status_callback(ctx: Context, account_sid: str, callback: StatusCallback) -> str:
    """Apply a status callback; what became of it: ``applied``, ``captured`` or ``ignored``.

    The status of a message an Action sent moves that Action (``services.outcomes``).
    Any other message was sent around the orchestrator: with its ``From`` and ``To``
    it is outbound traffic, captured like an incoming message (its text is unknown:
    status callbacks carry none) and its recipient's deliveryStatus follows later callbacks.
    """
    known = _STATUSES.get(callback.status.lower())
    if known is None:
        return "ignored"
    try:
        await outcomes.report_status(
            ctx,
            StatusReport(
                callback.message_sid,
                known,
                error_code=callback.error_code,
                error_message=callback.error_message,
                idempotency_key=callback.idempotency_key,
                account_sid=account_sid,
            ),
        )
    except NotFound:
        pass
    else:
        return "applied"
    if not callback.from_address or not callback.to_address:
        log.info("status_callback_for_unknown_message", message_sid=callback.message_sid, status=callback.status)
        return "ignored"
    message = InboundMessage(
        callback.message_sid,
        callback.from_address,
        callback.to_address,
        outbound=True,
        delivery_status=DELIVERY_STATUS.get(known, "INITIATED"),
    )
    try:
        result = await ingest(ctx, account_sid, message)
    except InvalidInput:
        return "ignored"  # not addresses a conversation can hold (a messaging service, a short code...)
    return "captured" if result.captured else "ignored"


async def _advance_delivery(ctx: Context, tx: Tx, conversation_id: str, communication_id: str, reported: str) -> None:
    """A later status of a captured outbound message: move its recipients' deliveryStatus forward."""
    communication = await tx.communications.get(conversation_id, communication_id)
    if communication is None:
        return
    moved = advance_recipients([r.delivery_status for r in communication.recipients], reported)
    if moved is None:
        return
    recipients = tuple(
        dataclasses.replace(r, delivery_status=status)
        for r, status in zip(communication.recipients, moved, strict=True)
    )
    now = ctx.clock.now_ms()
    await tx.communications.set_recipients(communication.id, recipients, now)
    updated = dataclasses.replace(communication, recipients=recipients, updated_ms=now)
    await events.communication_event(ctx, tx, EventType.COMMUNICATION_UPDATED, updated)


@dataclass(frozen=True, slots=True)
class SimulatedInbound:
    """A customer's message, made up by a person or a test (``/sandbox/inbound``)."""

    from_address: str | None = None
    to_address: str | None = None
    body: str | None = None
    channel: Channel | None = None  # writes bare numbers as addresses of this channel
    message_sid: str | None = None  # default: a new one
    in_reply_to: str | None = None  # the SID of a message the sandbox sent
    media_urls: tuple[str, ...] = ()


async def simulate_inbound(ctx: Context, account_sid: str, sim: SimulatedInbound) -> tuple[Ingested, str]:
    """Ingest a simulated message; the result and its message SID.

    A reply (``in_reply_to``) comes from the first recipient of the earlier
    message, to its sender, on its channel, unless given otherwise, and joins
    that message's conversation while it is open (capture rules decide when
    it is CLOSED or gone). Anything else goes through the capture rules exactly
    like a message from Twilio.
    """
    from_address, to_address, channel = sim.from_address, sim.to_address, sim.channel
    conversation_id = None
    if sim.in_reply_to is not None:
        earlier = await sandbox.get_message(ctx, account_sid, sim.in_reply_to)
        from_address = from_address or (earlier.to_addresses[0] if earlier.to_addresses else None)
        to_address = to_address or earlier.from_address
        channel = channel or Channel(earlier.channel)
        conversation_id = earlier.conversation_id
    if not from_address or not to_address:
        raise InvalidInput("A simulated inbound message needs from and to (or inReplyTo)")
    if channel is not None:
        from_address, to_address = _as_channel(channel, from_address), _as_channel(channel, to_address)
    sid = sim.message_sid or ids.new_message_sid()
    message = InboundMessage(sid, from_address, to_address, body=sim.body, media_urls=sim.media_urls)
    return await ingest(ctx, account_sid, message, conversation_id=conversation_id), sid


def _as_channel(channel: Channel, address: str) -> str:
    if channel_of(address) is Channel.SMS and channel in (Channel.WHATSAPP, Channel.RCS):
        return on_channel(channel, bare(address))
    return address
