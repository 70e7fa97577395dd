"""The connections of PostgreSQL's prepared reads: a fixed number, handed out first come first served.

asyncpg's own pool costs about a tenth of the polled status read's CPU
(bench/README.md, "sixth pass"): its acquire with a timeout runs the wait as a
task of its own, its release shields another task, and every release arms a
timer. The reads need none of that: each holds a connection for one statement
in autocommit, so nothing is reset between uses. Here a free connection is
taken without waiting and without a timer; only a read that finds none waits,
in line: a released connection goes to the longest waiter, not to whichever
read happens to ask next (asyncpg's queue lets a new read take it ahead of the
one woken for it, which then waits again: the 20 ms p99 of the fifth pass).

A connection whose statement was cut short is closed and its place opened
again on demand; when the server went away, the idle ones are closed with it,
as a restarted server has dropped them too.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Awaitable, Callable

import asyncpg

Connect = Callable[[], Awaitable[asyncpg.Connection]]


class PoolClosed(Exception):
    """The pool was closed while a read waited for a connection."""


class ReadPool:
    def __init__(self, connect: Connect, size: int) -> None:
        if size < 1:
            raise ValueError("a read pool needs at least one connection")
        self.size = size
        self._connect = connect
        self._free: list[asyncpg.Connection] = []
        self._waiters: collections.deque[asyncio.Future[asyncpg.Connection | None]] = collections.deque()
        self._opened = 0  # open or opening: never more than size
        self._all: set[asyncpg.Connection] = set()
        self._in_use = 0
        self._closed = False
        self._idle = asyncio.Event()

    async def acquire(self, timeout_s: float) -> asyncpg.Connection:
        """A connection for one statement; give it back with ``release``. Waits at most ``timeout_s`` in line."""
        while True:
            if self._closed:
                raise PoolClosed("the read pool is closed")
            if self._free:
                conn = self._free.pop()
                if conn.is_closed():  # its end was seen (the server went away): open another instead
                    self._drop(conn)
                    continue
                self._in_use += 1
                return conn
            if self._opened < self.size:
                return await self._open()
            handed = await self._wait(timeout_s)
            if handed is not None:
                return handed
            # None: a connection was dropped, so there is room to open one; go round.

    def release(self, conn: asyncpg.Connection, *, discard: bool = False, lost: bool = False) -> None:
        """Give ``conn`` back. ``discard``: it is not to be used again (a statement was cut short);
        ``lost``: nor are the idle ones (the server went away: it dropped them too)."""
        if discard or lost or conn.is_closed() or self._closed:
            self._in_use -= 1
            dropped = [conn, *self._free] if lost else [conn]
            if lost:
                self._free.clear()
            for gone in dropped:
                self._drop(gone)
                self._hand_over(None)  # room to open one, for the longest waiter
        elif not self._hand_over(conn):  # handed over, it stays in use: the waiter's now
            self._in_use -= 1
            self._free.append(conn)
        if self._in_use == 0:
            self._idle.set()

    async def close(self, timeout_s: float) -> None:
        """Refuse new reads, wait up to ``timeout_s`` for those in flight, then close every connection."""
        self._closed = True
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(PoolClosed("the read pool is closed"))
        if self._in_use:
            self._idle.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), timeout_s)
        free, self._free = self._free, []
        await asyncio.gather(*(self._close(conn, timeout_s) for conn in free))
        for stuck in list(self._all):  # still in use past the wait: cut
            self._drop(stuck)

    async def _open(self) -> asyncpg.Connection:
        self._opened += 1
        try:
            conn = await self._connect()
        except BaseException:
            self._opened -= 1
            self._hand_over(None)  # a waiter may open one in its turn
            raise
        self._all.add(conn)
        self._in_use += 1
        return conn

    async def _wait(self, timeout_s: float) -> asyncpg.Connection | None:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[asyncpg.Connection | None] = loop.create_future()
        self._waiters.append(waiter)
        expiry = loop.call_later(timeout_s, _expire, waiter)  # a bare timer: asyncio.timeout costs more
        try:
            return await waiter
        except BaseException:
            # A waiter that gave up (cancelled, or timed out) stays in line until a hand-over skips
            # it. One handed something just as its wait ended passes it on.
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                handed = waiter.result()
                if handed is not None:
                    self.release(handed)
                else:
                    self._hand_over(None)
            raise
        finally:
            expiry.cancel()

    def _hand_over(self, conn: asyncpg.Connection | None) -> bool:
        """Give ``conn`` (None: room to open one) to the longest waiter; False if nobody waits."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return True
        return False

    def _drop(self, conn: asyncpg.Connection) -> None:
        if conn in self._all:
            self._all.discard(conn)
            self._opened -= 1
        conn.terminate()

    async def _close(self, conn: asyncpg.Connection, timeout_s: float) -> None:
        self._all.discard(conn)
        self._opened -= 1
        try:
            await conn.close(timeout=timeout_s)
        except Exception:  # noqa: BLE001 - closing anyway: a connection that will not close politely is cut
            conn.terminate()


def _expire(waiter: asyncio.Future[asyncpg.Connection | None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError("no read connection came free in time"))
