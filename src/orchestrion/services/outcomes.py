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
"""

from __future__ import annotations

import dataclasses
from enum import StrEnum

import structlog

from orchestrion.domain import ids
from orchestrion.domain.errors import NotFound
from orchestrion.domain.lifecycle import action_is_terminal
from orchestrion.domain.models import Action, ActionStatus, Communication, Endpoint
from orchestrion.domain.outcomes import Decision, Move, StatusReport, advance_recipients, decide
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


async def report_status(ctx: Context, report: StatusReport) -> Applied:
    """Apply one provider status report in its own transaction."""
    async with ctx.store.write() as tx:
        return await apply_report(ctx, tx, report)


async def _find_action(tx: Tx, report: StatusReport) -> Action | None:
    action = await tx.actions.get_by_message_sid(report.message_sid, account_sid=report.account_sid, for_update=True)
    if action is not None or report.idempotency_key is None:
        return action
    if not ids.is_id(report.idempotency_key, ids.ACTION):
        return None
    action = await tx.actions.get_by_id(report.idempotency_key, for_update=True)
    if action is not None and report.account_sid not in (None, action.account_sid):
        return None
    return action


async def apply_report(ctx: Context, tx: Tx, report: StatusReport) -> Applied:
    """Apply one report inside ``tx``; raise NotFound if no Action can be found for it yet."""
    action = await _find_action(tx, report)
    if action is None:
        if report.idempotency_key is not None and ids.is_id(report.idempotency_key, ids.ACTION):
            log.info("report_for_deleted_action", message_sid=report.message_sid, action_id=report.idempotency_key)
            return Applied.GONE
        raise NotFound("message", report.message_sid)
    known_sid = action.related.get("messageSid")
    if known_sid is not None and known_sid != report.message_sid:
        log.warning("report_for_other_message", action_id=action.id, message_sid=report.message_sid, known=known_sid)
        return Applied.ABSORBED

    decision = decide(action.status, report)
    now = ctx.clock.now_ms()
    related = dict(action.related)
    adopt = known_sid is None and not action_is_terminal(action.status)
    if adopt:
        related["messageSid"] = report.message_sid

    if decision.move is Move.DELIVERY:
        return await _advance_delivery(ctx, tx, action, decision)
    if decision.move is Move.FAIL:
        failed = dataclasses.replace(
            action,
            status=ActionStatus.FAILED,
            related=related,
            failure_reason=decision.failure_reason,
            updated_ms=now,
            completed_ms=now,
        )
        await tx.actions.update(failed)
        await events.action_updated(ctx, tx, failed)
        tallies.action_finished(ctx, tx, failed)
        log.info("action_failed", action_id=action.id, message_sid=report.message_sid, reason=decision.failure_reason)
        return Applied.CHANGED
    if decision.move is Move.COMPLETE:
        assert decision.delivery_status is not None
        communication = await record_communication(
            ctx, tx, _communication(action, report.message_sid, decision.delivery_status, now)
        )
        related["communicationId"] = communication.id
        completed = dataclasses.replace(
            action, status=ActionStatus.COMPLETED, related=related, updated_ms=now, completed_ms=now
        )
        await tx.actions.update(completed)
        await events.action_updated(ctx, tx, completed)
        tallies.action_finished(ctx, tx, completed)
        log.debug("action_completed", action_id=action.id, message_sid=report.message_sid)
        return Applied.CHANGED
    if adopt:
        await tx.actions.update(dataclasses.replace(action, related=related, updated_ms=now))
        return Applied.CHANGED
    return Applied.ABSORBED


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


async def _advance_delivery(ctx: Context, tx: Tx, action: Action, decision: Decision) -> Applied:
    """Move the recipients' deliveryStatus forward on a COMPLETED Action's Communication."""
    assert decision.delivery_status is not None
    communication_id = action.related.get("communicationId")
    if communication_id is None:
        return Applied.ABSORBED
    communication = await tx.communications.get(action.conversation_id, communication_id)
    if communication is None:
        return Applied.ABSORBED
    moved = advance_recipients([r.delivery_status for r in communication.recipients], decision.delivery_status)
    if moved is None:
        return Applied.ABSORBED
    recipients = tuple(
        dataclasses.replace(r, delivery_status=status)
        for r, status in zip(communication.recipients, moved, strict=True)
    )
    now = ctx.clock.now_ms()
    await tx.communications.set_recipients(communication.id, recipients, now)
    updated = dataclasses.replace(communication, recipients=recipients, updated_ms=now)
    await events.communication_event(ctx, tx, EventType.COMMUNICATION_UPDATED, updated)
    return Applied.CHANGED
