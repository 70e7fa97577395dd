"""The test clock: an emulator feature that moves the server's time forward without sleeping.

The server's time is ``SystemClock``: the wall clock plus ``offset_ms``. The
offset lives in the database (``test_clock``, one row), so every process of a
deployment agrees on it: the process that advances it adopts the new offset at
once, the others read it back every ``sync_interval_s`` (and at start). So with
several processes, a process other than the advancing one may run up to that
interval behind; one process alone is always exact.

``advance`` returns once every status-timeout timer that fell due has fired
(bounded by ``settle_timeout_s``), so a test can assert on the result at once:
those timers run in the dispatcher of any process that has caught up.

The test clock is off unless the settings enable it; a process with it off
ignores the stored offset.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

import structlog

from orchestrion.domain.clock import SystemClock
from orchestrion.domain.errors import InvalidInput, StoreUnavailable
from orchestrion.services.context import Context
from orchestrion.services.lifecycle import TIMER_JOB

log = structlog.get_logger("orchestrion.testclock")

MAX_ADVANCE_MS = 366 * 24 * 3600 * 1000


@dataclass(frozen=True, slots=True)
class ClockState:
    now_ms: int
    offset_ms: int
    settled: bool = True  # every timer due by now has fired


class TestClock:
    __test__ = False  # not a pytest test class

    def __init__(
        self, ctx: Context, clock: SystemClock, *, sync_interval_s: float = 0.25, settle_timeout_s: float = 10.0
    ) -> None:
        self._ctx = ctx
        self._clock = clock
        self._sync_interval_s = sync_interval_s
        self._settle_timeout_s = settle_timeout_s

    async def load(self) -> None:
        """Adopt the shared offset."""
        async with self._ctx.store.read() as tx:
            self._clock.offset_ms = await tx.clock.offset_ms()

    def state(self) -> ClockState:
        return ClockState(now_ms=self._clock.now_ms(), offset_ms=self._clock.offset_ms)

    async def advance(self, delta_ms: int) -> ClockState:
        """Move time forward by ``delta_ms`` for every process, then let the timers now due fire."""
        if not 0 < delta_ms <= MAX_ADVANCE_MS:
            raise InvalidInput(f"The test clock moves forward by more than 0 ms and at most {MAX_ADVANCE_MS} ms")
        async with self._ctx.store.write() as tx:
            offset = await tx.clock.advance(delta_ms)
        self._clock.offset_ms = max(self._clock.offset_ms, offset)
        log.info("test_clock_advanced", delta_ms=delta_ms, offset_ms=offset)
        self._ctx.wakeup.notify()
        settled = await self._settle()
        return ClockState(now_ms=self._clock.now_ms(), offset_ms=self._clock.offset_ms, settled=settled)

    async def _settle(self) -> bool:
        deadline = time.monotonic() + self._settle_timeout_s
        while True:
            async with self._ctx.store.read() as tx:
                due = await tx.lifecycle.due_jobs(TIMER_JOB, self._clock.now_ms())
            if due == 0:
                return True
            if time.monotonic() > deadline:
                log.warning("test_clock_not_settled", due_timers=due)
                return False
            self._ctx.wakeup.notify()
            await asyncio.sleep(0.01)

    async def run_sync(self, stop: asyncio.Event) -> None:
        """Follow the offset other processes set, until ``stop``."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._sync_interval_s)
            if stop.is_set():
                return
            try:
                async with self._ctx.store.read() as tx:
                    offset = await tx.clock.offset_ms()
            except StoreUnavailable:
                continue
            if offset > self._clock.offset_ms:  # only forward: a read older than our own advance is stale
                self._clock.offset_ms = offset
                self._ctx.wakeup.notify()
