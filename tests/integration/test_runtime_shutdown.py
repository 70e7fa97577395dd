"""Stopping a runtime releases everything it holds, even when a part of it failed.

A runtime that stops with connections still open or tasks still running
leaves them to the garbage collector: unclosed sockets, coroutines never
awaited, and a database that cannot be dropped cleanly. Seen under load when
closing the LISTEN connection timed out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest

from orchestrion.runtime import Runtime
from orchestrion.store import notify
from tests.conftest import POSTGRES_ADMIN_URL, postgres_database, test_settings

pytestmark = pytest.mark.asyncio(loop_scope="function")


@pytest.fixture
def pg_url() -> Iterator[str]:
    from orchestrion.store.migrate import upgrade

    for url in postgres_database():
        upgrade(url)
        yield url


async def _connections_to(url: str) -> int:
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=10)
    try:
        name = url.rsplit("/", 1)[1]
        return int(
            await admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name
            )
        )
    finally:
        await admin.close()


class _CloseTimesOut:
    """A LISTEN connection whose close times out, as asyncpg's does when the server is slow to answer."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    async def close(self, **_options: Any) -> None:
        raise TimeoutError


async def test_stop_releases_every_connection_and_task_when_closing_the_listener_fails(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_connect = notify.PgListener._connect
    listening = asyncio.Event()

    async def connect(self: notify.PgListener) -> Any:
        conn = _CloseTimesOut(await real_connect(self))
        listening.set()
        return conn

    monkeypatch.setattr(notify.PgListener, "_connect", connect)
    runtime = Runtime.build(test_settings(pg_url))
    before = set(asyncio.all_tasks())
    await runtime.start_worker()
    await asyncio.wait_for(listening.wait(), 30)

    await runtime.stop()

    assert await _connections_to(pg_url) == 0
    assert {t for t in asyncio.all_tasks() if not t.done()} - before == set()


async def test_stop_releases_every_connection_when_the_dispatcher_failed(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestrion.dispatch.worker import Dispatcher

    async def crash(self: Dispatcher, stop: asyncio.Event) -> None:
        async with self._ctx.store.read() as tx:  # type: ignore[attr-defined]
            await tx.jobs.next_due_ms()
        raise RuntimeError("the dispatcher crashed")

    monkeypatch.setattr(Dispatcher, "run", crash)
    runtime = Runtime.build(test_settings(pg_url))
    before = set(asyncio.all_tasks())
    await runtime.start_worker()
    await asyncio.sleep(0.2)

    await runtime.stop()

    assert await _connections_to(pg_url) == 0
    assert {t for t in asyncio.all_tasks() if not t.done()} - before == set()
