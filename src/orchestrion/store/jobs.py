"""The outbox: enqueue in the caller's transaction, claim with a lease."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from orchestrion.domain.models import Job
from orchestrion.store.notify import JOBS_CHANNEL
from orchestrion.store.sqlfuncs import greatest
from orchestrion.store.tables import jobs


def _job(row: Any) -> Job:
    return Job(
        id=row.id,
        kind=row.kind,
        payload=row.payload,
        attempts=row.attempts,
        max_attempts=row.max_attempts,
        run_at_ms=row.run_at_ms,
        lease_until_ms=row.lease_until_ms,
    )


class JobRepo:
    def __init__(self, conn: AsyncConnection, backend: str) -> None:
        self._conn = conn
        self._backend = backend

    async def enqueue(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        now_ms: int,
        run_at_ms: int | None = None,
        max_attempts: int = 8,
        ordering_key: str | None = None,
    ) -> int:
        result = await self._conn.execute(
            jobs.insert()
            .values(
                kind=kind,
                payload=payload,
                attempts=0,
                max_attempts=max_attempts,
                run_at_ms=now_ms if run_at_ms is None else run_at_ms,
                ordering_key=ordering_key,
                created_ms=now_ms,
            )
            .returning(jobs.c.id)
        )
        if self._backend == "postgresql":
            # Delivered at commit, to every listening worker of every process.
            await self._conn.execute(sa.select(sa.func.pg_notify(JOBS_CHANNEL, "")))
        return int(result.scalar_one())

    async def claim(self, worker_id: str, *, now_ms: int, lease_ms: int, limit: int) -> list[Job]:
        """Take up to ``limit`` due jobs whose lease is free or expired, in one statement.

        A job with an ordering key is claimable only while no older job has that key.
        """
        earlier = jobs.alias("earlier")
        due = (
            sa.select(jobs.c.id)
            .where(jobs.c.run_at_ms <= now_ms)
            .where(sa.or_(jobs.c.lease_until_ms.is_(None), jobs.c.lease_until_ms < now_ms))
            .where(
                sa.or_(
                    jobs.c.ordering_key.is_(None),
                    ~sa.exists().where(earlier.c.ordering_key == jobs.c.ordering_key, earlier.c.id < jobs.c.id),
                )
            )
            .order_by(jobs.c.run_at_ms, jobs.c.id)
            .limit(limit)
        )
        if self._backend == "postgresql":
            due = due.with_for_update(skip_locked=True)
        result = await self._conn.execute(
            jobs.update()
            .where(jobs.c.id.in_(due.scalar_subquery()))
            .values(lease_until_ms=now_ms + lease_ms, locked_by=worker_id, attempts=jobs.c.attempts + 1)
            .returning(*jobs.c)
        )
        return sorted((_job(row) for row in result), key=lambda j: (j.run_at_ms, j.id))

    async def complete(self, job_id: int, worker_id: str) -> bool:
        """Delete a finished job, if this worker still holds its lease."""
        result = await self._conn.execute(jobs.delete().where(jobs.c.id == job_id).where(jobs.c.locked_by == worker_id))
        return bool(result.rowcount)

    async def retry(self, job_id: int, worker_id: str, *, run_at_ms: int, error: str) -> bool:
        result = await self._conn.execute(
            jobs.update()
            .where(jobs.c.id == job_id)
            .where(jobs.c.locked_by == worker_id)
            .values(run_at_ms=run_at_ms, lease_until_ms=None, locked_by=None, last_error=error[:2000])
        )
        return bool(result.rowcount)

    async def next_due_ms(self) -> int | None:
        """When the earliest job becomes claimable (run time or lease expiry)."""
        due = greatest(self._backend, jobs.c.run_at_ms, sa.func.coalesce(jobs.c.lease_until_ms, 0))
        value = (await self._conn.execute(sa.select(sa.func.min(due)))).scalar()
        return None if value is None else int(value)

    async def count(self, kind: str | None = None) -> int:
        query = sa.select(sa.func.count()).select_from(jobs)
        if kind is not None:
            query = query.where(jobs.c.kind == kind)
        return int((await self._conn.execute(query)).scalar_one())
