"""PostgreSQL connections: SQLAlchemy's asyncio connections, with the hot statements on asyncpg itself.

``AsyncConnection`` is the ``SqlConnection`` of a write transaction or of a
read that needs SQLAlchemy. Its ``run`` (a ``store.prepared`` statement)
goes straight to asyncpg inside the transaction SQLAlchemy's adapter keeps.

``ReadConnection`` is what ``Database.connect()`` hands out: its prepared
statements (the polled action status) run on ``PreparedReads``, a few
asyncpg connections of its own (``store.readpool``), so a read costs one
round trip and no SQLAlchemy checkout (about 150 us of CPU a read on the
2-core machine, bench/roundtrip.py); anything else checks a SQLAlchemy
connection out on first use.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, NoReturn, TypeVar

import asyncpg
import orjson
from sqlalchemy import exc
from sqlalchemy.engine import Connection, CursorResult, Dialect
from sqlalchemy.ext.asyncio import AsyncConnection as SaAsyncConnection
from sqlalchemy.ext.asyncio import AsyncEngine

from orchestrion.domain.errors import StoreUnavailable
from orchestrion.store.prepared import Prepared, Record, Rows, bind, decode
from orchestrion.store.readpool import PoolClosed, ReadPool

T = TypeVar("T")

CONNECT_TIMEOUT_S = 5.0
ACQUIRE_TIMEOUT_S = 10.0  # as long as a caller waits for SQLAlchemy's pool (database.POOL_TIMEOUT_S)


# The connection is gone (server restarted or shut down, network cut): the database is unavailable.
_ASYNCPG_CONNECTION_LOST = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InternalClientError,  # a dropped connection can leave the protocol in this state
    OSError,
    TimeoutError,
)


class AsyncConnection:
    """An ``SqlConnection`` over SQLAlchemy's asyncio connection (PostgreSQL)."""

    def __init__(self, conn: SaAsyncConnection) -> None:
        self._conn = conn
        self._adapter: Any = None  # SQLAlchemy's DB-API adapter over the asyncpg connection

    @property
    def dialect(self) -> Dialect:
        return self._conn.dialect

    async def execute(self, statement: Any, parameters: Any = None) -> CursorResult[Any]:
        result: CursorResult[Any] = await self._conn.execute(statement, parameters)
        return result

    async def exec_driver_sql(self, statement: str, parameters: Any = None) -> CursorResult[Any]:
        result: CursorResult[Any] = await self._conn.exec_driver_sql(statement, parameters)
        return result

    def begin_nested(self) -> contextlib.AbstractAsyncContextManager[Any]:
        return self._conn.begin_nested()

    async def run_sync(self, fn: Callable[[Connection], T]) -> T:
        return await self._conn.run_sync(fn)

    async def run(self, query: Prepared, parameters: Mapping[str, Any]) -> Rows:
        # Straight to asyncpg, inside the transaction SQLAlchemy's adapter keeps for this
        # connection (started here if this is its first statement, as the adapter would), with
        # the adapter's cache of prepared statements: SQLAlchemy's execution and its greenlet
        # bridge cost more than the statement (store.prepared).
        dialect = self._conn.dialect
        compiled = query.compiled(dialect, frozenset(parameters))
        args = bind(compiled, parameters)
        adapter = self._adapter or await self._adapt()
        try:
            async with adapter._execute_mutex:
                if adapter._transaction is None:
                    await adapter._start_transaction()
                asof = getattr(dialect, "_invalidate_schema_cache_asof", 0)
                statement, _ = await adapter._prepare(compiled.sql, asof)
                fetched = await statement.fetch(*args)
                status = statement.get_statusmsg()
        except _ASYNCPG_CONNECTION_LOST as error:
            await self._lost(error)
        except (asyncpg.PostgresError, dialect.loaded_dbapi.Error) as error:
            raise _as_sqlalchemy_error(adapter, dialect, compiled.sql, args, error) from error
        rows = decode(compiled, [Record(record) for record in fetched])
        counted = _STATUS_COUNT.match(status or "")
        return Rows(rows, int(counted.group(1)) if counted else len(rows))

    async def _adapt(self) -> Any:
        raw = await self._conn.get_raw_connection()
        self._adapter = raw.dbapi_connection
        return self._adapter

    async def _lost(self, error: BaseException) -> NoReturn:
        # asyncpg's own errors, unseen by SQLAlchemy: do what it does on a disconnect, drop this
        # connection and the pooled ones (a restarted server dropped them all).
        await self._conn.invalidate(error)
        await self._conn.engine.dispose(close=False)
        raise StoreUnavailable(f"database unavailable: {type(error).__name__}") from error


_STATUS_COUNT = re.compile(r"(?:SELECT|UPDATE|DELETE|INSERT \d+) (\d+)")


def _as_sqlalchemy_error(
    adapter: Any, dialect: Dialect, sql: str, args: list[Any], error: Exception
) -> exc.StatementError:
    """``error`` from asyncpg as SQLAlchemy raises it: its adapter's DB-API error, wrapped (``IntegrityError``...)."""
    dbapi_error = dialect.loaded_dbapi.Error
    if not isinstance(error, dbapi_error):
        try:
            adapter._handle_exception(error)  # maps every asyncpg.PostgresError to a DB-API error
        except dbapi_error as translated:
            error = translated
    return exc.DBAPIError.instance(sql, args, error, dbapi_error, dialect=dialect)


class PreparedReads:
    """A few asyncpg connections of their own for prepared reads in autocommit (``store.readpool``), opened on use."""

    def __init__(self, dsn: str, dialect: Dialect, size: int) -> None:
        self.size = size
        self.hooks: list[Callable[[asyncpg.Connection], None]] = []  # run on each new connection (tests trace)
        self._dsn = dsn
        self._dialect = dialect
        self._pool = ReadPool(self._connect, size) if size > 0 else None

    async def run(self, query: Prepared, parameters: Mapping[str, Any]) -> Rows:
        compiled = query.compiled(self._dialect, frozenset(parameters))
        args = bind(compiled, parameters)
        assert self._pool is not None, "no prepared reads in a pool too small to share (database.readers)"
        try:
            conn = await self._pool.acquire(ACQUIRE_TIMEOUT_S)
        except (PoolClosed, *_ASYNCPG_CONNECTION_LOST) as error:
            raise StoreUnavailable(f"database unavailable: {type(error).__name__}") from error
        except asyncpg.PostgresError as error:  # refused while connecting (authentication, too many clients)
            raise StoreUnavailable(f"database error: {type(error).__name__}") from error
        try:
            fetched = await conn.fetch(compiled.sql, *args)
        except _ASYNCPG_CONNECTION_LOST as error:
            self._pool.release(conn, lost=True)  # a restarted server dropped the idle ones too
            raise StoreUnavailable(f"database unavailable: {type(error).__name__}") from error
        except asyncpg.PostgresError as error:
            self._pool.release(conn)
            raise StoreUnavailable(f"database error: {type(error).__name__}") from error
        except BaseException:
            self._pool.release(conn, discard=True)  # cancelled mid-statement: its protocol state is unknown
            raise
        self._pool.release(conn)
        return Rows(decode(compiled, [Record(record) for record in fetched]), len(fetched))

    async def _connect(self) -> asyncpg.Connection:
        conn = await asyncpg.connect(self._dsn, timeout=CONNECT_TIMEOUT_S)
        try:
            # JSON as SQLAlchemy's connections have it: text in, decoded values out.
            for name in ("json", "jsonb"):
                await conn.set_type_codec(name, encoder=str, decoder=orjson.loads, schema="pg_catalog")
        except BaseException:
            conn.terminate()
            raise
        for hook in self.hooks:
            hook(conn)
        return conn

    async def close(self) -> None:
        if self._pool is not None:
            # Waits for reads in flight (each a single statement); a read stuck past this is cut.
            await self._pool.close(CONNECT_TIMEOUT_S)


class ReadConnection:
    """A read in autocommit: prepared statements on ``PreparedReads``, the rest on a SQLAlchemy connection."""

    def __init__(self, engine: AsyncEngine, reads: PreparedReads) -> None:
        self._engine = engine
        self._reads = reads
        self._sa: SaAsyncConnection | None = None
        self._conn: AsyncConnection | None = None

    @property
    def dialect(self) -> Dialect:
        return self._engine.dialect

    async def run(self, query: Prepared, parameters: Mapping[str, Any]) -> Rows:
        if self._reads.size == 0:  # a pool too small to share (database.readers)
            return await (await self._checked_out()).run(query, parameters)
        return await self._reads.run(query, parameters)

    async def execute(self, statement: Any, parameters: Any = None) -> CursorResult[Any]:
        return await (await self._checked_out()).execute(statement, parameters)

    async def exec_driver_sql(self, statement: str, parameters: Any = None) -> CursorResult[Any]:
        return await (await self._checked_out()).exec_driver_sql(statement, parameters)

    @contextlib.asynccontextmanager
    async def begin_nested(self) -> AsyncIterator[Any]:
        async with (await self._checked_out()).begin_nested() as savepoint:
            yield savepoint

    async def run_sync(self, fn: Callable[[Connection], T]) -> T:
        return await (await self._checked_out()).run_sync(fn)

    async def _checked_out(self) -> AsyncConnection:
        if self._conn is None:
            connection = self._engine.connect()
            await connection.start()  # may fail (the server is down): then there is nothing to close
            self._sa = connection
            self._conn = AsyncConnection(connection)
        return self._conn

    async def close(self) -> None:
        if self._sa is not None:
            await self._sa.close()
