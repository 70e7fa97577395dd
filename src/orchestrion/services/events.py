"""Status-callback events, written in the transaction of the change that causes them.

``emit`` renders the event's envelope now (``data`` is exactly what a GET of
the resource returns at this moment, via ``orchestrion.wire``) and, for each
callback URL the conversation's events go to (its own ``statusCallbacks``
when it has a list, even an empty one, else its configuration's), inserts a
delivery and a ``webhook.deliver`` outbox job. The job's ordering key is the
conversation and URL, so one conversation's events reach a receiver in the
order they happened, and one slow receiver delays nobody else. If the
transaction rolls back, the events never happened either.

The helpers below are the one way services announce a change; the
conversation and participant ones also append to the conversation's history
(``services.history``), callbacks or not.
"""

from __future__ import annotations

from collections.abc import Sequence

from orchestrion.domain import ids
from orchestrion.domain.models import Action, Communication, Conversation, ConversationView, Json, Participant
from orchestrion.domain.webhooks import (
    DELIVERY,
    DeliveryStatus,
    EventType,
    WebhookDelivery,
    effective_callbacks,
    ordering_key,
)
from orchestrion.services import history
from orchestrion.services.context import Context
from orchestrion.services.webhooks import DELIVER_JOB
from orchestrion.store.store import Tx
from orchestrion.webhooks.envelope import envelope
from orchestrion.wire.actions import action as action_json
from orchestrion.wire.communications import communication as communication_json
from orchestrion.wire.conversations import conversation as conversation_json
from orchestrion.wire.participants import participant as participant_json


async def emit(
    ctx: Context, tx: Tx, conversation: Conversation, event_type: EventType, data: Json, at_ms: int | None = None
) -> int:
    """Queue ``event_type`` with ``data`` for each of the conversation's callback URLs; how many were queued.

    ``at_ms``: when the change happened (the envelope's ``timestamp``), now by default.
    """
    callbacks = effective_callbacks(conversation)
    if not callbacks:
        return 0
    now = ctx.clock.now_ms()
    body = envelope(str(event_type), now if at_ms is None else at_ms, data)
    for callback in callbacks:
        delivery = WebhookDelivery(
            id=ids.new_id(DELIVERY),
            account_sid=conversation.account_sid,
            conversation_id=conversation.id,
            event_type=event_type,
            url=callback.url,
            method=callback.method,
            body=body,
            status=DeliveryStatus.PENDING,
            attempts=0,
            failure_reason=None,
            created_ms=now,
            updated_ms=now,
            completed_ms=None,
        )
        await tx.webhooks.insert(delivery)
        await tx.jobs.enqueue(
            DELIVER_JOB,
            {"deliveryId": delivery.id},
            now_ms=now,
            max_attempts=ctx.webhooks.policy.max_attempts,
            ordering_key=ordering_key(conversation.id, callback),
        )
    # Before the commit: this process's dispatcher then waits on the write lock (SQLite) or
    # is woken again by NOTIFY at commit (PostgreSQL); other processes poll or listen.
    ctx.wakeup.notify()
    return len(callbacks)


async def conversation_event(
    ctx: Context,
    tx: Tx,
    conversation: Conversation,
    event_type: EventType,
    participants: Sequence[Participant] | None = None,
) -> None:
    """CONVERSATION_CREATED / CONVERSATION_UPDATED, with the conversation and its participants as a GET shows them."""
    await history.conversation_changed(tx, conversation, event_type)
    if not effective_callbacks(conversation):
        return
    if participants is None:
        participants = (await tx.participants.all_for([conversation.id]))[conversation.id]
    data = conversation_json(ConversationView(conversation, tuple(participants)))
    await emit(ctx, tx, conversation, event_type, data, conversation.updated_ms)


async def participant_event(
    ctx: Context, tx: Tx, conversation: Conversation, event_type: EventType, participant: Participant
) -> None:
    """PARTICIPANT_ADDED / _UPDATED / _REMOVED (the removed one as it was last shown)."""
    at_ms = None if event_type is EventType.PARTICIPANT_REMOVED else participant.updated_ms
    await history.participant_changed(tx, participant, event_type, ctx.clock.now_ms() if at_ms is None else at_ms)
    await emit(ctx, tx, conversation, event_type, participant_json(participant), at_ms)


async def communication_event(
    ctx: Context,
    tx: Tx,
    event_type: EventType,
    communication: Communication,
    conversation: Conversation | None = None,
) -> None:
    """COMMUNICATION_CREATED / COMMUNICATION_UPDATED (delivery status changes included)."""
    if conversation is None:
        conversation = await tx.conversations.get(communication.account_sid, communication.conversation_id)
        if conversation is None:
            return  # deleted: nobody to tell
    await emit(ctx, tx, conversation, event_type, communication_json(communication), communication.updated_ms)


async def action_updated(ctx: Context, tx: Tx, action: Action, conversation: Conversation | None = None) -> None:
    """ACTION_UPDATED, when an Action reaches COMPLETED or FAILED (our addition to the event list)."""
    if conversation is None:
        conversation = await tx.conversations.get(action.account_sid, action.conversation_id)
    if conversation is not None:
        await emit(ctx, tx, conversation, EventType.ACTION_UPDATED, action_json(action), action.updated_ms)
