"""Engines and transactions for SQLite and PostgreSQL.

SQLite: one file in WAL mode; a writer engine whose transactions start with
``BEGIN IMMEDIATE`` (so concurrent writers queue on the busy timeout instead
of failing on lock upgrade) and a pool of one, and a reader engine in
autocommit mode (single-statement reads need no BEGIN/COMMIT round trips).
PostgreSQL: asyncpg, one engine for writes, an autocommit one for reads.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from orchestrion.domain.errors import OrchestrionError, StoreUnavailable

SQLITE_BUSY_TIMEOUT_MS = 10_000


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


@dataclass(frozen=True, slots=True)
class DatabaseUrl:
    """A database URL normalised to the async driver SQLAlchemy needs."""

    async_url: str
    sync_url: str  # for Alembic
    backend: str  # "sqlite" | "postgresql"

    @classmethod
    def parse(cls, url: str) -> DatabaseUrl:
        parsed = sa.engine.make_url(url)
        backend = parsed.get_backend_name()
        if backend == "sqlite":
            return cls(
                str(parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)),
                str(parsed.set(drivername="sqlite").render_as_string(hide_password=False)),
                "sqlite",
            )
        if backend in ("postgresql", "postgres"):
            return cls(
                parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False),
                parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False),
                "postgresql",
            )
        raise ValueError(f"Unsupported database URL scheme {parsed.drivername!r}: use sqlite:/// or postgresql://")


def _sqlite_engine(url: str, *, writer: bool) -> AsyncEngine:
    engine = create_async_engine(
        url,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
        pool_size=1 if writer else 8,
        max_overflow=0,
        pool_timeout=60,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        **({} if writer else {"isolation_level": "AUTOCOMMIT"}),
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    if writer:

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class Database:
    """Owns the engines; hands out write transactions and read connections."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = DatabaseUrl.parse(url)
        self.backend = self.url.backend
        if self.backend == "sqlite":
            self._writer = _sqlite_engine(self.url.async_url, writer=True)
            self._reader = _sqlite_engine(self.url.async_url, writer=False)
        else:
            self._writer = create_async_engine(
                self.url.async_url,
                json_serializer=_json_dumps,
                json_deserializer=orjson.loads,
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_pre_ping=False,
            )
            self._reader = self._writer.execution_options(isolation_level="AUTOCOMMIT")

    @property
    def engine(self) -> AsyncEngine:
        return self._writer

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction: committed on success, rolled back on error."""
        with translate_errors():
            async with self._writer.begin() as conn:
                yield conn

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        """A read connection in autocommit mode."""
        with translate_errors():
            async with self._reader.connect() as conn:
                yield conn

    async def dispose(self) -> None:
        await self._writer.dispose()
        if self._reader is not self._writer:
            await self._reader.dispose()


@contextlib.contextmanager
def translate_errors() -> Any:
    """Wrap driver errors that escape the repositories into StoreUnavailable."""
    try:
        yield
    except OrchestrionError:
        raise
    except (exc.OperationalError, exc.InterfaceError, OSError, ConnectionError) as error:
        raise StoreUnavailable(f"database unavailable: {type(error).__name__}") from error
    except exc.DBAPIError as error:
        raise StoreUnavailable(f"database error: {type(error).__name__}") from error
