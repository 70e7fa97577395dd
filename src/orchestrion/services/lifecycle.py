"""Status timeouts: ACTIVE -> INACTIVE -> CLOSED when a conversation goes quiet.

The rules are ``domain.timeouts``. Each conversation with timeouts has at most
one pending timer: a ``conversation.timeout`` outbox job due at the time kept
in ``conversation_timers`` (the job carries that time; a job whose time is no
longer the row's is stale and does nothing). A new communication writes
nothing here: when the timer fires it reads the conversation's last activity
again and, if there was activity, re-schedules itself for the new deadline.
Only a move that brings a deadline earlier (a conversation created, or
reopened from INACTIVE to ACTIVE) schedules a timer, via ``schedule``.

Firing is idempotent: the conversation row is locked, the decision is taken
from its current status and last activity, and the timer row is rewritten in
the same transaction, so a job run twice changes nothing the second time.
"""

from __future__ import annotations

import dataclasses

import structlog

from orchestrion.domain.models import Conversation, Job
from orchestrion.domain.timeouts import decide, next_due, timeouts_of
from orchestrion.domain.webhooks import EventType
from orchestrion.services import events
from orchestrion.services.context import Context
from orchestrion.store.store import Tx

log = structlog.get_logger("orchestrion.lifecycle")

TIMER_JOB = "conversation.timeout"


async def schedule(ctx: Context, tx: Tx, conversation: Conversation, last_activity_ms: int) -> None:
    """Make sure a timer fires by the conversation's next deadline (inside the caller's transaction)."""
    due = next_due(conversation.status, last_activity_ms, timeouts_of(conversation.configuration))
    if due is None:
        return
    pending = await tx.lifecycle.timer_due(conversation.id)
    if pending is not None and pending <= due:
        return  # an earlier timer will look again and re-schedule itself
    await _arm(ctx, tx, conversation.account_sid, conversation.id, due)


async def _arm(ctx: Context, tx: Tx, account_sid: str, conversation_id: str, due_ms: int) -> None:
    await tx.lifecycle.set_timer(conversation_id, due_ms)
    await tx.jobs.enqueue(
        TIMER_JOB,
        {"accountSid": account_sid, "conversationId": conversation_id, "dueMs": due_ms},
        now_ms=ctx.clock.now_ms(),
        run_at_ms=due_ms,
    )


class TimeoutHandler:
    """Runs ``conversation.timeout`` jobs (payload ``{"accountSid", "conversationId", "dueMs"}``)."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    async def run(self, job: Job) -> None:
        account_sid: str = job.payload["accountSid"]
        conversation_id: str = job.payload["conversationId"]
        due_ms: int = job.payload["dueMs"]
        moved: Conversation | None = None
        previous = None
        async with self._ctx.store.write() as tx:
            if await tx.lifecycle.timer_due(conversation_id) != due_ms:
                return  # stale: another timer replaced this one, or the conversation is gone
            conversation = await tx.conversations.get(account_sid, conversation_id, for_update=True)
            last_activity = await tx.lifecycle.last_activity_ms(conversation_id)
            if conversation is None or last_activity is None:
                await tx.lifecycle.clear_timer(conversation_id)
                return
            now = self._ctx.clock.now_ms()
            decision = decide(conversation.status, last_activity, timeouts_of(conversation.configuration), now)
            if decision.status is not None:
                previous = conversation.status
                moved = dataclasses.replace(conversation, status=decision.status, updated_ms=now)
                await tx.conversations.update(moved)
                await events.conversation_event(self._ctx, tx, moved, EventType.CONVERSATION_UPDATED)
            if decision.next_due_ms is None:
                await tx.lifecycle.clear_timer(conversation_id)
            else:
                await _arm(self._ctx, tx, account_sid, conversation_id, decision.next_due_ms)
        if moved is not None:
            log.info(
                "conversation_status_changed",
                account_sid=moved.account_sid,
                conversation_id=conversation_id,
                previous=str(previous),
                status=str(moved.status),
                reason="status_timeout",
            )

    async def give_up(self, job: Job, reason: str) -> None:
        """Forget the timer, so the next activity that needs one arms a new one."""
        conversation_id: str = job.payload["conversationId"]
        async with self._ctx.store.write() as tx:
            if await tx.lifecycle.timer_due(conversation_id) == job.payload["dueMs"]:
                await tx.lifecycle.clear_timer(conversation_id)
        log.warning("status_timeout_given_up", conversation_id=conversation_id, reason=reason)
