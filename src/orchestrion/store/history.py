"""Conversation history entries (see ``domain.history``): appended, never changed."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from orchestrion.domain.history import HistoryEntry
from orchestrion.domain.models import Json
from orchestrion.domain.webhooks import EventType
from orchestrion.store.database import SqlConnection
from orchestrion.store.prepared import Prepared
from orchestrion.store.tables import conversation_history

_APPEND = Prepared(conversation_history.insert())  # every new participant and Communication appends one


def _entry(row: Any) -> HistoryEntry:
    return HistoryEntry(
        id=row.id,
        conversation_id=row.conversation_id,
        kind=EventType(row.kind),
        at_ms=row.at_ms,
        data=row.data,
    )


class HistoryRepo:
    def __init__(self, conn: SqlConnection) -> None:
        self._conn = conn

    async def append(self, account_sid: str, conversation_id: str, kind: EventType, at_ms: int, data: Json) -> None:
        await self._conn.run(
            _APPEND,
            {
                "conversation_id": conversation_id,
                "account_sid": account_sid,
                "kind": str(kind),
                "at_ms": at_ms,
                "data": data,
            },
        )

    async def recent(self, conversation_id: str, limit: int) -> tuple[list[HistoryEntry], bool]:
        """The newest ``limit`` entries, oldest first, and whether older ones exist."""
        rows = list(
            await self._conn.execute(
                sa.select(conversation_history)
                .where(conversation_history.c.conversation_id == conversation_id)
                .order_by(conversation_history.c.id.desc())
                .limit(limit + 1)
            )
        )
        return [_entry(r) for r in reversed(rows[:limit])], len(rows) > limit
