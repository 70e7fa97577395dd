"""The connections of PostgreSQL's prepared reads (store.readpool), on a real server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio

from orchestrion.store.readpool import PoolClosed, ReadPool
from tests.conftest import POSTGRES_ADMIN_URL

pytestmark = pytest.mark.asyncio(loop_scope="function")


class Opener:
    """Opens real connections to the test server and counts them."""

    def __init__(self) -> None:
        self.opened: list[asyncpg.Connection] = []

    async def __call__(self) -> asyncpg.Connection:
        conn = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
        self.opened.append(conn)
        return conn


@pytest_asyncio.fixture(loop_scope="function")
async def opener() -> AsyncIterator[Opener]:
    opener = Opener()
    yield opener
    for conn in opener.opened:
        conn.terminate()


async def _queued(pool: ReadPool, order: list[str], name: str) -> None:
    conn = await pool.acquire(5)
    order.append(name)
    pool.release(conn)


async def test_a_released_connection_goes_to_the_longest_waiter(opener: Opener) -> None:
    pool = ReadPool(opener, 1)
    held = await pool.acquire(5)
    order: list[str] = []
    first = asyncio.create_task(_queued(pool, order, "first"))
    await asyncio.sleep(0)
    second = asyncio.create_task(_queued(pool, order, "second"))
    await asyncio.sleep(0)
    pool.release(held)
    await _queued(pool, order, "late")  # asks right after the release, before the waiters run: behind them
    await asyncio.gather(first, second)
    assert order == ["first", "second", "late"]
    assert len(opener.opened) == 1


async def test_a_read_that_waits_past_its_timeout_leaves_the_line(opener: Opener) -> None:
    pool = ReadPool(opener, 1)
    held = await pool.acquire(5)
    with pytest.raises(TimeoutError):
        await pool.acquire(0.05)
    pool.release(held)
    again = await pool.acquire(0.05)  # the connection came back to the pool, not to the one that gave up
    assert again is held
    pool.release(again)


async def test_never_more_connections_than_its_size(opener: Opener) -> None:
    pool = ReadPool(opener, 2)

    async def read() -> int:
        conn = await pool.acquire(5)
        try:
            value: int = await conn.fetchval("SELECT 1")
            await asyncio.sleep(0.01)
            return value
        finally:
            pool.release(conn)

    assert await asyncio.gather(*(read() for _ in range(20))) == [1] * 20
    assert len(opener.opened) == 2


async def test_a_lost_connection_is_dropped_with_the_idle_ones_and_opened_again_on_use(opener: Opener) -> None:
    pool = ReadPool(opener, 2)
    broken, idle = await pool.acquire(5), await pool.acquire(5)
    pool.release(idle)
    pool.release(broken, lost=True)  # a restarted server dropped the idle one too
    assert broken.is_closed() and idle.is_closed()
    fresh = await pool.acquire(5)
    assert fresh not in (broken, idle) and await fresh.fetchval("SELECT 1") == 1
    pool.release(fresh)
    assert len(opener.opened) == 3


async def test_a_waiter_gets_room_to_open_a_connection_when_one_fails(opener: Opener) -> None:
    pool = ReadPool(opener, 1)
    broken = await pool.acquire(5)
    waiting = asyncio.create_task(pool.acquire(5))
    await asyncio.sleep(0)
    pool.release(broken, discard=True)
    fresh = await waiting
    assert fresh is not broken and not fresh.is_closed()
    pool.release(fresh)


async def test_a_discarded_connection_goes_alone(opener: Opener) -> None:
    pool = ReadPool(opener, 2)
    cut, idle = await pool.acquire(5), await pool.acquire(5)
    pool.release(idle)
    pool.release(cut, discard=True)  # a statement cut short: only its connection is suspect
    assert cut.is_closed() and not idle.is_closed()
    assert await pool.acquire(5) is idle


async def test_closing_waits_for_reads_in_flight_and_refuses_the_rest(opener: Opener) -> None:
    pool = ReadPool(opener, 1)
    held = await pool.acquire(5)
    waiting = asyncio.create_task(pool.acquire(5))
    await asyncio.sleep(0)
    closing = asyncio.create_task(pool.close(5))
    await asyncio.sleep(0.05)
    assert not closing.done()  # the read in flight is not cut
    with pytest.raises(PoolClosed):
        await waiting
    pool.release(held)
    await closing
    assert held.is_closed()
    with pytest.raises(PoolClosed):
        await pool.acquire(5)
