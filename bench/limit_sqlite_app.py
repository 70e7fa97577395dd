"""The SQLite limit: the bare app plus one durable INSERT per POST and one primary-key SELECT per GET.

stdlib ``sqlite3`` on the event loop's thread, WAL, ``synchronous=NORMAL``
(Orchestrion's own settings): a POST is answered 202 after the COMMIT that
holds its row, a GET 200 with the row it read (404 without one). Nothing
else: no parsing of the body, no validation, no auth.

``LIMIT_SQLITE_PATH``: the database file. ``LIMIT_GROUP_COMMIT=1``: group
commit; the POSTs that arrive while the loop is busy are inserted together
and committed once, each answered after that COMMIT.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3

from bare_asgi import Row, Waiting, row_app, settle

_CREATE = (
    "CREATE TABLE IF NOT EXISTS limit_actions "
    "(id TEXT PRIMARY KEY, conversation_id TEXT NOT NULL, body BLOB NOT NULL, created_ms INTEGER NOT NULL)"
)
_INSERT = "INSERT INTO limit_actions (id, conversation_id, body, created_ms) VALUES (?, ?, ?, ?)"
_SELECT = "SELECT id, conversation_id FROM limit_actions WHERE id = ?"


class Store:
    def __init__(self, path: str, group_commit: bool) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_CREATE)
        self._group_commit = group_commit
        self._pending: Waiting = []

    async def insert(self, row: Row) -> None:
        if not self._group_commit:
            self._db.execute(_INSERT, row)  # autocommit: one transaction, one COMMIT
            return
        future = asyncio.get_running_loop().create_future()
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._flush)
        self._pending.append((row, future))
        await future

    def _flush(self) -> None:
        """Every row queued since the last flush, in one transaction; then answer their requests."""
        batch, self._pending = self._pending, []
        try:
            self._db.execute("BEGIN")
            self._db.executemany(_INSERT, [row for row, _ in batch])
            self._db.execute("COMMIT")
        except sqlite3.Error as error:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            settle(batch, error)
            return
        settle(batch, None)

    async def get(self, action_id: str) -> tuple[str, str] | None:
        row = self._db.execute(_SELECT, (action_id,)).fetchone()
        return None if row is None else (row[0], row[1])


store = Store(os.environ.get("LIMIT_SQLITE_PATH", "limit.db"), os.environ.get("LIMIT_GROUP_COMMIT") == "1")


app = row_app(store)
