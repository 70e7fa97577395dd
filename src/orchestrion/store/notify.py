"""PostgreSQL LISTEN/NOTIFY: wakes workers in any process when a job is enqueued.

Enqueueing a job sends ``NOTIFY`` inside the enqueueing transaction, so the
notification is delivered only if (and when) the job is committed. Polling
stays as the fallback (SQLite, or a lost listener connection).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import structlog

from orchestrion.store.database import DatabaseUrl

log = structlog.get_logger("orchestrion.store")

JOBS_CHANNEL = "orchestrion_jobs"
CONNECT_TIMEOUT_S = 5.0


class PgListener:
    """Keeps one connection LISTENing; reconnects with a capped delay when it drops."""

    def __init__(self, url: str, channel: str, on_notify: Callable[[], None]) -> None:
        self._dsn = DatabaseUrl.parse(url).asyncpg_dsn
        self._channel = channel
        self._on_notify = on_notify

    async def run(self, stop: asyncio.Event) -> None:
        import asyncpg

        delay = 0.2
        while not stop.is_set():
            lost = asyncio.Event()
            try:
                conn = await asyncpg.connect(self._dsn, timeout=CONNECT_TIMEOUT_S)
            except (OSError, asyncpg.PostgresError, TimeoutError) as error:
                log.warning("listener_connect_failed", error=type(error).__name__, retry_in_s=delay)
                await _wait(stop, delay)
                delay = min(delay * 2, 10.0)
                continue
            delay = 0.2

            def notified(*_args: Any) -> None:
                self._on_notify()

            conn.add_termination_listener(lambda _conn, dropped=lost: dropped.set())
            try:
                await conn.add_listener(self._channel, notified)
                # Work committed while we were not listening: wake once to look.
                self._on_notify()
                stopped = asyncio.create_task(stop.wait())
                dropped = asyncio.create_task(lost.wait())
                await asyncio.wait({stopped, dropped}, return_when=asyncio.FIRST_COMPLETED)
                stopped.cancel()
                dropped.cancel()
            finally:
                if not conn.is_closed():
                    await conn.close(timeout=CONNECT_TIMEOUT_S)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
