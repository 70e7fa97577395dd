"""The sandbox channel's storage and timeline, and its inbox for people and tests.

``StorePort`` is the ``channels.sandbox.SandboxPort`` the sandbox provider
keeps its messages through: the message (``sandbox_messages``, unique per
idempotency key) and the start of its timeline are written in one
transaction, so a send re-run after a crash returns the same SID and never
records or schedules twice.

The timeline: each step, in one transaction, reports its status through
``services.outcomes.apply_report`` (with the Action id as idempotency key, so
a step that outruns the dispatcher's storing of ``messageSid`` still finds
its Action), moves the message (appending to its history) and schedules the
next step as a ``sandbox.step`` job, run by ``StepHandler``. Steps with no
delay are applied at once in the same transaction (with
``ORCHESTRION_SANDBOX_STEP_MS=0`` the whole timeline runs inside the send).
Steps are chained, not scheduled all at once, so a message's statuses are
reported in order even when the dispatcher is backlogged; a step job re-run
after its transaction committed (a crash before the job was marked done)
sees from the history that it was applied, and does nothing.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from orchestrion.channels.base import OutboundMessage
from orchestrion.channels.registry import ChannelRegistry
from orchestrion.channels.sandbox import SandboxProvider, TimelineStep
from orchestrion.domain.errors import InvalidInput, NotFound
from orchestrion.domain.models import Job
from orchestrion.domain.outcomes import MessageStatus, StatusReport
from orchestrion.services import outcomes
from orchestrion.services.context import Context
from orchestrion.store.sandbox import SandboxMessage
from orchestrion.store.store import Tx

log = structlog.get_logger("orchestrion.sandbox")

STEP_JOB = "sandbox.step"
# Messages sent through the emulated Messages API (services.messages_api): their idempotency key is
# this prefix and their SID; their statuses go to an API_STATUS_JOB each, not to an Action.
API_KEY_PREFIX = "api:"
API_STATUS_JOB = "messages_api.status"
API_SETTINGS_KEY = "messagesApi"  # where such a message keeps its API fields, in its channel_settings


def api_fields(message: SandboxMessage) -> Mapping[str, Any]:
    """What the Messages API keeps beside a message (status callback, messaging service)."""
    found = (message.channel_settings or {}).get(API_SETTINGS_KEY)
    return found if isinstance(found, Mapping) else {}


def api_sender(message: SandboxMessage) -> str | None:
    """The number a Messages API message was sent from; None when a Messaging Service sent it."""
    service = api_fields(message).get("messagingServiceSid")
    return None if service is not None and message.from_address == service else message.from_address


MAX_LIST_LIMIT = 1000
DEFAULT_LIST_LIMIT = 100


def default_registry(ctx: Context) -> ChannelRegistry:
    """Every channel served by the sandbox."""
    return ChannelRegistry(SandboxProvider(StorePort(ctx), step_ms=ctx.sandbox_step_ms))


def _step_payload(sid: str, key: str, index: int, steps: Sequence[TimelineStep]) -> dict[str, Any]:
    return {"sid": sid, "key": key, "index": index, "steps": [s.to_json() for s in steps]}


async def _schedule(ctx: Context, tx: Tx, sid: str, key: str, index: int, steps: Sequence[TimelineStep]) -> None:
    now = ctx.clock.now_ms()
    await tx.jobs.enqueue(
        STEP_JOB, _step_payload(sid, key, index, steps), now_ms=now, run_at_ms=now + steps[0].after_ms
    )


async def _run_steps(
    ctx: Context,
    tx: Tx,
    sid: str,
    key: str,
    index: int,
    steps: Sequence[TimelineStep],
    *,
    message: SandboxMessage | None,
) -> bool:
    """Apply ``steps[0]`` (its job came due) and the zero-delay steps after it, then schedule the rest.

    ``steps[0]`` is step number ``index`` (history[index] once applied). The
    steps applied together are reported before the message moves, so a
    report that cannot be placed (NotFound) leaves nothing half done. True if
    a step was scheduled.
    """
    count = 1 + len(list(itertools.takewhile(lambda step: step.after_ms == 0, steps[1:])))
    due, later = steps[:count], steps[count:]
    await _report_all(ctx, tx, sid, key, due, message)
    if message is not None:  # None: cleared from the inbox; the timeline still runs
        await tx.sandbox.rewrite(_moved(message, due, ctx.clock.now_ms()))
    if later:
        await _schedule(ctx, tx, sid, key, index + count, later)
        return True
    return False


async def _report_all(
    ctx: Context, tx: Tx, sid: str, key: str, steps: Sequence[TimelineStep], message: SandboxMessage | None
) -> None:
    """Report ``steps``: to the Action that sent the message, or, for a Messages API message, as jobs."""
    if not key.startswith(API_KEY_PREFIX):
        await outcomes.apply_reports(ctx, tx, [_report(sid, key, step) for step in steps])
        return
    if message is None:
        return  # deleted through the API: nobody is told any more
    now = ctx.clock.now_ms()
    for step in steps:
        payload = {
            "sid": sid,
            "accountSid": message.account_sid,
            "status": str(step.status),
            "errorCode": step.error_code,
            "errorMessage": step.error_message,
            "from": api_sender(message),
            "to": message.to_addresses[0] if message.to_addresses else None,
            "statusCallback": api_fields(message).get("statusCallback"),
        }
        # One message's statuses run one at a time, in order (the ordering key).
        await tx.jobs.enqueue(API_STATUS_JOB, payload, now_ms=now, ordering_key=f"message:{sid}")
    tx.after_commit(ctx.wakeup.notify)  # due now: this process's dispatcher need not wait for its next poll


def _report(sid: str, key: str, step: TimelineStep) -> StatusReport:
    return StatusReport(
        message_sid=sid,
        status=step.status,
        error_code=step.error_code,
        error_message=step.error_message,
        idempotency_key=key,
    )


def _moved(message: SandboxMessage, steps: Sequence[TimelineStep], now_ms: int) -> SandboxMessage:
    """``message`` after ``steps``, each appended to its history."""
    for step in steps:
        message = dataclasses.replace(
            message,
            status=str(step.status),
            error_code=step.error_code,
            error_message=step.error_message,
            history=[*message.history, {"status": str(step.status), "at": now_ms}],
            updated_ms=now_ms,
        )
    return message


class StorePort:
    """The sandbox's port onto the store."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    async def record(
        self, message: OutboundMessage, *, sid: str, idempotency_key: str, steps: Sequence[TimelineStep]
    ) -> str:
        """Keep the message and start its timeline, in one transaction.

        The steps due at once (no delay: all of them with
        ``ORCHESTRION_SANDBOX_STEP_MS=0``) are computed before writing: the
        message is inserted in its state after them, and their reports are
        applied together (``outcomes.apply_reports``), so each row is written
        once. When no step is left for later, this transaction is the whole
        send, and it ends the send's job too.
        """
        now = self._ctx.clock.now_ms()
        due = list(itertools.takewhile(lambda step: step.after_ms == 0, steps))
        later = steps[len(due) :]
        queued = SandboxMessage(
            sid=sid,
            account_sid=message.account_sid,
            idempotency_key=idempotency_key,
            conversation_id=message.conversation_id or None,  # none for a Messages API message
            channel=str(message.channel),
            from_address=message.from_address,
            to_addresses=list(message.to_addresses),
            body=message.text,
            content_id=message.content_id,
            variables=None if message.variables is None else dict(message.variables),
            media_urls=None if message.media_urls is None else list(message.media_urls),
            channel_settings=None if message.channel_settings is None else dict(message.channel_settings),
            status=str(MessageStatus.QUEUED),
            error_code=None,
            error_message=None,
            created_ms=now,
            updated_ms=now,
            history=[{"status": str(MessageStatus.QUEUED), "at": now}],
        )
        scheduled = False
        async with self._ctx.store.write(finish_job=not later) as tx:
            stored = await tx.sandbox.insert(_moved(queued, due, now))
            fresh = stored.sid == sid
            if fresh:
                try:
                    reported = list(due)
                    if idempotency_key.startswith(API_KEY_PREFIX):  # Twilio calls back for queued too
                        reported.insert(0, TimelineStep(MessageStatus.QUEUED, 0))
                    if reported:
                        await _report_all(self._ctx, tx, sid, idempotency_key, reported, stored)
                    if later:
                        await _schedule(self._ctx, tx, sid, idempotency_key, 1 + len(due), later)
                        scheduled = True
                except NotFound:
                    # Nothing knows this message yet: back to queued, and the timeline's job retries the report.
                    await tx.sandbox.rewrite(queued)
                    await _schedule(self._ctx, tx, sid, idempotency_key, 1, steps)
                    scheduled = True
        if scheduled:
            self._ctx.wakeup.notify()
        if not fresh:
            log.info("sandbox_send_repeated", sid=stored.sid, idempotency_key=idempotency_key)
        return stored.sid


class StepHandler:
    """Runs ``sandbox.step`` jobs: the next status(es) of one message's timeline."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    async def run(self, job: Job) -> None:
        sid: str = job.payload["sid"]
        key: str = job.payload["key"]
        index: int = job.payload["index"]
        steps = [TimelineStep.from_json(s) for s in job.payload["steps"]]
        async with self._ctx.store.write() as tx:
            message = await tx.sandbox.get(sid, for_update=True)
            if message is not None and len(message.history) > index:
                # Applied, reported and its next step scheduled by a transaction that
                # committed before this job could be marked done (a crash, a lease expiry).
                return
            scheduled = await _run_steps(self._ctx, tx, sid, key, index, steps, message=message)
        if scheduled:
            self._ctx.wakeup.notify()

    async def give_up(self, job: Job, reason: str) -> None:
        """The timeline cannot go on: report the message failed, so its Action still ends."""
        if str(job.payload["key"]).startswith(API_KEY_PREFIX):
            log.warning("sandbox_timeline_stopped", sid=job.payload["sid"], reason=reason)
            return  # no Action waits on a Messages API message
        await outcomes.report_status(
            self._ctx,
            StatusReport(
                message_sid=job.payload["sid"],
                status=MessageStatus.FAILED,
                error_message=f"The sandbox could not move the message on: {reason}",
                idempotency_key=job.payload["key"],
            ),
        )


# --- The inbox: what the sandbox sent, for people and tests (``/sandbox/messages``).


@dataclass(frozen=True, slots=True)
class InboxFilter:
    to: str | None = None
    from_address: str | None = None
    conversation_id: str | None = None
    status: str | None = None
    limit: int = DEFAULT_LIST_LIMIT


async def list_messages(ctx: Context, account_sid: str, where: InboxFilter) -> list[SandboxMessage]:
    """The account's sandbox messages matching ``where``, oldest first (the newest ``limit``)."""
    if not 1 <= where.limit <= MAX_LIST_LIMIT:
        raise InvalidInput(f"Invalid parameter limit: must be an integer from 1 to {MAX_LIST_LIMIT}")
    if where.status is not None and where.status not in {str(s) for s in MessageStatus}:
        raise InvalidInput(f"Invalid parameter status: one of {', '.join(s.value for s in MessageStatus)}")
    async with ctx.store.read() as tx:
        return await tx.sandbox.list(
            account_sid,
            to=where.to,
            from_=where.from_address,
            conversation_id=where.conversation_id,
            status=where.status,
            limit=where.limit,
        )


async def get_message(ctx: Context, account_sid: str, sid: str, *, kind: str = "sandbox message") -> SandboxMessage:
    """The account's message ``sid``; NotFound (naming it a ``kind``) for an unknown one or another account's."""
    async with ctx.store.read() as tx:
        message = await tx.sandbox.get(sid)
    if message is None or message.account_sid != account_sid:
        raise NotFound(kind, sid)
    return message


async def clear_messages(ctx: Context, account_sid: str) -> int:
    """Forget every sandbox message of the account; timelines in flight still finish."""
    async with ctx.store.write() as tx:
        return await tx.sandbox.clear(account_sid)
