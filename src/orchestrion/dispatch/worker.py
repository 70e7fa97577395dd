"""Claims due jobs from the outbox and runs them, keeping each one with heartbeats.

A claimed job carries a lease. Leases, heartbeats and retry backoffs run on
real wall-clock time (``lease_clock``), never on the test clock, which moves
domain time only (when a job is due). While it runs, a heartbeat extends the lease
of every running job every third of a lease, so a job slower than its lease
is never taken by another worker; if this process dies, the heartbeats stop,
the leases run out and any worker takes the jobs again.

When the database is away for a moment, a run keeps its job (heartbeats go
on) and keeps trying to record its outcome until its lease runs out, rather
than leave the job to wait out a whole lease.

A heartbeat that finds a job taken over (this process stalled past the
lease), or that cannot reach the database until the lease has run out, stops
that run. Whatever the run still tries to write is refused in any case: it
runs inside ``Store.fenced``, so each of its write transactions commits only
while the run still holds the job. The run that lost its job commits nothing.
A handler whose last write holds everything its job was for ends the job in
that transaction (``Store.write(finish_job=True)``); the dispatcher then has
nothing left to record.

Stopping (SIGTERM, SIGINT): the dispatcher claims nothing more, logs what
is still running, and lets it finish for up to a grace period, heartbeats
going on. The runs still going then are cancelled and their jobs released
(lease cleared) at once, so another worker takes them without waiting for
the lease to run out.

Jobs are claimed per pool (a class of kinds with its own number of slots,
see ``services.jobs.JOB_CLASSES``): each claim takes only as many jobs of a
pool's kinds as it has free slots, so the jobs of one pool never wait for
the slots of another.

A job may still run twice: after a crash between a handler's commit and the
job's completion, or when a run is stopped after a side effect outside the
database (a provider's send, a webhook's request). Handlers stay idempotent
for that: sends carry an idempotency key, outcomes are guarded by the
action's state machine, webhook repeats carry the same idempotency token.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import socket
from collections import Counter, deque
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

import structlog

from orchestrion.dispatch.retry import Backoff
from orchestrion.domain import errors
from orchestrion.domain.clock import Clock, WallClock
from orchestrion.domain.models import Job
from orchestrion.domain.tracecontext import PAYLOAD_KEY
from orchestrion.services.context import Context
from orchestrion.services.handoff import Reservation
from orchestrion.services.jobs import Handler
from orchestrion.services.tracing import Attribute
from orchestrion.store.jobs import JobLease
from orchestrion.store.store import JobFence, Store

log = structlog.get_logger("orchestrion.dispatch")


_OUTAGE_MAX_WAIT_S = 5.0


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


async def _first_of(*waits: Awaitable[object], within_s: float | None) -> None:
    """Wait until one of ``waits`` ends (or ``within_s`` seconds pass), then cancel the others."""
    futures = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(futures, timeout=within_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for future in futures:
            future.cancel()


class _Next(Enum):
    COMPLETE = "complete"  # done: delete the job
    RETRY = "retry"  # failed for now: run again after a backoff
    GIVE_UP = "give_up"  # failed for good, recorded by the handler's give_up: dead-lettered
    KEEP = "keep"  # the failure could not be recorded: leave the job to its lease


@dataclass(frozen=True, slots=True)
class _Outcome:
    next: _Next
    reason: str = ""
    retry_after_ms: int | None = None  # the provider's Retry-After, for a RETRY


@dataclass(frozen=True, slots=True)
class Pool:
    """Jobs of these kinds run in ``size`` slots of their own."""

    name: str
    kinds: frozenset[str]
    size: int


@dataclass(slots=True, eq=False)
class _Run:
    """One running job: its lease as this worker last wrote it, on the lease clock."""

    job: Job
    lease: JobLease
    pool: str
    until_ms: int
    finishing: bool = False  # the handler is done; its outcome is being recorded
    fence: JobFence | None = None  # while the handler runs


class Dispatcher:
    def __init__(
        self,
        ctx: Context,
        handlers: Mapping[str, Handler],
        *,
        worker_id: str | None = None,
        concurrency: int = 16,
        pools: Sequence[Pool] | None = None,
        lease_ms: int = 30_000,
        poll_s: float = 0.5,
        backoff: Backoff | None = None,
        lease_clock: Clock | None = None,
        shutdown_grace_s: float = 20.0,
        admission_wait_s: float = 0.0,
    ) -> None:
        self._ctx = ctx
        self._handlers = handlers
        self.worker_id = worker_id or default_worker_id()
        # Without pools, one pool of every kind there is a handler for.
        self._pools = list(pools) if pools is not None else [Pool("all", frozenset(handlers), concurrency)]
        self._pool_of = {kind: pool for pool in self._pools for kind in pool.kinds}
        if len(self._pool_of) != sum(len(pool.kinds) for pool in self._pools):
            raise ValueError("a job kind belongs to one pool only")
        unhandled = set(self._pool_of) - set(handlers)
        if unhandled:
            raise ValueError(f"no handler for the job kinds {sorted(unhandled)}")
        self._lease_ms = lease_ms
        self._lease_clock = lease_clock or WallClock()
        self._heartbeat_s = lease_ms / 3 / 1000
        self._poll_s = poll_s
        self._grace_s = shutdown_grace_s
        self._backoff = backoff or Backoff()
        self._runs: dict[asyncio.Task[None], _Run] = {}
        self._freed = asyncio.Event()  # a run ended: its pool has a free slot again
        # A pool was full at the last claim (or refused a handoff): due jobs may be waiting for a
        # slot, so a run that ends wakes the loop. Otherwise an ending run would cost a claim
        # that finds nothing (new work wakes the loop by itself).
        self._full = False
        # The context runs start in: the loop's own, not that of a request handing a job off.
        self._context: contextvars.Context | None = None
        self._reserved: Counter[str] = Counter()  # slots held for jobs being written (handoff), per pool
        self._running: Counter[str] = Counter()  # slots taken by runs, per pool (``_runs`` counted)
        self._accepting = True  # takes handed-off jobs (not once it stops)
        # Backpressure (``admit``): requests waiting for a slot, per pool, first come first served.
        self._admission_s = admission_wait_s
        self._waiting: dict[str, deque[asyncio.Future[None]]] = {pool.name: deque() for pool in self._pools}
        self._claims_turn = False  # while claimable jobs may wait, every other freed slot is left to a claim

    async def run(self, stop: asyncio.Event, hurry: asyncio.Event | None = None) -> None:
        """Claim and run jobs until ``stop``; then finish the running ones within the grace period.

        ``hurry`` (a second signal) ends the grace period at once.
        """
        log.info("dispatcher_started", worker_id=self.worker_id, concurrency={p.name: p.size for p in self._pools})
        self._context = contextvars.copy_context()
        beating = asyncio.create_task(self._beat())
        outage: float | None = None  # how long to wait before trying again, while the store refuses claims
        try:
            while not stop.is_set():
                try:
                    claimed = await self.run_once()
                except errors.StoreUnavailable as error:
                    if outage is None:
                        log.warning("dispatcher_store_unavailable", worker_id=self.worker_id, error=error.message)
                    # Wait, rather than poll: reads may still work (a full disk) and show jobs due.
                    outage = min(2 * outage, _OUTAGE_MAX_WAIT_S) if outage else self._poll_s
                    await _first_of(stop.wait(), within_s=outage)
                    continue
                if outage is not None:
                    log.info("dispatcher_store_available", worker_id=self.worker_id)
                    outage = None
                if claimed == 0:
                    await self._sleep(stop)
                else:
                    # Store calls may complete without suspending (SQLite runs on
                    # the loop's thread): let the claimed jobs and requests run.
                    await asyncio.sleep(0)
            self._accepting = False
            for pool in self._pools:  # nobody waits for a slot of a dispatcher that takes no more
                self._wake(pool.name, len(self._waiting[pool.name]))
            abandoned = await self._wind_down(hurry or asyncio.Event())
        finally:
            beating.cancel()
        log.info("dispatcher_stopped", worker_id=self.worker_id, abandoned=len(abandoned))

    async def _wind_down(self, hurry: asyncio.Event) -> list[_Run]:
        """Let the running jobs finish within the grace period; cancel and release the rest."""
        if not self._runs:
            return []
        log.info(
            "dispatcher_stopping",
            worker_id=self.worker_id,
            grace_s=self._grace_s,
            running=[f"{run.job.kind}:{run.job.id}" for run in self._runs.values()],
        )
        # asyncio.wait, unlike gather, leaves the runs alone when it is cancelled.
        await _first_of(asyncio.wait(set(self._runs)), hurry.wait(), within_s=self._grace_s)
        left = dict(self._runs)
        for task, run in left.items():
            log.warning("job_abandoned", kind=run.job.kind, job_id=run.job.id, attempt=run.job.attempts)
            task.cancel()
        await self.drain()
        if left:
            try:
                async with self._ctx.store.write() as tx:
                    for run in left.values():
                        await tx.jobs.release(run.lease)
            except errors.StoreUnavailable as error:
                log.warning("jobs_not_released", count=len(left), error=error.message)  # their leases run out
        return list(left.values())

    async def _sleep(self, stop: asyncio.Event) -> None:
        """Until new work is committed, the next job of a pool with free slots is due, or a slot frees."""
        timeout = self._poll_s
        kinds = frozenset().union(*(pool.kinds for pool, free in self._free_slots() if free > 0))
        if kinds:
            try:
                async with self._ctx.store.read() as tx:
                    due_in = await tx.jobs.next_due_in_ms(
                        now_ms=self._ctx.clock.now_ms(), wall_ms=self._lease_clock.now_ms(), kinds=kinds
                    )
                if due_in is not None:
                    timeout = min(timeout, due_in / 1000)
            except errors.StoreUnavailable:
                pass
        if timeout > 0:
            await _first_of(self._ctx.wakeup.wait(timeout), self._freed.wait(), stop.wait(), within_s=None)

    def _free_slots(self) -> list[tuple[Pool, int]]:
        return [(pool, self._free(pool)) for pool in self._pools]

    # --- handoff (services.handoff): jobs written already leased to this dispatcher

    def reserve(self, kind: str) -> Reservation | None:
        pool = self._pool_of.get(kind)
        if pool is None or not self._accepting:
            return None
        if self._free(pool) <= 0:
            self._full = True
            return None
        return self._hold(pool)

    async def admit(self, kind: str) -> Reservation | None:
        """A slot for a job of ``kind``, waiting up to the admission wait for one to free.

        This is the backpressure of a burst: requests that would create jobs
        faster than the slots run them wait their turn (first come, first
        served) instead of leaving their job to pile up in the outbox. After
        the wait, or once the dispatcher stops, None: the job is written for a
        claim, as without a free slot.
        """
        pool = self._pool_of.get(kind)
        if pool is None or self._admission_s <= 0:
            return self.reserve(kind)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._admission_s
        queue = self._waiting[pool.name]
        woken = False  # a freed slot was handed to this request: it goes before the queue
        while self._accepting:
            if self._free(pool) > 0 and (woken or not queue):
                return self._hold(pool)
            waiter: asyncio.Future[None] = loop.create_future()
            if woken:  # its slot was taken meanwhile (a claim, a retry): it keeps its place
                queue.appendleft(waiter)
            else:
                queue.append(waiter)
            try:
                async with asyncio.timeout_at(deadline):
                    await waiter
            except BaseException as gone:  # out of time, or the request was cancelled
                if waiter.done() and not waiter.cancelled():
                    self._wake(pool.name)  # a slot came for it just then: the next request takes it
                elif waiter in queue:
                    queue.remove(waiter)
                if isinstance(gone, TimeoutError):
                    break
                raise
            woken = True
        self._full = True  # the job goes to the outbox: a slot that frees must wake the claims
        return None

    def _wake(self, pool: str, count: int = 1) -> None:
        """Hand ``count`` freed slots of ``pool`` to the requests waiting longest (``admit``)."""
        queue = self._waiting[pool]
        while count > 0 and queue:
            waiter = queue.popleft()
            if not waiter.done():
                waiter.set_result(None)
                count -= 1

    def _slot_freed(self, pool: str) -> None:
        if self._full:
            self._freed.set()
            self._claims_turn = not self._claims_turn
            if self._claims_turn and self._waiting[pool]:
                return  # this one is for the claim loop, which wakes a request if it finds no job
        self._wake(pool)

    def waiting(self) -> int:
        """How many requests wait for a slot (``admit``)."""
        return sum(1 for queue in self._waiting.values() for waiter in queue if not waiter.done())

    def _free(self, pool: Pool) -> int:
        return pool.size - self._reserved[pool.name] - self._running[pool.name]

    def _hold(self, pool: Pool) -> Reservation:
        self._reserved[pool.name] += 1
        held = [True]

        def release() -> bool:
            if not held[0]:
                return False
            held[0] = False
            self._reserved[pool.name] -= 1
            return True

        def start(job: Job) -> None:
            if not release():
                return
            if self._accepting:
                self._start(job, until_ms=lease_until)
            else:  # stopped meanwhile: the job runs again once its lease has run out, here or elsewhere
                log.info("handoff_left_to_lease", kind=job.kind, job_id=job.id)

        def cancel() -> None:
            if release():
                self._slot_freed(pool.name)

        lease_until = self._lease_clock.now_ms() + self._lease_ms
        return Reservation(self.worker_id, lease_until, start, cancel)

    def _start(self, job: Job, *, until_ms: int) -> None:
        """Run a job this dispatcher holds the lease of."""
        self._ctx.metrics.job_started(job.kind, max(0, self._ctx.clock.now_ms() - job.run_at_ms) / 1000)
        run = _Run(job, JobLease.of(job, self.worker_id), self._pool_of[job.kind].name, until_ms=until_ms)
        context = None if self._context is None else self._context.copy()
        task = asyncio.create_task(self._execute(run), context=context)
        self._runs[task] = run
        self._running[run.pool] += 1
        task.add_done_callback(self._forget)

    async def run_once(self) -> int:
        """Claim, for each pool, as many jobs of its kinds as it has free slots, and start them; how many."""
        self._freed.clear()  # before counting: a run ending from here on wakes the next sleep
        slots = self._free_slots()
        wanted = [(pool, free) for pool, free in slots if free > 0]
        self._full = len(wanted) < len(slots)
        if not wanted:
            return 0
        now, wall = self._ctx.clock.now_ms(), self._lease_clock.now_ms()
        async with self._ctx.store.write() as tx:
            claimed = await tx.jobs.claim_pools(
                self.worker_id,
                now_ms=now,
                wall_ms=wall,
                lease_ms=self._lease_ms,
                pools=[(pool.kinds, free) for pool, free in wanted],
            )
        taken = Counter(self._pool_of[job.kind].name for job in claimed)
        self._full = self._full or any(taken[pool.name] >= free for pool, free in wanted)
        for job in claimed:
            self._start(job, until_ms=wall + self._lease_ms)
        for pool, _ in wanted:  # the slots no job was due for go to the requests waiting for one
            self._wake(pool.name, self._free(pool))
        return len(claimed)

    def running(self) -> list[Job]:
        """The jobs this dispatcher is running now."""
        return [run.job for run in self._runs.values()]

    def _forget(self, task: asyncio.Task[None]) -> None:
        run = self._runs.pop(task, None)
        if run is not None:
            self._running[run.pool] -= 1
            self._slot_freed(run.pool)
        # Retrieve what a run raised (it is a bug, never a job's failure), so it is logged once, here.
        if not task.cancelled() and (error := task.exception()) is not None:
            job = run.job if run else None
            log.error(
                "job_run_failed",
                kind=job.kind if job else None,
                job_id=job.id if job else None,
                exc_info=(type(error), error, error.__traceback__),
            )

    async def drain(self) -> None:
        if self._runs:
            await asyncio.gather(*self._runs, return_exceptions=True)

    # --- heartbeats

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_s)
            await self.heartbeat()

    async def heartbeat(self) -> None:
        """Extend the lease of every running job; stop the runs that no longer hold theirs."""
        runs = dict(self._runs)  # finishing runs too: they hold their job until their outcome is recorded
        if not runs:
            return
        now = self._lease_clock.now_ms()
        until = now + self._lease_ms
        try:
            async with self._ctx.store.write() as tx:
                held = await tx.jobs.extend([run.lease for run in runs.values()], lease_until_ms=until)
        except errors.StoreUnavailable as error:
            log.warning("job_heartbeat_failed", worker_id=self.worker_id, running=len(runs), error=error.message)
            for task, run in runs.items():
                if run.until_ms <= now:
                    self._stop_run(task, run, "its lease ran out while the database could not be reached")
            return
        for task, run in runs.items():
            if run.lease.job_id in held:
                run.until_ms = until
            else:
                self._stop_run(task, run, "another worker took it after its lease ran out")

    def _stop_run(self, task: asyncio.Task[None], run: _Run, reason: str) -> None:
        if run.finishing or task.done() or (run.fence is not None and run.fence.finished):
            return  # finished meanwhile (the job is gone): its outcome is fenced like any write
        log.warning("job_lease_lost", kind=run.job.kind, job_id=run.job.id, attempt=run.job.attempts, reason=reason)
        task.cancel()

    # --- one run

    async def _execute(self, run: _Run) -> None:
        job = run.job
        parent = job.payload.get(PAYLOAD_KEY)
        attributes: dict[str, Attribute] = {"job.kind": job.kind, "job.id": job.id, "job.attempt": job.attempts}
        with self._ctx.tracer.span(f"job {job.kind}", attributes, parent=parent if isinstance(parent, str) else None):
            await self._execute_traced(run)

    async def _execute_traced(self, run: _Run) -> None:
        job = run.job
        try:
            with Store.fenced(run.lease) as fence:
                run.fence = fence
                outcome = await self._attempt(self._handlers[job.kind], job)
        except errors.LeaseLost as lost:
            log.warning("job_lease_lost", kind=job.kind, job_id=job.id, attempt=job.attempts, reason=lost.message)
            return
        run.finishing = True
        if fence.finished:
            return  # the handler's last transaction deleted the job: nothing left to record
        pause = 0.05
        while True:
            try:
                await self._record(run, outcome)
                return
            except errors.LeaseLost as lost:  # another worker took the job over meanwhile: its outcome counts
                log.warning("job_lease_lost", kind=job.kind, job_id=job.id, attempt=job.attempts, reason=lost.message)
                return
            except errors.StoreUnavailable as error:
                if self._lease_clock.now_ms() + pause * 1000 >= run.until_ms:
                    # Nothing lost: the job is still in the outbox and runs again after its lease.
                    log.warning("job_outcome_not_recorded", kind=job.kind, job_id=job.id, error=error.message)
                    return
            # The database is away for a moment: keep the job (heartbeats go on) and try again,
            # rather than leave it to wait out its whole lease.
            await asyncio.sleep(pause)
            pause = min(pause * 2, 1.0)

    async def _attempt(self, handler: Handler, job: Job) -> _Outcome:
        """Run the job (or give it up) inside its fence; what to do with it next."""
        if job.attempts > job.max_attempts:
            return await self._give_up(handler, job, "gave up after repeated interruptions")
        try:
            await handler.run(job)
        except errors.LeaseLost:
            raise
        except Exception as error:  # any failure of a job is retried or recorded, never fatal
            reason = error.message if isinstance(error, errors.OrchestrionError) else f"{type(error).__name__}: {error}"
            if not isinstance(error, errors.OrchestrionError):
                log.exception("job_crashed", kind=job.kind, job_id=job.id, attempt=job.attempts)
            permanent = isinstance(error, errors.ProviderError) and not error.transient
            if permanent or job.attempts >= job.max_attempts:
                return await self._give_up(handler, job, reason)
            hint = error.retry_after_s if isinstance(error, errors.ProviderError) else None
            return _Outcome(_Next.RETRY, reason, None if hint is None else int(hint * 1000))
        return _Outcome(_Next.COMPLETE)

    async def _give_up(self, handler: Handler, job: Job, reason: str) -> _Outcome:
        log.warning("job_given_up", kind=job.kind, job_id=job.id, attempts=job.attempts, reason=reason)
        try:
            await handler.give_up(job, reason)
        except errors.LeaseLost:
            raise
        except Exception:  # the job stays in the outbox and comes back after its lease
            log.exception("job_give_up_failed", kind=job.kind, job_id=job.id)
            return _Outcome(_Next.KEEP, reason)
        return _Outcome(_Next.GIVE_UP, reason)

    async def _record(self, run: _Run, outcome: _Outcome) -> None:
        job = run.job
        if outcome.next is _Next.KEEP:
            return
        if outcome.next is _Next.RETRY:
            delay = self._backoff.delay_ms(job.attempts, at_least_ms=outcome.retry_after_ms)
            log.info(
                "job_retry_scheduled",
                kind=job.kind,
                job_id=job.id,
                attempt=job.attempts,
                delay_ms=delay,
                error=outcome.reason,
            )
            async with self._ctx.store.write() as tx:
                await tx.jobs.retry(run.lease, retry_at_ms=self._lease_clock.now_ms() + delay, error=outcome.reason)
            self._ctx.metrics.job_retried(job.kind)
            return
        async with self._ctx.store.write() as tx:
            if outcome.next is _Next.GIVE_UP:
                await tx.jobs.bury(run.lease, error=outcome.reason, now_ms=self._ctx.clock.now_ms())
            else:
                await tx.jobs.complete(run.lease)
        if outcome.next is _Next.GIVE_UP:
            self._ctx.metrics.job_given_up(job.kind)
