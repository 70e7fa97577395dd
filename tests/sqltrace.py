"""Every SQL statement a store sends, and every write transaction, on SQLite and PostgreSQL.

Install on a ``Store`` before it opens its first connection (``trace(store)``),
then ``async with tracer.window() as seen:`` collects what runs inside the block.

Statements are seen at the driver, so that no path is missed, whoever sends
them (SQLAlchemy, the raw-driver reads of ``store/database.py``, transaction
control):

- SQLite: ``sqlite3``'s trace callback on every connection of the store
  reports each statement the library runs, ``BEGIN IMMEDIATE`` and
  ``COMMIT`` included.
- PostgreSQL: asyncpg has two ways to run a query, both hooked here for the
  store's connections only (SQLAlchemy's and those of the pool of prepared
  reads): a ``PreparedStatement``'s execution (what
  SQLAlchemy uses for every statement) and the connection's own
  ``execute``/``fetch*`` (the raw reads, and the ``BEGIN``/``COMMIT`` of
  transactions), which asyncpg runs through ``_time_and_log`` once a query
  logger is attached. These are private methods of asyncpg 0.32 (pinned): a
  new asyncpg may need this helper changed. Preparing a statement (once per
  statement and connection) is not counted.

A write transaction is a ``BEGIN``: reads run in autocommit on both backends
and never open one.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event

from orchestrion.store.store import Store

_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "END")


def _keyword(sql: str) -> str:
    return sql.lstrip().split(None, 1)[0].upper().rstrip(";") if sql.strip() else ""


@dataclass
class Seen:
    """What ran during one window, in order."""

    all: list[str] = field(default_factory=list)  # every statement, transaction control included

    @property
    def statements(self) -> list[str]:
        """What does the work: every statement but BEGIN / COMMIT / ROLLBACK (SAVEPOINTs count)."""
        return [sql for sql in self.all if _keyword(sql) not in _CONTROL]

    @property
    def write_transactions(self) -> int:
        return sum(1 for sql in self.all if _keyword(sql) == "BEGIN")

    def summary(self) -> str:
        lines = [
            f"{len(self.statements)} statements, {self.write_transactions} write transactions, "
            f"{len(self.all)} round trips"
        ]
        lines += [f"  {' '.join(sql.split())[:150]}" for sql in self.all]
        return "\n".join(lines)


# asyncpg connections of traced stores -> their tracer.
_PG_TRACERS: weakref.WeakKeyDictionary[Any, Tracer] = weakref.WeakKeyDictionary()


def _hook_asyncpg() -> None:
    """Report both of asyncpg's query paths to the tracer of the connection, if it has one (once per process)."""
    from asyncpg.connection import Connection
    from asyncpg.prepared_stmt import PreparedStatement

    if getattr(Connection, "_orchestrion_traced", False):
        return
    time_and_log = Connection._time_and_log
    do_execute = PreparedStatement._PreparedStatement__do_execute  # type: ignore[attr-defined]

    @contextlib.contextmanager
    def traced_time_and_log(self: Any, query: str, args: Any, timeout: Any) -> Iterator[None]:
        tracer = _PG_TRACERS.get(self)
        if tracer is not None:
            tracer.record(query)
        with time_and_log(self, query, args, timeout):
            yield

    async def traced_do_execute(self: Any, executor: Any) -> Any:
        tracer = _PG_TRACERS.get(self._connection)
        if tracer is not None:
            tracer.record(self._query)
        return await do_execute(self, executor)

    Connection._time_and_log = traced_time_and_log  # type: ignore[method-assign]
    PreparedStatement._PreparedStatement__do_execute = traced_do_execute  # type: ignore[attr-defined]
    Connection._orchestrion_traced = True  # type: ignore[attr-defined]


def _no_log(_record: Any) -> None:
    """A query logger that logs nothing: its presence routes asyncpg's queries through ``_time_and_log``."""


class Tracer:
    def __init__(self, store: Store) -> None:
        self.backend = store.backend
        self._window: Seen | None = None
        if self.backend == "postgresql":
            _hook_asyncpg()
        for engine in store.database.engines():
            event.listen(engine, "connect", self._on_connect)
        reads = store.database.prepared_reads()
        if reads is not None:  # PostgreSQL's pool of its own for prepared reads (store.pg)
            reads.hooks.append(self._on_driver_connect)

    def record(self, sql: str) -> None:
        if self._window is not None:
            self._window.all.append(sql)

    def _on_connect(self, dbapi_connection: Any, _record: Any) -> None:
        if self.backend == "sqlite":
            dbapi_connection.set_trace_callback(self.record)
            return
        self._on_driver_connect(dbapi_connection.driver_connection)

    def _on_driver_connect(self, driver: Any) -> None:
        driver.add_query_logger(_no_log)
        _PG_TRACERS[driver] = self

    @contextlib.asynccontextmanager
    async def window(self) -> AsyncIterator[Seen]:
        """Collect what runs inside the block."""
        seen = Seen()
        self._window = seen
        try:
            yield seen
        finally:
            self._window = None


def trace(store: Store) -> Tracer:
    """Trace ``store``'s statements from its next new connection on (install before first use)."""
    return Tracer(store)
