"""The outbox: enqueue in the caller's transaction, claim with a lease."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from orchestrion.domain.models import Job
from orchestrion.store.database import SqlConnection
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


class _Statements:
    """The outbox's statements for one backend, built once (named SQL)."""

    def __init__(self, backend: str) -> None:
        earlier = jobs.alias("earlier")
        # A job is held back while an older job with its ordering key exists.
        first_of_its_key = sa.or_(
            jobs.c.ordering_key.is_(None),
            ~sa.exists().where(earlier.c.ordering_key == jobs.c.ordering_key, earlier.c.id < jobs.c.id),
        )
        now: sa.BindParameter[int] = sa.bindparam("now", type_=sa.BigInteger())
        due = (
            sa.select(jobs.c.id)
            .where(jobs.c.run_at_ms <= now)
            .where(sa.or_(jobs.c.lease_until_ms.is_(None), jobs.c.lease_until_ms < now))
            .where(first_of_its_key)
            .order_by(jobs.c.run_at_ms, jobs.c.id)
            .limit(sa.bindparam("limit"))
        )
        if backend == "postgresql":
            due = due.with_for_update(skip_locked=True)
        self.claim = (
            jobs.update()
            .where(jobs.c.id.in_(due.scalar_subquery()))
            .values(
                lease_until_ms=sa.bindparam("lease_until"),
                locked_by=sa.bindparam("worker"),
                attempts=jobs.c.attempts + 1,
            )
            .returning(*jobs.c)
        )
        self.insert = jobs.insert().returning(jobs.c.id)
        self.notify = sa.select(sa.func.pg_notify(JOBS_CHANNEL, ""))
        self.complete = jobs.delete().where(
            jobs.c.id == sa.bindparam("b_id"), jobs.c.locked_by == sa.bindparam("worker")
        )
        self.retry = (
            jobs.update()
            .where(jobs.c.id == sa.bindparam("b_id"), jobs.c.locked_by == sa.bindparam("worker"))
            .values(
                run_at_ms=sa.bindparam("v_run_at"),
                lease_until_ms=None,
                locked_by=None,
                last_error=sa.bindparam("v_error"),
            )
        )
        due_at = greatest(backend, jobs.c.run_at_ms, sa.func.coalesce(jobs.c.lease_until_ms, 0))
        self.next_due = sa.select(sa.func.min(due_at)).where(first_of_its_key)


_STATEMENTS = {backend: _Statements(backend) for backend in ("sqlite", "postgresql")}


class JobRepo:
    def __init__(self, conn: SqlConnection, backend: str) -> None:
        self._conn = conn
        self._backend = backend
        self._sql = _STATEMENTS[backend]

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
            self._sql.insert,
            {
                "kind": kind,
                "payload": payload,
                "attempts": 0,
                "max_attempts": max_attempts,
                "run_at_ms": now_ms if run_at_ms is None else run_at_ms,
                "lease_until_ms": None,
                "locked_by": None,
                "last_error": None,
                "ordering_key": ordering_key,
                "created_ms": now_ms,
            },
        )
        job_id = int(result.scalar_one())
        if self._backend == "postgresql":
            # Delivered at commit, to every listening worker of every process.
            await self._conn.execute(self._sql.notify)
        return job_id

    async def claim(self, worker_id: str, *, now_ms: int, lease_ms: int, limit: int) -> list[Job]:
        """Take up to ``limit`` due jobs whose lease is free or expired, in one statement.

        A job with an ordering key is claimable only while no older job has that key.
        """
        result = await self._conn.execute(
            self._sql.claim, {"now": now_ms, "limit": limit, "lease_until": now_ms + lease_ms, "worker": worker_id}
        )
        return sorted((_job(row) for row in result), key=lambda j: (j.run_at_ms, j.id))

    async def complete(self, job_id: int, worker_id: str) -> bool:
        """Delete a finished job, if this worker still holds its lease."""
        result = await self._conn.execute(self._sql.complete, {"b_id": job_id, "worker": worker_id})
        return bool(result.rowcount)

    async def retry(self, job_id: int, worker_id: str, *, run_at_ms: int, error: str) -> bool:
        result = await self._conn.execute(
            self._sql.retry, {"b_id": job_id, "worker": worker_id, "v_run_at": run_at_ms, "v_error": error[:2000]}
        )
        return bool(result.rowcount)

    async def next_due_ms(self) -> int | None:
        """When the earliest job becomes claimable (run time or lease expiry).

        A job held back by an older one with its ordering key is not counted: it
        becomes claimable only when that one is done (an idle dispatcher would
        otherwise see it as overdue and poll without pause while the older one
        waits out its retry delay).
        """
        value = (await self._conn.execute(self._sql.next_due)).scalar()
        return None if value is None else int(value)

    async def count(self, kind: str | None = None) -> int:
        query = sa.select(sa.func.count()).select_from(jobs)
        if kind is not None:
            query = query.where(jobs.c.kind == kind)
        return int((await self._conn.execute(query)).scalar_one())
