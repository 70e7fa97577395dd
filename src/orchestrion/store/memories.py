"""What is remembered of a profile: observations and conversation summaries, one table told apart by ``kind``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from orchestrion.domain.memory import Memory, MemoryKind
from orchestrion.store.database import SqlConnection
from orchestrion.store.paging import Page, PageRequest, fetch_page
from orchestrion.store.sqlfuncs import insert_into
from orchestrion.store.tables import profile_memories


def _memory(row: Any) -> Memory:
    return Memory(
        id=row.id,
        profile_id=row.profile_id,
        kind=MemoryKind(row.kind),
        content=row.content,
        source=row.source,
        conversation_ids=tuple(row.conversation_ids),
        occurred_ms=row.occurred_ms,
        created_ms=row.created_ms,
        updated_ms=row.updated_ms,
    )


def _values(m: Memory) -> dict[str, Any]:
    return dict(
        content=m.content,
        source=m.source,
        conversation_ids=list(m.conversation_ids),
        occurred_ms=m.occurred_ms,
        updated_ms=m.updated_ms,
    )


@dataclass(frozen=True, slots=True)
class MemoryFilter:
    source: str | None = None
    conversation_id: str | None = None
    created_from_ms: int | None = None  # inclusive
    created_until_ms: int | None = None  # exclusive
    occurred_from_ms: int | None = None  # inclusive
    occurred_until_ms: int | None = None  # exclusive


def _mentions(conversation_id: str) -> sa.ColumnElement[bool]:
    # The JSON list as text holds the id in quotes on both backends; ids have no wildcard but "_".
    pattern = '%"' + conversation_id.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%") + '"%'
    return sa.cast(profile_memories.c.conversation_ids, sa.Text).like(pattern, escape="\\")


def _where(profile_id: str, kinds: Sequence[MemoryKind], f: MemoryFilter) -> list[sa.ColumnElement[bool]]:
    c = profile_memories.c
    out = [c.profile_id == profile_id, c.kind.in_([str(k) for k in kinds])]
    if f.source is not None:
        out.append(c.source == f.source)
    if f.conversation_id is not None:
        out.append(_mentions(f.conversation_id))
    for column, low, high in (
        (c.created_ms, f.created_from_ms, f.created_until_ms),
        (c.occurred_ms, f.occurred_from_ms, f.occurred_until_ms),
    ):
        if low is not None:
            out.append(column >= low)
        if high is not None:
            out.append(column < high)
    return out


class MemoryRepo:
    def __init__(self, conn: SqlConnection) -> None:
        self._conn = conn

    async def insert(self, m: Memory) -> None:
        await self._conn.execute(
            insert_into(profile_memories),
            dict(id=m.id, profile_id=m.profile_id, kind=str(m.kind), created_ms=m.created_ms, **_values(m)),
        )

    async def get(self, profile_id: str, kind: MemoryKind, memory_id: str) -> Memory | None:
        row = (
            await self._conn.execute(
                sa.select(profile_memories).where(
                    *_where(profile_id, [kind], MemoryFilter()), profile_memories.c.id == memory_id
                )
            )
        ).first()
        return None if row is None else _memory(row)

    async def update(self, m: Memory) -> None:
        await self._conn.execute(profile_memories.update().where(profile_memories.c.id == m.id).values(**_values(m)))

    async def delete(self, memory_id: str) -> None:
        await self._conn.execute(profile_memories.delete().where(profile_memories.c.id == memory_id))

    async def newest(self, profile_id: str, kind: MemoryKind, f: MemoryFilter, limit: int) -> list[Memory]:
        """The ``limit`` newest memories of a kind (by id: creation order), for Recall to rank."""
        rows = await self._conn.execute(
            sa.select(profile_memories)
            .where(*_where(profile_id, [kind], f))
            .order_by(profile_memories.c.id.desc())
            .limit(limit)
        )
        return [_memory(r) for r in rows]

    async def list(self, profile_id: str, kind: MemoryKind, page: PageRequest, f: MemoryFilter) -> Page[Memory]:
        query = sa.select(profile_memories).where(*_where(profile_id, [kind], f))
        return await fetch_page(self._conn, query, profile_memories.c.id, page, _memory)
