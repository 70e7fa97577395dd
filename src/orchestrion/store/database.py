"""Connections and transactions for SQLite and PostgreSQL, behind one async interface.

PostgreSQL: SQLAlchemy's asyncio engine over asyncpg; one pool for write
transactions, the same pool in autocommit mode for reads, and a few asyncpg
connections of their own for the prepared reads (``store.pg``, ``store.readpool``): a quarter of
``pool_size``, at most 4 (none when ``pool_size`` is below 4: the prepared
reads then share SQLAlchemy's pool). The pools never overflow: a process
holds at most ``pool_size`` connections in all (see ``store.pool``), and
past that a caller waits for a free one, for at most ``POOL_TIMEOUT_S``,
then gets ``StoreUnavailable``. Opening a connection per
burst and closing it again cost a handshake each time and could push the
server past ``max_connections``. On loopback no SSL is attempted unless the
URL asks for it (``sslmode``), since the server would only refuse it.

SQLite: the standard ``sqlite3`` module, called directly on the event loop's
thread. A primary-key read takes about 10 us there, while handing each call to
a helper thread (aiosqlite) cost about 1 ms of CPU per query through
SQLAlchemy (measured: bench/README.md). The database is one file in WAL mode,
so reads never wait for writers. Writes queue on an asyncio lock (one writer
connection per process), and the writes of one loop iteration share a
transaction and its COMMIT (``store.group_commit``). A transaction begins
with ``BEGIN IMMEDIATE``; when another
process holds the write lock, the transaction waits with ``asyncio.sleep``
and tries again, so the event loop is never blocked on a lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import sqlite3
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import Connection, CursorResult, Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from orchestrion.domain.errors import OrchestrionError, StoreUnavailable
from orchestrion.store.group_commit import GroupCommitWriter
from orchestrion.store.pg import AsyncConnection, PreparedReads, ReadConnection
from orchestrion.store.prepared import Prepared, Rows, run_on_sqlite

T = TypeVar("T")

SQLITE_LOCK_WAIT_S = 10.0
SQLITE_READ_BUSY_MS = 100
POOL_TIMEOUT_S = 10.0
# libpq's sslmode values, which asyncpg's ``ssl`` argument takes as they are.
SSL_MODES = frozenset({"disable", "allow", "prefer", "require", "verify-ca", "verify-full"})


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


class SqlConnection(Protocol):
    """What repositories use of a connection; both backends provide it."""

    @property
    def dialect(self) -> Dialect: ...

    async def execute(self, statement: Any, parameters: Any = None) -> CursorResult[Any]: ...

    async def exec_driver_sql(self, statement: str, parameters: Any = None) -> CursorResult[Any]: ...

    def begin_nested(self) -> contextlib.AbstractAsyncContextManager[Any]: ...

    async def run_sync(self, fn: Callable[[Connection], T]) -> T: ...

    async def run(self, query: Prepared, parameters: Mapping[str, Any]) -> Rows: ...


def _is_local(host: str | None) -> bool:
    """Loopback, or a Unix socket (no host, or a socket directory)."""
    host = urllib.parse.unquote(host or "")
    if not host or host.startswith("/"):
        return True
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class DatabaseUrl:
    """A database URL normalised for SQLAlchemy (and, on PostgreSQL, for asyncpg alone).

    ``sslmode`` (or ``ssl``) in a PostgreSQL URL is kept and given to asyncpg;
    without one, a loopback or Unix-socket host gets ``disable`` and any other
    host asyncpg's default (``prefer``).
    """

    sqlalchemy_url: str  # sqlite:///file or postgresql+asyncpg://...?ssl=MODE
    backend: str  # "sqlite" | "postgresql"
    asyncpg_dsn: str = ""  # postgresql://...?sslmode=MODE (PostgreSQL only)

    @classmethod
    def parse(cls, url: str) -> DatabaseUrl:
        parsed = sa.engine.make_url(url)
        backend = parsed.get_backend_name()
        if backend == "sqlite":
            return cls(parsed.set(drivername="sqlite").render_as_string(hide_password=False), "sqlite")
        if backend not in ("postgresql", "postgres"):
            raise ValueError(f"Unsupported database URL scheme {parsed.drivername!r}: use sqlite:/// or postgresql://")
        query = {k: v for k, v in parsed.query.items() if k not in ("ssl", "sslmode")}
        mode = parsed.query.get("sslmode") or parsed.query.get("ssl")
        if mode is None and _is_local(parsed.host):
            mode = "disable"
        if mode is not None and mode not in SSL_MODES:
            raise ValueError(f"Unsupported sslmode {mode!r}: use one of {', '.join(sorted(SSL_MODES))}")
        ssl = {} if mode is None else {"ssl": mode}
        sslmode = {} if mode is None else {"sslmode": mode}
        return cls(
            parsed.set(drivername="postgresql+asyncpg", query={**query, **ssl}).render_as_string(hide_password=False),
            "postgresql",
            parsed.set(drivername="postgresql", query={**query, **sslmode}).render_as_string(hide_password=False),
        )


class _SyncConnection:
    """An ``SqlConnection`` over a synchronous SQLAlchemy connection (SQLite)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    @property
    def dialect(self) -> Dialect:
        return self._conn.dialect

    async def execute(self, statement: Any, parameters: Any = None) -> CursorResult[Any]:
        return self._conn.execute(statement, parameters)

    async def exec_driver_sql(self, statement: str, parameters: Any = None) -> CursorResult[Any]:
        return self._conn.exec_driver_sql(statement, parameters)

    @contextlib.asynccontextmanager
    async def begin_nested(self) -> AsyncIterator[Any]:
        with self._conn.begin_nested() as savepoint:
            yield savepoint

    async def run_sync(self, fn: Callable[[Connection], T]) -> T:
        return fn(self._conn)

    async def run(self, query: Prepared, parameters: Mapping[str, Any]) -> Rows:
        return run_on_sqlite(self._conn, query, parameters)


def readers(pool_size: int) -> int:
    """How many of a PostgreSQL pool's connections serve prepared reads on their own (see the module)."""
    return min(4, pool_size // 4)


def _sqlite_engine(url: str, *, writer: bool) -> sa.Engine:
    engine = sa.create_engine(
        url,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
        poolclass=sa.pool.StaticPool,  # one connection, used only from the event loop's thread
        # Setting a connection up may wait (once per process: another process may be recovering the
        # WAL, starting at the same time); its busy timeout is set for the rest of its life below.
        connect_args={"check_same_thread": False, "timeout": SQLITE_LOCK_WAIT_S},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={0 if writer else SQLITE_READ_BUSY_MS}")
        cursor.close()

    if writer:

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _end_failed(transaction: sa.RootTransaction, conn: Connection) -> None:
    """Roll back a failed transaction (its work or its COMMIT failed, e.g. on a full disk).

    The writer connection lives as long as the process: if it cannot be
    brought back to no transaction at all, it is dropped, so the next write
    opens a new one instead of finding this one stuck in a transaction.
    """
    try:
        transaction.rollback()  # also detaches a transaction whose COMMIT failed
        # A failed COMMIT leaves SQLite's own transaction open while SQLAlchemy considers it over.
        raw = conn.connection.dbapi_connection
        if raw is not None and raw.in_transaction:
            raw.execute("ROLLBACK")
    except Exception:  # noqa: BLE001 - the connection is unusable: replaced below
        conn.invalidate()
        return
    if conn.in_transaction():
        conn.invalidate()


def _is_locked(error: exc.OperationalError) -> bool:
    text = str(error.orig).lower()
    return "locked" in text or "busy" in text


class Database:
    """Owns the engines; hands out write transactions and read connections."""

    def __init__(self, url: str, *, pool_size: int = 5) -> None:
        self.pool_size = pool_size
        self.url = DatabaseUrl.parse(url)
        self.backend = self.url.backend
        self._sqlite_writer: sa.Engine | None = None
        self._sqlite_reader: sa.Engine | None = None
        self._write_conn: Connection | None = None
        self._read_conn: Connection | None = None
        self._writer: GroupCommitWriter | None = None
        self._pg: AsyncEngine | None = None
        self._pg_reads: PreparedReads | None = None
        if self.backend == "sqlite":
            self._sqlite_writer = _sqlite_engine(self.url.sqlalchemy_url, writer=True)
            self._sqlite_reader = _sqlite_engine(self.url.sqlalchemy_url, writer=False)
        else:
            self._pg = create_async_engine(
                self.url.sqlalchemy_url,
                json_serializer=_json_dumps,
                json_deserializer=orjson.loads,
                pool_size=pool_size - readers(pool_size),
                max_overflow=0,
                pool_timeout=POOL_TIMEOUT_S,
            )
            self._pg_reader = self._pg.execution_options(isolation_level="AUTOCOMMIT")
            self._pg_reads = PreparedReads(self.url.asyncpg_dsn, self._pg.dialect, readers(pool_size))

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[SqlConnection]:
        """A write transaction: committed on success, rolled back on error."""
        if self._pg is not None:
            with translate_errors():
                async with self._pg.begin() as conn:
                    yield AsyncConnection(conn)
            return
        if self._writer is None:
            self._writer = GroupCommitWriter(self._sqlite_write_connection, self._sqlite_begin, _end_failed)
        with translate_errors():
            async with self._writer.unit() as sync_conn:
                yield _SyncConnection(sync_conn)

    def _sqlite_write_connection(self) -> Connection:
        if self._write_conn is None or self._write_conn.closed or self._write_conn.invalidated:
            assert self._sqlite_writer is not None
            self._write_conn = self._sqlite_writer.connect()
        return self._write_conn

    async def _sqlite_begin(self, conn: Connection) -> sa.RootTransaction:
        deadline = time.monotonic() + SQLITE_LOCK_WAIT_S
        delay = 0.001
        while True:
            try:
                return conn.begin()
            except exc.OperationalError as error:
                if not _is_locked(error) or time.monotonic() > deadline:
                    raise
                # Another process is writing: yield the loop, then try again.
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.05)

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncIterator[SqlConnection]:
        """A read connection in autocommit mode."""
        if self._pg is not None:
            with translate_errors():
                assert self._pg_reads is not None
                conn = ReadConnection(self._pg_reader, self._pg_reads)
                try:
                    yield conn
                finally:
                    await conn.close()
            return
        with translate_errors():
            if self._read_conn is None or self._read_conn.closed or self._read_conn.invalidated:
                assert self._sqlite_reader is not None
                self._read_conn = self._sqlite_reader.connect().execution_options(isolation_level="AUTOCOMMIT")
            yield _SyncConnection(self._read_conn)

    def prepared_reads(self) -> PreparedReads | None:
        """PostgreSQL's pool of prepared reads (for instrumentation, as ``engines``); None on SQLite."""
        return self._pg_reads

    def engines(self) -> list[sa.Engine]:
        """The SQLAlchemy engines behind this database, for instrumentation (statement counts, tracing)."""
        if self._pg is not None:
            return [self._pg.sync_engine]
        return [e for e in (self._sqlite_writer, self._sqlite_reader) if e is not None]

    async def dispose(self) -> None:
        if self._pg is not None:
            await self._pg.dispose()
            if self._pg_reads is not None:
                await self._pg_reads.close()
            return
        if self._writer is not None:
            self._writer.flush()
        for conn in (self._write_conn, self._read_conn):
            if conn is not None and not conn.closed:
                conn.close()
        for engine in (self._sqlite_writer, self._sqlite_reader):
            if engine is not None:
                engine.dispose()


DISK_FULL = "The database is out of disk space: writes are refused until space is freed; reads still work"


def _out_of_space(error: BaseException) -> bool:
    """SQLite's SQLITE_FULL, PostgreSQL's disk_full (53100), or the system's ENOSPC."""
    cause = getattr(error, "orig", None) or error
    if getattr(cause, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
        return True
    if getattr(cause, "sqlstate", None) == "53100":
        return True
    return isinstance(cause, OSError) and cause.errno == errno.ENOSPC


@contextlib.contextmanager
def translate_errors() -> Iterator[None]:
    """Wrap driver errors that escape the repositories into StoreUnavailable."""
    try:
        yield
    except OrchestrionError:
        raise
    except (exc.OperationalError, exc.InterfaceError, OSError, ConnectionError) as error:
        if _out_of_space(error):
            raise StoreUnavailable(DISK_FULL) from error
        raise StoreUnavailable(f"database unavailable: {type(error).__name__}") from error
    except exc.TimeoutError as error:  # every pooled connection stayed busy for POOL_TIMEOUT_S
        raise StoreUnavailable("database busy: no free connection") from error
    except exc.DBAPIError as error:
        raise StoreUnavailable(f"database error: {type(error).__name__}") from error
