"""Group commit for SQLite: the write transactions of one loop iteration share one COMMIT.

A process has one SQLite writer connection, and a write unit (one
``Database.begin()`` block) runs on it without yielding to the event loop, so
units never overlap. Committing each one on its own costs a WAL append of
every page it touched and, every so often, a checkpoint: about a quarter of a
POST's server CPU (bench/README.md). So a unit that succeeds does not commit:
it leaves the transaction open and waits, and the units that run before the
loop comes back to the flush it scheduled join the same transaction; the flush
commits them all and each of their callers is answered then. Nobody hears of
success before the COMMIT that makes their unit durable.

A unit that fails takes only itself down: the first unit of a batch is
alone when it runs (the others join after it), so its failure rolls the whole
transaction back; a later one runs inside a ``SAVEPOINT`` and rolls back to
it. A COMMIT that fails (a full disk) fails every unit of its batch, none of
which had been answered. A batch commits after ``MAX_UNITS`` units even if
more are ready, so another process waiting for the file's write lock never
waits for more than one batch.

With no other unit ready, a unit commits in the same loop iteration: its
statements are exactly those of a transaction of its own (BEGIN IMMEDIATE,
its work, COMMIT).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

MAX_UNITS = 64
_SAVEPOINT = "orchestrion_unit"


@dataclass(eq=False)
class _Batch:
    """One open SQLite transaction and the units that ran in it."""

    transaction: sa.RootTransaction
    committed: asyncio.Future[None]
    units: int = 0
    flush: asyncio.Handle | None = None
    flush_due: bool = False


class GroupCommitWriter:
    """Runs write units on one connection, committing the units of a loop iteration together."""

    def __init__(
        self,
        connection: Callable[[], Connection],
        begin: Callable[[Connection], Awaitable[sa.RootTransaction]],
        end_failed: Callable[[sa.RootTransaction, Connection], None],
    ) -> None:
        self._connection = connection
        self._begin = begin
        self._end_failed = end_failed
        self._lock = asyncio.Lock()
        self._batch: _Batch | None = None

    @contextlib.asynccontextmanager
    async def unit(self) -> AsyncIterator[Connection]:
        """One write unit: its work is durable when the block exits without an exception."""
        async with self._lock:
            conn = self._connection()
            batch = self._batch
            joined = batch is not None
            if batch is None:
                transaction = await self._begin(conn)
                batch = self._batch = _Batch(transaction, asyncio.get_running_loop().create_future())
            else:
                self._raw(conn, f"SAVEPOINT {_SAVEPOINT}")
            try:
                yield conn
                if joined:
                    self._raw(conn, f"RELEASE {_SAVEPOINT}")
            except BaseException as error:
                if self._undo(batch, conn, joined, error):
                    with contextlib.suppress(Exception):  # its waiters hear of a failed COMMIT themselves
                        self._settle(batch, conn)
                raise
            batch.units += 1
            if self._settle(batch, conn):
                return
        # Shielded: a caller cancelled while waiting must not cancel the others' commit.
        await asyncio.shield(batch.committed)

    def _settle(self, batch: _Batch, conn: Connection) -> bool:
        """After a unit: commit now (True) or let the flush of this loop iteration do it."""
        if batch.units >= MAX_UNITS or batch.flush_due:
            self._commit(batch, conn)
            return True
        if batch.flush is None:
            batch.flush = asyncio.get_running_loop().call_soon(self._flush, batch)
        return False

    def _flush(self, batch: _Batch) -> None:
        if self._batch is not batch:
            return
        if self._lock.locked():  # a unit is running (it awaited inside its block): it commits when it ends
            batch.flush_due = True
            return
        with contextlib.suppress(Exception):  # the waiters get the error through the future
            self._commit(batch, self._connection())

    def flush(self) -> None:
        """Commit the open batch now, if any (on shutdown)."""
        if self._batch is not None:
            self._flush(self._batch)

    def _commit(self, batch: _Batch, conn: Connection) -> None:
        self._batch = None
        if batch.flush is not None:
            batch.flush.cancel()
        try:
            batch.transaction.commit()
        except Exception as error:
            self._end_failed(batch.transaction, conn)
            self._fail(batch, error)
            raise
        batch.committed.set_result(None)

    def _undo(self, batch: _Batch, conn: Connection, joined: bool, error: BaseException) -> bool:
        """Take back the failed unit's work; True if the transaction, and the batch, survive it."""
        if joined:
            try:
                self._raw(conn, f"ROLLBACK TO {_SAVEPOINT}")
                self._raw(conn, f"RELEASE {_SAVEPOINT}")
                return True
            except Exception:  # noqa: BLE001 - SQLite ended the whole transaction (e.g. a full disk)
                pass
        self._batch = None
        if batch.flush is not None:
            batch.flush.cancel()
        self._end_failed(batch.transaction, conn)
        lost = error if isinstance(error, Exception) else RuntimeError("the transaction ended with a failed unit")
        self._fail(batch, lost)
        return False

    @staticmethod
    def _fail(batch: _Batch, error: Exception) -> None:
        if not batch.committed.done():
            batch.committed.set_exception(error)
            batch.committed.exception()  # retrieved: a batch nobody else waits for must not warn

    @staticmethod
    def _raw(conn: Connection, sql: str) -> None:
        """A savepoint statement straight on the driver: SQLAlchemy's own nested transactions stay its own."""
        raw = conn.connection.dbapi_connection
        assert raw is not None
        raw.execute(sql)
