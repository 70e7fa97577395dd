"""Alembic environment: the same migrations for SQLite (sync driver) and PostgreSQL (asyncpg).

Every command migrates at start, so processes started together migrate
together. Each migration run holds a database-wide lock for its whole
transaction, taken before Alembic reads the current version: a PostgreSQL
advisory transaction lock, or SQLite's write lock (``BEGIN IMMEDIATE``, waiting
up to ``SQLITE_MIGRATION_WAIT_S``). One process migrates; the others wait, then
find the schema at head and do nothing. On SQLite the migration also switches the
file to WAL, which needs the file to itself: done here, where waiting is allowed.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import sqlalchemy as sa
from alembic import context
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from orchestrion.store.tables import metadata

config = context.config

# The pg_advisory_xact_lock key: a bigint no other application is likely to pick.
MIGRATION_LOCK_KEY = int.from_bytes(hashlib.sha256(b"orchestrion:migrations").digest()[:8], "big", signed=True)
SQLITE_MIGRATION_WAIT_S = 120.0


def _run(connection: Connection) -> None:
    # Our own transaction, begun before Alembic reads the version: Alembic then runs every
    # migration inside it. Left to itself, Alembic gives SQLite (no "transactional DDL" in its
    # book) one transaction per migration and reads the version outside any, so a process
    # could read "0001" between another's two migrations and run 0002 again.
    with connection.begin():
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        context.run_migrations()


def _sqlite_engine(url: str) -> sa.Engine:
    engine = sa.create_engine(url, connect_args={"timeout": SQLITE_MIGRATION_WAIT_S})

    @event.listens_for(engine, "connect")
    def _no_implicit_transactions(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        # WAL is kept in the file: set it here, waiting for the lock like the migration does, so
        # the servers' own connections (which never wait to write) find it done.
        dbapi_connection.execute("PRAGMA journal_mode=WAL")

    @event.listens_for(engine, "begin")
    def _take_the_write_lock(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


async def _run_async(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


def _main() -> None:
    url = config.get_main_option("sqlalchemy.url") or ""
    if url.startswith("sqlite"):
        engine = _sqlite_engine(url)
        with engine.connect() as connection:
            _run(connection)
        engine.dispose()
    else:
        asyncio.run(_run_async(url))


_main()
