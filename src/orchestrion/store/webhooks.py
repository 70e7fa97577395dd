"""Status-callback deliveries and their attempts: the delivery log."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from orchestrion.domain.webhooks import DeliveryStatus, EventType, WebhookAttempt, WebhookDelivery
from orchestrion.store.database import SqlConnection
from orchestrion.store.paging import Page, PageRequest, fetch_page
from orchestrion.store.sqlfuncs import greatest
from orchestrion.store.tables import webhook_attempts, webhook_deliveries

# An attempt whose outcome was never recorded: the worker stopped (or lost its
# lease) between claiming the job and storing the answer. It may have arrived.
INTERRUPTED = "no outcome recorded: the worker was interrupted (the request may have reached the receiver)"


def _delivery(row: Any) -> WebhookDelivery:
    return WebhookDelivery(
        id=row.id,
        account_sid=row.account_sid,
        conversation_id=row.conversation_id,
        event_type=EventType(row.event_type),
        url=row.url,
        method=row.method,
        body=row.body,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        failure_reason=row.failure_reason,
        created_ms=row.created_ms,
        updated_ms=row.updated_ms,
        completed_ms=row.completed_ms,
    )


def _attempt(row: Any) -> WebhookAttempt:
    return WebhookAttempt(
        number=row.number,
        request_id=row.request_id,
        started_ms=row.started_ms,
        status_code=row.status_code,
        latency_ms=row.latency_ms,
        error=row.error,
    )


class WebhookRepo:
    def __init__(self, conn: SqlConnection) -> None:
        self._conn = conn

    async def insert(self, d: WebhookDelivery) -> None:
        await self._conn.execute(
            webhook_deliveries.insert().values(
                id=d.id,
                account_sid=d.account_sid,
                conversation_id=d.conversation_id,
                event_type=str(d.event_type),
                url=d.url,
                method=d.method,
                body=d.body,
                status=str(d.status),
                attempts=d.attempts,
                failure_reason=d.failure_reason,
                created_ms=d.created_ms,
                updated_ms=d.updated_ms,
                completed_ms=d.completed_ms,
            )
        )

    async def get(self, delivery_id: str) -> WebhookDelivery | None:
        row = (
            await self._conn.execute(sa.select(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id))
        ).first()
        return None if row is None else _delivery(row)

    async def record_attempt(self, delivery_id: str, attempt: WebhookAttempt, *, delivered: bool, now_ms: int) -> None:
        """Store attempt number ``attempt.number``; earlier numbers with no row become interrupted attempts.

        A delivered attempt marks the delivery DELIVERED (if it was still PENDING).
        """
        known = set(
            (
                await self._conn.execute(
                    sa.select(webhook_attempts.c.number).where(webhook_attempts.c.delivery_id == delivery_id)
                )
            ).scalars()
        )
        values = {
            "request_id": attempt.request_id,
            "started_ms": attempt.started_ms,
            "status_code": attempt.status_code,
            "latency_ms": attempt.latency_ms,
            "error": attempt.error,
        }
        lost = dict.fromkeys(values, None) | {"error": INTERRUPTED}  # every row of one INSERT has the same keys
        rows: list[dict[str, Any]] = [
            {"delivery_id": delivery_id, "number": n, **lost} for n in range(1, attempt.number) if n not in known
        ]
        if attempt.number in known:  # two workers on one job (a lease ran out mid-attempt): the last word stays
            await self._conn.execute(
                webhook_attempts.update()
                .where(webhook_attempts.c.delivery_id == delivery_id, webhook_attempts.c.number == attempt.number)
                .values(**values)
            )
        else:
            rows.append({"delivery_id": delivery_id, "number": attempt.number, **values})
        if rows:
            await self._conn.execute(webhook_attempts.insert(), rows)
        changes: dict[str, Any] = {
            "attempts": greatest(self._conn.dialect.name, webhook_deliveries.c.attempts, attempt.number),
            "updated_ms": now_ms,
        }
        if delivered:
            changes.update(status=str(DeliveryStatus.DELIVERED), completed_ms=now_ms)
        await self._conn.execute(
            webhook_deliveries.update()
            .where(webhook_deliveries.c.id == delivery_id, webhook_deliveries.c.status == str(DeliveryStatus.PENDING))
            .values(**changes)
        )

    async def fail(self, delivery_id: str, reason: str, now_ms: int) -> bool:
        """Mark a PENDING delivery FAILED; False if it had already ended (or is gone)."""
        result = await self._conn.execute(
            webhook_deliveries.update()
            .where(webhook_deliveries.c.id == delivery_id, webhook_deliveries.c.status == str(DeliveryStatus.PENDING))
            .values(
                status=str(DeliveryStatus.FAILED), failure_reason=reason[:2000], updated_ms=now_ms, completed_ms=now_ms
            )
        )
        return bool(result.rowcount)

    async def reopen(self, delivery_id: str, now_ms: int, *, only_failed: bool = False) -> WebhookDelivery | None:
        """Make a finished delivery PENDING again (a redelivery; ``only_failed``: an operator's retry of a
        FAILED one); None if it is PENDING, not FAILED when ``only_failed``, or gone."""
        finished = (
            webhook_deliveries.c.status == str(DeliveryStatus.FAILED)
            if only_failed
            else webhook_deliveries.c.status != str(DeliveryStatus.PENDING)
        )
        result = await self._conn.execute(
            webhook_deliveries.update()
            .where(webhook_deliveries.c.id == delivery_id, finished)
            .values(status=str(DeliveryStatus.PENDING), failure_reason=None, updated_ms=now_ms, completed_ms=None)
        )
        return await self.get(delivery_id) if result.rowcount else None

    async def attempts_of(self, delivery_ids: Sequence[str]) -> dict[str, list[WebhookAttempt]]:
        out: dict[str, list[WebhookAttempt]] = {d: [] for d in delivery_ids}
        if not delivery_ids:
            return out
        rows = await self._conn.execute(
            sa.select(webhook_attempts)
            .where(webhook_attempts.c.delivery_id.in_(list(delivery_ids)))
            .order_by(webhook_attempts.c.delivery_id, webhook_attempts.c.number)
        )
        for row in rows:
            out[row.delivery_id].append(_attempt(row))
        return out

    async def purge(self, finished_before_ms: int, limit: int = 500) -> int:
        """Forget up to ``limit`` deliveries (with their attempts) that ended before ``finished_before_ms``."""
        old = (
            sa.select(webhook_deliveries.c.id)
            .where(webhook_deliveries.c.completed_ms < finished_before_ms)
            .order_by(webhook_deliveries.c.completed_ms)
            .limit(limit)
        )
        ids = list((await self._conn.execute(old)).scalars())
        if not ids:
            return 0
        await self._conn.execute(webhook_attempts.delete().where(webhook_attempts.c.delivery_id.in_(ids)))
        result = await self._conn.execute(webhook_deliveries.delete().where(webhook_deliveries.c.id.in_(ids)))
        return int(result.rowcount or 0)

    async def list(
        self, account_sid: str, conversation_id: str, page: PageRequest, *, event_type: str | None = None
    ) -> Page[WebhookDelivery]:
        """One page of the conversation's deliveries (``page.newest_first`` for the newest first)."""
        query = sa.select(webhook_deliveries).where(
            webhook_deliveries.c.account_sid == account_sid, webhook_deliveries.c.conversation_id == conversation_id
        )
        if event_type is not None:
            query = query.where(webhook_deliveries.c.event_type == event_type)
        return await fetch_page(self._conn, query, webhook_deliveries.c.id, page, _delivery)
