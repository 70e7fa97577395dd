"""Status reports from channel providers: the one way they change Actions and Communications.

``report_status(ctx, report)`` is the entry point for every provider (a
status-callback route, a poller); ``apply_report(ctx, tx, report)`` is the
same inside a transaction the caller already holds (the sandbox, whose own
bookkeeping lives in the same store, moves its message and reports in one
transaction). The rules are ``domain.outcomes.decide``; this module applies
them with the Action row locked, so concurrent reports about one message are
applied one after the other.

Finding the Action: in the report's account when it names one (a status
callback can only move its own account's Actions), by ``related.messageSid``;
failing that by the report's
``idempotency_key`` (the Action id given to ``send``). The second path covers
the race where a provider reports before the dispatcher stored the SID (the
sandbox's first step can run first; a worker can crash between the send and
the store): the report adopts the SID itself, so nothing waits on the other.
A report nobody can place raises ``NotFound`` so its caller retries it.

The send path knows its Action already (``sending``): a report made inside
that send (the sandbox's steps due at once) starts from that copy instead of
reading the row locked, and writes it back only if it is unchanged
(compare-and-set on its status and ``updated_ms``). Only a terminal move or a
deletion can change a PENDING Action before its message exists; then
``ActionChanged`` rolls the send's transaction back (the message is not
kept: the Action it was for is over), and the send job ends, or runs again
from the stored Action if that one is somehow still PENDING.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from enum import StrEnum
from typing import Any

import structlog

from orchestrion.domain import ids
from orchestrion.domain.errors import NotFound, OrchestrionError
from orchestrion.domain.lifecycle import action_is_terminal
from orchestrion.domain.models import Action, ActionStatus, Communication, Conversation, Endpoint
from orchestrion.domain.outcomes import Move, StatusReport, advance_recipients, decide
from orchestrion.domain.sending import SendRequest, communication_text
from orchestrion.domain.webhooks import EventType
from orchestrion.services import events, tallies
from orchestrion.services.communications import record_communication
from orchestrion.services.context import Context
from orchestrion.store.store import Tx

log = structlog.get_logger("orchestrion.outcomes")


class Applied(StrEnum):
    CHANGED = "CHANGED"  # the Action or its Communication moved
    ABSORBED = "ABSORBED"  # duplicate, late or stale: nothing to do
    GONE = "GONE"  # the Action no longer exists (its conversation was deleted)


class ActionChanged(OrchestrionError):
    """The Action a send started from changed before the send's report was written (see the module)."""


# The Action the current task is sending, as it read it (or created it), with that task: see
# ``sending``. A task the send starts (a provider reporting in the background) inherits the
# context but is another task, and reads the Action the locked way: the send may store the SID
# meanwhile, which this copy would not know.
_SENDING: ContextVar[tuple[asyncio.Task[Any] | None, Action] | None] = ContextVar("orchestrion_sending", default=None)


@contextlib.contextmanager
def sending(action: Action) -> Iterator[None]:
    """While the current task sends ``action``: its own reports start from this copy (see the module)."""
    token = _SENDING.set((asyncio.current_task(), action))
    try:
        yield
    finally:
        _SENDING.reset(token)


async def report_status(ctx: Context, report: StatusReport) -> Applied:
    """Apply one provider status report in its own transaction."""
    async with ctx.store.write() as tx:
        return await apply_report(ctx, tx, report)


def _sent_here(report: StatusReport) -> Action | None:
    """The Action this task is sending, if the report is about it and it can be used as it is."""
    sending = _SENDING.get()
    if sending is None or sending[0] is not asyncio.current_task():
        return None
    known = sending[1]
    if known.id != report.idempotency_key or action_is_terminal(known.status):
        return None
    if report.account_sid not in (None, known.account_sid):
        return None
    return known if known.related.get("messageSid") in (None, report.message_sid) else None


async def _find_action(tx: Tx, report: StatusReport) -> Action | None:
    """The Action the report is about, locked: by the idempotency key (the Action id) first, else by SID."""
    by_key = None
    if report.idempotency_key is not None and ids.is_id(report.idempotency_key, ids.ACTION):
        by_key = await tx.actions.get_by_id(report.idempotency_key, for_update=True)
        if by_key is not None and report.account_sid not in (None, by_key.account_sid):
            by_key = None
        if by_key is not None and by_key.related.get("messageSid") in (None, report.message_sid):
            return by_key
    by_sid = await tx.actions.get_by_message_sid(report.message_sid, account_sid=report.account_sid, for_update=True)
    return by_sid if by_sid is not None else by_key


async def apply_report(ctx: Context, tx: Tx, report: StatusReport) -> Applied:
    """Apply one report inside ``tx``; raise NotFound if no Action can be found for it yet."""
    return await apply_reports(ctx, tx, [report])


async def apply_reports(ctx: Context, tx: Tx, reports: Sequence[StatusReport]) -> Applied:
    """Apply reports about one message, in order, inside ``tx``, as one change.

    The outcome, the rows and the status-callback events are those of
    applying the reports one by one, but each row is written once (the
    sandbox's zero-delay timeline: sent, then delivered). Raise NotFound if
    no Action can be found for them yet.
    """
    first = reports[0]
    unlocked = _sent_here(first)
    action = unlocked or await _find_action(tx, first)
    if action is None:
        if first.idempotency_key is not None and ids.is_id(first.idempotency_key, ids.ACTION):
            log.info("report_for_deleted_action", message_sid=first.message_sid, action_id=first.idempotency_key)
            return Applied.GONE
        raise NotFound("message", first.message_sid)
    known_sid = action.related.get("messageSid")
    if known_sid is not None and known_sid != first.message_sid:
        log.warning("report_for_other_message", action_id=action.id, message_sid=first.message_sid, known=known_sid)
        return Applied.ABSORBED

    now = ctx.clock.now_ms()
    related = dict(action.related)
    if known_sid is None and not action_is_terminal(action.status):
        related["messageSid"] = first.message_sid  # adopted: the report outran the dispatcher
    current = dataclasses.replace(action, related=related, updated_ms=now) if related != action.related else action
    created: Communication | None = None  # the Communication this change creates, as first recorded
    deliveries: list[str] = []  # recipients' statuses reported once the Action is COMPLETED
    for report in reports:
        decision = decide(current.status, report)
        if decision.move is Move.FAIL:
            current = dataclasses.replace(
                current,
                status=ActionStatus.FAILED,
                failure_reason=decision.failure_reason,
                updated_ms=now,
                completed_ms=now,
            )
        elif decision.move is Move.COMPLETE:
            assert decision.delivery_status is not None
            created = _communication(current, first.message_sid, decision.delivery_status, now)
            current = dataclasses.replace(
                current,
                status=ActionStatus.COMPLETED,
                related={**current.related, "communicationId": created.id},
                updated_ms=now,
                completed_ms=now,
            )
        elif decision.move is Move.DELIVERY:
            assert decision.delivery_status is not None
            deliveries.append(decision.delivery_status)
    return await _write(ctx, tx, action, current, created, deliveries, first.message_sid, locked=unlocked is None)


async def _write(
    ctx: Context,
    tx: Tx,
    before: Action,
    after: Action,
    created: Communication | None,
    deliveries: Sequence[str],
    message_sid: str,
    *,
    locked: bool,
) -> Applied:
    """Store what ``apply_reports`` decided, in the order the events happened."""
    conversation: Conversation | None = None
    communication: Communication | None = None  # the one later deliveries move
    if created is not None:
        moves = _moves(created, deliveries, created.updated_ms)
        recorded = await record_communication(ctx, tx, moves[-1] if moves else created, announced=created)
        conversation = recorded.conversation
        if recorded.new:
            deliveries = ()  # stored in its final state; the moves are announced below
        else:  # recorded before under this SID: that one is the Action's, and the deliveries move it
            communication = recorded.communication
            after = dataclasses.replace(after, related={**after.related, "communicationId": communication.id})
            moves = []
    else:
        moves = []
    if after is not before:
        if locked:
            await tx.actions.update(after)
        elif not await tx.actions.update_unchanged(before, after):
            raise ActionChanged(f"Action {before.id} changed while it was being sent")
        if action_is_terminal(after.status) and not action_is_terminal(before.status):
            await events.action_updated(ctx, tx, after, conversation)
            tallies.action_finished(ctx, tx, after)
            if after.status is ActionStatus.FAILED:
                log.info("action_failed", action_id=after.id, message_sid=message_sid, reason=after.failure_reason)
            else:
                log.debug("action_completed", action_id=after.id, message_sid=message_sid)
    for moved in moves:
        await events.communication_event(ctx, tx, EventType.COMMUNICATION_UPDATED, moved, conversation)
    if deliveries and await _advance_delivery(ctx, tx, after, communication, deliveries):
        return Applied.CHANGED
    return Applied.CHANGED if after is not before else Applied.ABSORBED


def _moves(communication: Communication, deliveries: Sequence[str], now_ms: int) -> list[Communication]:
    """The Communication after each reported delivery status that moves its recipients."""
    out: list[Communication] = []
    for status in deliveries:
        moved = advance_recipients([r.delivery_status for r in communication.recipients], status)
        if moved is None:
            continue
        communication = dataclasses.replace(
            communication,
            recipients=tuple(
                dataclasses.replace(r, delivery_status=s) for r, s in zip(communication.recipients, moved, strict=True)
            ),
            updated_ms=now_ms,
        )
        out.append(communication)
    return out


def _communication(action: Action, message_sid: str, delivery_status: str, now_ms: int) -> Communication:
    """The outbound Communication of a sent message: resourceId and channelId are its SID."""
    request = SendRequest.from_json(action.request)
    return Communication(
        id=ids.new_id(ids.COMMUNICATION),
        conversation_id=action.conversation_id,
        account_sid=action.account_sid,
        author=Endpoint(
            address=request.sender.address, channel=request.channel, participant_id=request.sender.participant_id
        ),
        content={"type": "TEXT", "text": communication_text(request.content)},
        channel_id=message_sid,
        resource_id=message_sid,
        recipients=tuple(
            Endpoint(
                address=to.address,
                channel=request.channel,
                participant_id=to.participant_id,
                delivery_status=delivery_status,
            )
            for to in request.to
        ),
        occurred_ms=now_ms,
        created_ms=now_ms,
        updated_ms=now_ms,
    )


async def _advance_delivery(
    ctx: Context, tx: Tx, action: Action, communication: Communication | None, deliveries: Sequence[str]
) -> bool:
    """Move the recipients' deliveryStatus forward on a COMPLETED Action's Communication; whether it moved."""
    if communication is None:
        communication_id = action.related.get("communicationId")
        if communication_id is None:
            return False
        communication = await tx.communications.get(action.conversation_id, communication_id)
        if communication is None:
            return False
    moves = _moves(communication, deliveries, ctx.clock.now_ms())
    if not moves:
        return False
    final = moves[-1]
    await tx.communications.set_recipients(final.id, final.recipients, final.updated_ms)
    for moved in moves:
        await events.communication_event(ctx, tx, EventType.COMMUNICATION_UPDATED, moved)
    return True
