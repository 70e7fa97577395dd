"""The PostgreSQL limit: the bare app plus an asyncpg pool, one INSERT per POST and one primary-key SELECT per GET.

Statements are prepared (asyncpg's per-connection statement cache); the pool
is opened at start-up, ``LIMIT_PG_POOL`` connections (default 16), without
SSL on loopback. A POST is answered 202 after the COMMIT that holds its row
(``synchronous_commit`` as the server has it), a GET 200 with the row it read.

``LIMIT_PG_DSN``: the database. ``LIMIT_GROUP_COMMIT=1``: group commit; one
writer takes every row queued since its last COMMIT and inserts them in one
transaction, then answers their requests.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import asyncpg
from bare_asgi import Row, Waiting, row_app, settle

_CREATE = (
    "CREATE TABLE IF NOT EXISTS limit_actions "
    "(id TEXT PRIMARY KEY, conversation_id TEXT NOT NULL, body BYTEA NOT NULL, created_ms BIGINT NOT NULL)"
)
_INSERT = "INSERT INTO limit_actions (id, conversation_id, body, created_ms) VALUES ($1, $2, $3, $4)"
_SELECT = "SELECT id, conversation_id FROM limit_actions WHERE id = $1"


class Store:
    def __init__(self) -> None:
        self.pool: Any = None
        self._group_commit = os.environ.get("LIMIT_GROUP_COMMIT") == "1"
        self._pending: Waiting = []
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None

    async def open(self) -> None:
        size = int(os.environ.get("LIMIT_PG_POOL", "16"))
        self.pool = await asyncpg.create_pool(os.environ["LIMIT_PG_DSN"], min_size=size, max_size=size, ssl=False)
        await self.pool.execute(_CREATE)
        if self._group_commit:
            self._writer = asyncio.create_task(self._write_groups())

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
        await self.pool.close()

    async def insert(self, row: Row) -> None:
        if not self._group_commit:
            await self.pool.execute(_INSERT, *row)  # autocommit: one transaction, one COMMIT
            return
        future = asyncio.get_running_loop().create_future()
        self._pending.append((row, future))
        self._wake.set()
        await future

    async def _write_groups(self) -> None:
        async with self.pool.acquire() as conn:
            while True:
                await self._wake.wait()
                self._wake.clear()
                batch, self._pending = self._pending, []
                if not batch:
                    continue
                try:
                    async with conn.transaction():
                        await conn.executemany(_INSERT, [row for row, _ in batch])
                except (asyncpg.PostgresError, OSError) as error:
                    settle(batch, error)
                    continue
                settle(batch, None)

    async def get(self, action_id: str) -> tuple[str, str] | None:
        row = await self.pool.fetchrow(_SELECT, action_id)
        return None if row is None else (row[0], row[1])


store = Store()


app = row_app(store, startup=store.open, shutdown=store.close)
