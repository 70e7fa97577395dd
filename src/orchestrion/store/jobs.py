"""The outbox: enqueue in the caller's transaction, claim with a lease, keep it with heartbeats.

A claim increments ``attempts`` and writes ``locked_by`` and ``lease_until_ms``.
The pair (``locked_by``, ``attempts``) is the fencing token of that run
(``JobLease``): another worker can take the job only after the lease ran out,
and taking it changes the pair. So every write made for a run (heartbeat,
completion, retry, release, and through ``hold`` the handler's own result
transactions) is conditional on the token, and a run that lost its job can
no longer change anything.

A job that gives up (its failure recorded by its handler) is moved to
``dead_jobs`` with its last error, for operators (``orchestrion jobs``), who
may put it back in the outbox as a new job (``revive``); dead jobs are purged
after ``DEAD_RETENTION_MS``.

Two clocks meet here. ``run_at_ms`` is domain time (``now_ms``: the test
clock moves it, so a status timeout can fire "an hour later" at once);
``lease_until_ms`` is real wall-clock time (``wall_ms``), whatever the test
clock says: it ends a lease, or, on a job handed back for a retry
(``locked_by`` empty), the retry's backoff. Moving the test clock therefore
never makes a job in flight claimable again, nor skips a backoff. Workers on
several hosts compare their wall clocks through it: keep them synchronised.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from orchestrion.domain.models import Job
from orchestrion.domain.tracecontext import PAYLOAD_KEY, current_traceparent
from orchestrion.store.database import SqlConnection
from orchestrion.store.notify import JOBS_CHANNEL
from orchestrion.store.prepared import Prepared
from orchestrion.store.sqlfuncs import greatest, insert_into
from orchestrion.store.tables import dead_jobs, jobs

DEAD_RETENTION_MS = 7 * 24 * 3600 * 1000


@dataclass(frozen=True, slots=True)
class JobLease:
    """One run of one job by one worker: the fencing token of everything written for that run."""

    job_id: int
    worker_id: str
    attempt: int

    @classmethod
    def of(cls, job: Job, worker_id: str) -> JobLease:
        return cls(job.id, worker_id, job.attempts)


@dataclass(frozen=True, slots=True)
class JobEntry:
    """A job as an operator sees it: in the outbox, or dead-lettered (``dead_ms`` set, ``id`` the dead letter's)."""

    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    last_error: str | None
    created_ms: int
    run_at_ms: int | None = None  # outbox only: when it is due (domain time)
    lease_until_ms: int | None = None  # outbox only: lease or backoff end (wall-clock time)
    locked_by: str | None = None  # outbox only: the worker running it
    dead_ms: int | None = None  # dead letters only: when it gave up


def _entry(row: Any, *, dead: bool) -> JobEntry:
    common = (row.id, row.kind, row.payload, row.attempts, row.max_attempts, row.last_error, row.created_ms)
    if dead:
        return JobEntry(*common, dead_ms=row.dead_ms)
    return JobEntry(*common, run_at_ms=row.run_at_ms, lease_until_ms=row.lease_until_ms, locked_by=row.locked_by)


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


def _claimed(rows: Any) -> list[Job]:
    return sorted((_job(row) for row in rows), key=lambda j: (j.run_at_ms, j.id))


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
        wall: sa.BindParameter[int] = sa.bindparam("wall", type_=sa.BigInteger())
        of_kinds = jobs.c.kind.in_(sa.bindparam("kinds", expanding=True))
        self._backend = backend
        self._due = (
            sa.select(jobs.c.id)
            .where(jobs.c.run_at_ms <= now)
            .where(sa.or_(jobs.c.lease_until_ms.is_(None), jobs.c.lease_until_ms <= wall))
            .where(first_of_its_key)
            .order_by(jobs.c.run_at_ms, jobs.c.id)
        )
        self.claim = self._claim([self._due.limit(sa.bindparam("limit"))])
        self._claim_pools: dict[int, sa.Update] = {}
        # A job leased at once (handed to this process's dispatcher) wakes nobody.
        insert = jobs.insert().returning(jobs.c.id)
        self.insert_leased = Prepared(insert)
        self.insert = self.insert_leased
        if backend == "postgresql":
            # Listening workers are told in the same statement, delivered at commit (PostgreSQL
            # folds a transaction's identical notifications into one).
            self.insert = Prepared(insert.returning(sa.func.pg_notify(JOBS_CHANNEL, "")))
        held = sa.and_(
            jobs.c.id == sa.bindparam("b_id"),
            jobs.c.locked_by == sa.bindparam("worker"),
            jobs.c.attempts == sa.bindparam("attempt"),
        )
        self.complete = Prepared(jobs.delete().where(held))
        self.take = jobs.delete().where(held).returning(*jobs.c)
        self.purge_dead = dead_jobs.delete().where(dead_jobs.c.dead_ms < sa.bindparam("before"))
        self.retry = (
            jobs.update()
            .where(held)
            .values(lease_until_ms=sa.bindparam("v_retry_at"), locked_by=None, last_error=sa.bindparam("v_error"))
        )
        self.release = jobs.update().where(held).values(lease_until_ms=None, locked_by=None)
        hold = sa.select(jobs.c.id).where(held)
        # Locked for the rest of the caller's transaction: a claim skips the row (PostgreSQL's
        # SKIP LOCKED; SQLite has one writer at a time), so the run cannot lose it before commit.
        self.hold = Prepared(hold.with_for_update(read=True) if backend == "postgresql" else hold)
        self.extend = (
            jobs.update()
            .where(jobs.c.locked_by == sa.bindparam("worker"), jobs.c.id.in_(sa.bindparam("ids", expanding=True)))
            .values(lease_until_ms=sa.bindparam("lease_until"))
            .returning(jobs.c.id, jobs.c.attempts)
        )
        until_run = jobs.c.run_at_ms - now
        wait = greatest(backend, until_run, sa.func.coalesce(jobs.c.lease_until_ms - wall, until_run))
        self.next_due = sa.select(sa.func.min(wait)).where(first_of_its_key)
        self.next_due_kinds = self.next_due.where(of_kinds)

    def claim_pools(self, count: int) -> sa.Update:
        """One claim for ``count`` pools: pool ``i`` takes up to ``limit_i`` due jobs of ``kinds_i``."""
        found = self._claim_pools.get(count)
        if found is None:
            found = self._claim(
                [
                    self._due.where(jobs.c.kind.in_(sa.bindparam(f"kinds_{i}", expanding=True))).limit(
                        sa.bindparam(f"limit_{i}")
                    )
                    for i in range(count)
                ]
            )
            self._claim_pools[count] = found
        return found

    def _claim(self, dues: list[sa.Select[Any]]) -> sa.Update:
        if self._backend == "postgresql":
            dues = [due.with_for_update(skip_locked=True) for due in dues]
        if len(dues) == 1:
            taken: Any = dues[0].scalar_subquery()
        else:  # each pool's own LIMIT (and lock) inside a subquery of its own
            taken = sa.union_all(*(sa.select(due.subquery().c.id) for due in dues))
        return (
            jobs.update()
            .where(jobs.c.id.in_(taken))
            .values(
                lease_until_ms=sa.bindparam("lease_until"),
                locked_by=sa.bindparam("worker"),
                attempts=jobs.c.attempts + 1,
            )
            .returning(*jobs.c)
        )


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
        leased_to: tuple[str, int] | None = None,
    ) -> Job:
        """Write a job; the job as written.

        ``leased_to`` (worker id, lease end on the lease clock): written as
        that worker's first attempt, as if it had claimed it (a handoff).
        """
        traceparent = current_traceparent()
        if traceparent is not None:  # tracing on: the job continues the trace of what enqueued it
            payload = {**payload, PAYLOAD_KEY: traceparent}
        due = now_ms if run_at_ms is None else run_at_ms
        worker, lease_until = leased_to if leased_to is not None else (None, None)
        result = await self._conn.run(
            self._sql.insert if leased_to is None else self._sql.insert_leased,
            {
                "kind": kind,
                "payload": payload,
                "attempts": 0 if leased_to is None else 1,
                "max_attempts": max_attempts,
                "run_at_ms": due,
                "lease_until_ms": lease_until,
                "locked_by": worker,
                "last_error": None,
                "ordering_key": ordering_key,
                "created_ms": now_ms,
            },
        )
        return Job(
            id=int(result.rows[0]["id"]),
            kind=kind,
            payload=payload,
            attempts=0 if leased_to is None else 1,
            max_attempts=max_attempts,
            run_at_ms=due,
            lease_until_ms=lease_until,
        )

    async def claim(
        self,
        worker_id: str,
        *,
        now_ms: int,
        lease_ms: int,
        limit: int,
        kinds: Collection[str] | None = None,
        wall_ms: int | None = None,
    ) -> list[Job]:
        """Take up to ``limit`` due jobs (of ``kinds``, or any) whose lease is free or expired, in one statement.

        Due by ``now_ms`` (domain time); leased until ``wall_ms`` + ``lease_ms``
        (real time; ``wall_ms`` defaults to ``now_ms``, as with no test clock).
        A job with an ordering key is claimable only while no older job has that key.
        """
        if kinds is not None:
            return await self.claim_pools(
                worker_id, now_ms=now_ms, wall_ms=wall_ms, lease_ms=lease_ms, pools=[(kinds, limit)]
            )
        wall = now_ms if wall_ms is None else wall_ms
        params = {"now": now_ms, "wall": wall, "limit": limit, "lease_until": wall + lease_ms, "worker": worker_id}
        return _claimed(await self._conn.execute(self._sql.claim, params))

    async def claim_pools(
        self,
        worker_id: str,
        *,
        now_ms: int,
        lease_ms: int,
        pools: Sequence[tuple[Collection[str], int]],
        wall_ms: int | None = None,
    ) -> list[Job]:
        """Like ``claim``, for several pools at once: up to ``limit`` due jobs of ``kinds`` per (kinds, limit).

        One statement whatever the number of pools (a dispatcher claims for
        each class of jobs with its free slots).
        """
        wall = now_ms if wall_ms is None else wall_ms
        params: dict[str, Any] = {"now": now_ms, "wall": wall, "lease_until": wall + lease_ms, "worker": worker_id}
        for i, (kinds, limit) in enumerate(pools):
            params[f"kinds_{i}"], params[f"limit_{i}"] = list(kinds), limit
        return _claimed(await self._conn.execute(self._sql.claim_pools(len(pools)), params))

    async def extend(self, leases: Sequence[JobLease], *, lease_until_ms: int) -> set[int]:
        """The heartbeat: push the lease of every job in ``leases`` (one worker's) to ``lease_until_ms``.

        Returns the ids of the jobs still held by these runs; a job missing from
        it was finished, or taken by another worker after its lease ran out.
        """
        if not leases:
            return set()
        workers = {lease.worker_id for lease in leases}
        if len(workers) != 1:
            raise ValueError("one heartbeat extends the leases of one worker")
        rows = await self._conn.execute(
            self._sql.extend,
            {"worker": workers.pop(), "ids": [lease.job_id for lease in leases], "lease_until": lease_until_ms},
        )
        attempt_of = {lease.job_id: lease.attempt for lease in leases}
        return {row.id for row in rows if attempt_of[row.id] == row.attempts}

    async def hold(self, lease: JobLease) -> bool:
        """Whether ``lease`` still holds its job; if so the row stays locked until this transaction ends."""
        row = (await self._conn.run(self._sql.hold, self._held(lease))).first()
        return row is not None

    async def complete(self, lease: JobLease) -> bool:
        """Delete a finished job, if this run still holds it."""
        result = await self._conn.run(self._sql.complete, self._held(lease))
        return bool(result.rowcount)

    async def retry(self, lease: JobLease, *, retry_at_ms: int, error: str) -> bool:
        """Hand the job back to be run again from ``retry_at_ms`` (wall-clock time), if this run still holds it."""
        result = await self._conn.execute(
            self._sql.retry, {**self._held(lease), "v_retry_at": retry_at_ms, "v_error": error[:2000]}
        )
        return bool(result.rowcount)

    async def release(self, lease: JobLease) -> bool:
        """Give an unfinished job back at once (a worker stopping), if this run still holds it."""
        result = await self._conn.execute(self._sql.release, self._held(lease))
        return bool(result.rowcount)

    async def bury(self, lease: JobLease, *, error: str, now_ms: int) -> bool:
        """Move a job that gave up to the dead letters, if this run still holds it (and purge the old ones).

        The dead letter gets an id of its own (see ``tables.dead_jobs``).
        """
        row = (await self._conn.execute(self._sql.take, self._held(lease))).first()
        if row is None:
            return False
        await self._conn.execute(
            insert_into(dead_jobs),
            {
                "job_id": row.id,
                "kind": row.kind,
                "payload": row.payload,
                "attempts": row.attempts,
                "max_attempts": row.max_attempts,
                "ordering_key": row.ordering_key,
                "last_error": error[:2000],
                "created_ms": row.created_ms,
                "dead_ms": now_ms,
            },
        )
        await self._conn.execute(self._sql.purge_dead, {"before": now_ms - DEAD_RETENTION_MS})
        return True

    async def entries(self, *, dead: bool = False, kind: str | None = None, limit: int = 100) -> list[JobEntry]:
        """The outbox's jobs (or the dead letters), oldest first, of ``kind`` or any."""
        table = dead_jobs if dead else jobs
        query = sa.select(table).order_by(table.c.id).limit(limit)
        if kind is not None:
            query = query.where(table.c.kind == kind)
        return [_entry(row, dead=dead) for row in await self._conn.execute(query)]

    async def dead(self, dead_id: int) -> JobEntry | None:
        row = (await self._conn.execute(sa.select(dead_jobs).where(dead_jobs.c.id == dead_id))).first()
        return None if row is None else _entry(row, dead=True)

    async def revive(self, dead_id: int, *, payload: dict[str, Any], now_ms: int) -> int | None:
        """Put a dead job back in the outbox as a new job (due now, no attempts yet); its new id."""
        taken = dead_jobs.delete().where(dead_jobs.c.id == dead_id).returning(*dead_jobs.c)
        row = (await self._conn.execute(taken)).first()
        if row is None:
            return None
        job = await self.enqueue(
            row.kind, payload, now_ms=now_ms, max_attempts=row.max_attempts, ordering_key=row.ordering_key
        )
        return job.id

    @staticmethod
    def _held(lease: JobLease) -> dict[str, Any]:
        return {"b_id": lease.job_id, "worker": lease.worker_id, "attempt": lease.attempt}

    async def depth(self) -> dict[str, tuple[int, int]]:
        """Per kind: (jobs in the outbox, dead letters)."""
        found: dict[str, tuple[int, int]] = {}
        for table, i in ((jobs, 0), (dead_jobs, 1)):
            query = sa.select(table.c.kind, sa.func.count().label("n")).group_by(table.c.kind)
            for row in (await self._conn.execute(query)).all():
                kind, count = str(row.kind), int(row.n)
                pair = list(found.get(kind, (0, 0)))
                pair[i] = count
                found[kind] = (pair[0], pair[1])
        return found

    async def next_due_in_ms(
        self, *, now_ms: int, wall_ms: int | None = None, kinds: Collection[str] | None = None
    ) -> int | None:
        """How long until the earliest job (of ``kinds``, or any) becomes claimable: 0 if one is; None if none.

        Both its run time (domain time, ``now_ms``) and its lease or backoff
        (real time, ``wall_ms``, defaulting to ``now_ms``) must have passed.
        A job held back by an older one with its ordering key is not counted: it
        becomes claimable only when that one is done (an idle dispatcher would
        otherwise see it as overdue and poll without pause while the older one
        waits out its retry delay).
        """
        params: dict[str, Any] = {"now": now_ms, "wall": now_ms if wall_ms is None else wall_ms}
        if kinds is None:
            value = (await self._conn.execute(self._sql.next_due, params)).scalar()
        else:
            value = (await self._conn.execute(self._sql.next_due_kinds, {**params, "kinds": list(kinds)})).scalar()
        return None if value is None else max(0, int(value))

    async def count(self, kind: str | None = None) -> int:
        query = sa.select(sa.func.count()).select_from(jobs)
        if kind is not None:
            query = query.where(jobs.c.kind == kind)
        return int((await self._conn.execute(query)).scalar_one())
