"""Lifecycle timers (one pending status-timeout per conversation) and the shared test-clock offset."""

from __future__ import annotations

import sqlalchemy as sa

from orchestrion.store.database import SqlConnection
from orchestrion.store.tables import conversation_timers, conversations, jobs, test_clock

_CLOCK_ROW = 1


class LifecycleRepo:
    def __init__(self, conn: SqlConnection) -> None:
        self._conn = conn

    async def timer_due(self, conversation_id: str) -> int | None:
        """When the conversation's pending timer is due, or None when it has none."""
        value = (
            await self._conn.execute(
                sa.select(conversation_timers.c.due_ms).where(conversation_timers.c.conversation_id == conversation_id)
            )
        ).scalar()
        return None if value is None else int(value)

    async def set_timer(self, conversation_id: str, due_ms: int) -> None:
        updated = await self._conn.execute(
            conversation_timers.update()
            .where(conversation_timers.c.conversation_id == conversation_id)
            .values(due_ms=due_ms)
        )
        if not updated.rowcount:
            await self._conn.execute(
                conversation_timers.insert().values(conversation_id=conversation_id, due_ms=due_ms)
            )

    async def clear_timer(self, conversation_id: str) -> None:
        await self._conn.execute(
            conversation_timers.delete().where(conversation_timers.c.conversation_id == conversation_id)
        )

    async def last_activity_ms(self, conversation_id: str) -> int | None:
        value = (
            await self._conn.execute(
                sa.select(conversations.c.last_activity_ms).where(conversations.c.id == conversation_id)
            )
        ).scalar()
        return None if value is None else int(value)

    async def due_jobs(self, kind: str, now_ms: int) -> int:
        """How many jobs of ``kind`` are due by ``now_ms`` and not yet done."""
        query = sa.select(sa.func.count()).select_from(jobs).where(jobs.c.kind == kind, jobs.c.run_at_ms <= now_ms)
        return int((await self._conn.execute(query)).scalar_one())


class ClockRepo:
    """The test clock's offset: one row, created on first advance."""

    def __init__(self, conn: SqlConnection) -> None:
        self._conn = conn

    async def offset_ms(self) -> int:
        value = (
            await self._conn.execute(sa.select(test_clock.c.offset_ms).where(test_clock.c.id == _CLOCK_ROW))
        ).scalar()
        return 0 if value is None else int(value)

    async def advance(self, delta_ms: int) -> int:
        """Add ``delta_ms`` to the offset (atomically, in the caller's transaction); the new offset."""
        updated = await self._conn.execute(
            test_clock.update()
            .where(test_clock.c.id == _CLOCK_ROW)
            .values(offset_ms=test_clock.c.offset_ms + delta_ms)
            .returning(test_clock.c.offset_ms)
        )
        value = updated.scalar()
        if value is not None:
            return int(value)
        await self._conn.execute(test_clock.insert().values(id=_CLOCK_ROW, offset_ms=delta_ms))
        return delta_ms
