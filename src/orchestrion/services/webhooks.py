"""Status callbacks: checking callback URLs, delivering events, reading the delivery log.

Events are written by ``services.events`` (a delivery row and a
``webhook.deliver`` outbox job, in the transaction of the change). The
dispatcher runs ``DeliveryHandler``: one HTTP attempt per run, its outcome
recorded in the delivery log; a retryable failure (network error, timeout,
5xx) is raised as a transient ``ProviderError`` so the dispatcher retries it
with its backoff, until the event runs out of attempts
(ORCHESTRION_WEBHOOK_MAX_ATTEMPTS) or of time (ORCHESTRION_WEBHOOK_MAX_AGE_S:
no retry is scheduled for an older event). Anything else fails the delivery
at once. Jobs of one conversation and URL share an ordering key, so a retried
event holds back the later ones instead of being overtaken.

``redeliver`` sends a finished event again (the console's Redeliver button):
the same delivery, PENDING again, and a new ``webhook.deliver`` job in the
same transaction, so it goes through the outbox like any event (same
idempotency token, attempts numbered on from the earlier ones, retried under
the same policy, its age counted from the redelivery).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from orchestrion.domain import ids
from orchestrion.domain.errors import InvalidInput, InvalidState, NotFound, ProviderError
from orchestrion.domain.models import Job
from orchestrion.domain.webhooks import (
    Callback,
    DeliveryStatus,
    EventType,
    WebhookAttempt,
    WebhookDelivery,
    ordering_key,
)
from orchestrion.services.context import Context
from orchestrion.store.paging import Page, PageRequest
from orchestrion.webhooks.sender import Outbound

log = structlog.get_logger("orchestrion.webhooks")

DELIVER_JOB = "webhook.deliver"
# In a job retried by an operator: how many attempts the delivery had before, so numbering goes on.
ATTEMPTS_BEFORE = "attemptsBefore"
# In a redelivered job: when it was redelivered; the age limit on retries counts from then.
REDELIVERED_MS = "redeliveredMs"
_PURGE_EVERY = 64  # finished deliveries past retention are purged by one delivery in this many


async def check_callback_urls(ctx: Context, callbacks: Sequence[Mapping[str, Any]] | None, where: str) -> None:
    """400 when a callback URL is not one this server may call (see ORCHESTRION_WEBHOOK_PUBLIC_ONLY)."""
    for index, callback in enumerate(callbacks or ()):
        url = str(callback.get("url") or "")
        reason = await ctx.webhooks.check_url(url)
        if reason is not None:
            raise InvalidInput(f"{where}[{index}].url {reason}")


def _attempt_number(job: Job) -> int:
    return job.attempts + int(job.payload.get(ATTEMPTS_BEFORE, 0))


class DeliveryHandler:
    """Runs ``webhook.deliver`` jobs (payload ``{"deliveryId": ...}``): one attempt per run."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    async def run(self, job: Job) -> None:
        delivery_id = str(job.payload.get("deliveryId", ""))
        async with self._ctx.store.read() as tx:
            delivery = await tx.webhooks.get(delivery_id)
            if delivery is None or delivery.status is not DeliveryStatus.PENDING:
                return  # purged, or ended by a run whose job was not marked done (a crash)
            account = await tx.accounts.get(delivery.account_sid)
        if account is None:
            raise ProviderError(f"Account {delivery.account_sid} no longer exists", transient=False)
        started_ms = self._ctx.clock.now_ms()
        attributes = {"webhook.event_type": str(delivery.event_type), "webhook.delivery_id": delivery.id}
        with self._ctx.tracer.span("status_callback", attributes) as span:
            outcome = await self._ctx.webhooks.send(
                Outbound(
                    url=delivery.url,
                    method=delivery.method,
                    body=delivery.body,
                    auth_token=account.auth_token,
                    idempotency_token=delivery.id,
                )
            )
            span.set("http.response.status_code", outcome.status_code or 0)
        now = self._ctx.clock.now_ms()
        attempt = WebhookAttempt(
            number=_attempt_number(job),
            request_id=outcome.request_id,
            started_ms=started_ms,
            status_code=outcome.status_code,
            latency_ms=outcome.latency_ms,
            error=outcome.error,
        )
        async with self._ctx.store.write() as tx:
            await tx.webhooks.record_attempt(delivery.id, attempt, delivered=outcome.delivered, now_ms=now)
        verdict = "delivered" if outcome.delivered else "failed" if outcome.retryable else "refused"
        self._ctx.metrics.webhook_attempt(verdict, (outcome.latency_ms or 0) / 1000)
        fields = {
            "delivery_id": delivery.id,
            "event_type": str(delivery.event_type),
            "attempt": attempt.number,
            "status_code": outcome.status_code,
            "latency_ms": outcome.latency_ms,
        }
        if outcome.delivered:
            log.debug("webhook_delivered", **fields)
            if job.id % _PURGE_EVERY == 0:
                await self._purge(now)
            return
        log.info("webhook_attempt_failed", error=outcome.error, retryable=outcome.retryable, **fields)
        assert outcome.error is not None
        if not outcome.retryable:
            raise ProviderError(outcome.error, transient=False)
        age_ms = now - int(job.payload.get(REDELIVERED_MS, delivery.created_ms))
        if age_ms >= self._ctx.webhooks.policy.max_age_ms:
            raise ProviderError(f"{outcome.error}; no retry: the event is {age_ms // 1000} s old", transient=False)
        raise ProviderError(outcome.error, transient=True)

    async def give_up(self, job: Job, reason: str) -> None:
        delivery_id = str(job.payload.get("deliveryId", ""))
        number = _attempt_number(job)
        tries = "attempt" if number == 1 else "attempts"
        async with self._ctx.store.write() as tx:
            failed = await tx.webhooks.fail(delivery_id, f"{reason} (after {number} {tries})", self._ctx.clock.now_ms())
        if failed:
            log.info("webhook_failed", delivery_id=delivery_id, attempts=number, reason=reason)

    async def _purge(self, now_ms: int) -> None:
        async with self._ctx.store.write() as tx:
            purged = await tx.webhooks.purge(now_ms - self._ctx.webhooks.policy.log_retention_ms)
        if purged:
            log.info("webhook_log_purged", count=purged)


async def redeliver(ctx: Context, account_sid: str, conversation_id: str, delivery_id: str) -> None:
    """Send a DELIVERED or FAILED event again, through the outbox (see the module); 409 while it is PENDING."""
    async with ctx.store.write() as tx:
        delivery = await tx.webhooks.get(delivery_id)
        if delivery is None or delivery.account_sid != account_sid or delivery.conversation_id != conversation_id:
            raise NotFound("Status callback delivery", delivery_id)
        now = ctx.clock.now_ms()
        if await tx.webhooks.reopen(delivery_id, now) is None:
            raise InvalidState(f"Status callback delivery {delivery_id} is still being delivered")
        recorded = (await tx.webhooks.attempts_of([delivery_id]))[delivery_id]
        before = max([delivery.attempts, *(a.number for a in recorded)])
        await tx.jobs.enqueue(
            DELIVER_JOB,
            {"deliveryId": delivery_id, ATTEMPTS_BEFORE: before, REDELIVERED_MS: now},
            now_ms=now,
            max_attempts=ctx.webhooks.policy.max_attempts,
            ordering_key=ordering_key(conversation_id, Callback(delivery.url, delivery.method)),
        )
    ctx.wakeup.notify()
    log.info("webhook_redelivery_queued", delivery_id=delivery_id, attempts_before=before)


# --- The delivery log, per conversation.


@dataclass(frozen=True, slots=True)
class DeliveryView:
    delivery: WebhookDelivery
    attempts: tuple[WebhookAttempt, ...]


async def list_deliveries(
    ctx: Context, account_sid: str, conversation_id: str, page: PageRequest, *, event_type: str | None = None
) -> Page[DeliveryView]:
    """The conversation's events and every attempt at delivering each, oldest first."""
    if event_type is not None and event_type not in {str(e) for e in EventType}:
        raise InvalidInput(f"Invalid parameter eventType: one of {', '.join(e.value for e in EventType)}")
    async with ctx.store.read() as tx:
        # Account-scoped, like every nested resource (services.participants.load_conversation,
        # which this module cannot import: the services that emit events import this one).
        if (
            not ids.is_id(conversation_id, ids.CONVERSATION)
            or await tx.conversations.get(account_sid, conversation_id) is None
        ):
            raise NotFound("Conversation", conversation_id)
        found = await tx.webhooks.list(account_sid, conversation_id, page, event_type=event_type)
        attempts = await tx.webhooks.attempts_of([d.id for d in found.items])
    return Page(
        [DeliveryView(d, tuple(attempts[d.id])) for d in found.items],
        more_after=found.more_after,
        more_before=found.more_before,
    )
