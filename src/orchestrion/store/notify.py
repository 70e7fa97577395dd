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
        """Listen until ``stop``; never raises (workers poll anyway), and never leaves a connection open."""
        import asyncpg

        delay = 0.2
        while not stop.is_set():
            lost = asyncio.Event()
            try:
                conn = await self._connect()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as error:
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
                await _first_of(stop, lost)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as error:
                log.warning("listener_lost", error=type(error).__name__)
            finally:
                await _close(conn)

    async def _connect(self) -> Any:
        import asyncpg

        return await asyncpg.connect(self._dsn, timeout=CONNECT_TIMEOUT_S)


async def _first_of(*events: asyncio.Event) -> None:
    """Wait until one of ``events`` is set; no waiter task outlives the call."""
    waiters = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)


async def _close(conn: Any) -> None:
    """Close politely; a connection that does not close in time (a busy server) is terminated: never left open."""
    import asyncpg

    if conn.is_closed():
        return
    try:
        await conn.close(timeout=CONNECT_TIMEOUT_S)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as error:
        log.warning("listener_close_failed", error=type(error).__name__)
        conn.terminate()


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
