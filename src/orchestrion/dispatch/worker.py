"""Claims due jobs from the outbox and runs them.

A claimed job carries a lease; if this process dies, the lease runs out and
any worker takes the job again. Jobs must therefore be safe to run twice
(handlers are idempotent: provider sends carry an idempotency key, outcomes
are guarded by the action's state machine).
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Mapping

import structlog

from orchestrion.dispatch.retry import Backoff
from orchestrion.domain import errors
from orchestrion.domain.models import Job
from orchestrion.services.context import Context
from orchestrion.services.jobs import Handler

log = structlog.get_logger("orchestrion.dispatch")


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Dispatcher:
    def __init__(
        self,
        ctx: Context,
        handlers: Mapping[str, Handler],
        *,
        worker_id: str | None = None,
        concurrency: int = 16,
        lease_ms: int = 30_000,
        poll_s: float = 0.5,
        backoff: Backoff | None = None,
    ) -> None:
        self._ctx = ctx
        self._handlers = handlers
        self.worker_id = worker_id or default_worker_id()
        self._concurrency = concurrency
        self._lease_ms = lease_ms
        self._poll_s = poll_s
        self._backoff = backoff or Backoff()
        self._slots = asyncio.Semaphore(concurrency)
        self._running: set[asyncio.Task[None]] = set()

    async def run(self, stop: asyncio.Event) -> None:
        log.info("dispatcher_started", worker_id=self.worker_id, concurrency=self._concurrency)
        while not stop.is_set():
            try:
                claimed = await self.run_once()
            except errors.StoreUnavailable as error:
                log.warning("dispatcher_store_unavailable", error=error.message)
                claimed = 0
            if claimed == 0:
                await self._sleep(stop)
            else:
                # Store calls may complete without suspending (SQLite runs on
                # the loop's thread): let the claimed jobs and requests run.
                await asyncio.sleep(0)
        await self.drain()
        log.info("dispatcher_stopped", worker_id=self.worker_id)

    async def _sleep(self, stop: asyncio.Event) -> None:
        timeout = self._poll_s
        try:
            async with self._ctx.store.read() as tx:
                due = await tx.jobs.next_due_ms()
            if due is not None:
                timeout = min(timeout, max(0.0, (due - self._ctx.clock.now_ms()) / 1000))
        except errors.StoreUnavailable:
            pass
        if timeout > 0:
            await self._ctx.wakeup.wait(timeout)

    async def run_once(self) -> int:
        """Claim as many jobs as there are free slots and start them; the number claimed."""
        free = self._concurrency - len(self._running)
        if free <= 0:
            await asyncio.wait(self._running, return_when=asyncio.FIRST_COMPLETED)
            return 1
        async with self._ctx.store.write() as tx:
            jobs = await tx.jobs.claim(
                self.worker_id, now_ms=self._ctx.clock.now_ms(), lease_ms=self._lease_ms, limit=free
            )
        for job in jobs:
            task = asyncio.create_task(self._execute(job))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        return len(jobs)

    async def drain(self) -> None:
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    async def _execute(self, job: Job) -> None:
        handler = self._handlers.get(job.kind)
        if handler is None:
            log.error("job_kind_unknown", kind=job.kind, job_id=job.id)
            await self._finish(job)
            return
        if job.attempts > job.max_attempts:
            await self._give_up(handler, job, "gave up after repeated interruptions")
            return
        try:
            await handler.run(job)
        except Exception as error:  # noqa: BLE001 - any failure of a job is retried or recorded, never fatal
            await self._failed(handler, job, error)
            return
        await self._finish(job)

    async def _failed(self, handler: Handler, job: Job, error: Exception) -> None:
        reason = error.message if isinstance(error, errors.OrchestrionError) else f"{type(error).__name__}: {error}"
        permanent = isinstance(error, errors.ProviderError) and not error.transient
        if not isinstance(error, errors.OrchestrionError):
            log.exception("job_crashed", kind=job.kind, job_id=job.id, attempt=job.attempts)
        if permanent or job.attempts >= job.max_attempts:
            await self._give_up(handler, job, reason)
            return
        delay = self._backoff.delay_ms(job.attempts)
        log.info(
            "job_retry_scheduled", kind=job.kind, job_id=job.id, attempt=job.attempts, delay_ms=delay, error=reason
        )
        async with self._ctx.store.write() as tx:
            await tx.jobs.retry(job.id, self.worker_id, run_at_ms=self._ctx.clock.now_ms() + delay, error=reason)

    async def _give_up(self, handler: Handler, job: Job, reason: str) -> None:
        log.warning("job_given_up", kind=job.kind, job_id=job.id, attempts=job.attempts, reason=reason)
        try:
            await handler.give_up(job, reason)
        except Exception:
            log.exception("job_give_up_failed", kind=job.kind, job_id=job.id)
            return  # the lease will expire and the job comes back
        await self._finish(job)

    async def _finish(self, job: Job) -> None:
        async with self._ctx.store.write() as tx:
            await tx.jobs.complete(job.id, self.worker_id)
