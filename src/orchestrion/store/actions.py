"""Actions."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from orchestrion.domain.models import Action, ActionStatus
from orchestrion.store.tables import actions

_COLUMNS = (
    actions.c.id,
    actions.c.conversation_id,
    actions.c.account_sid,
    actions.c.type,
    actions.c.status,
    actions.c.related,
    actions.c.request,
    actions.c.failure_reason,
    actions.c.created_ms,
    actions.c.updated_ms,
    actions.c.completed_ms,
)


def _action(row: Any) -> Action:
    return Action(
        id=row.id,
        conversation_id=row.conversation_id,
        account_sid=row.account_sid,
        type=row.type,
        status=ActionStatus(row.status),
        related=row.related,
        request=row.request,
        failure_reason=row.failure_reason,
        created_ms=row.created_ms,
        updated_ms=row.updated_ms,
        completed_ms=row.completed_ms,
    )


class ActionRepo:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get(self, account_sid: str, conversation_id: str, action_id: str) -> Action | None:
        row = (
            await self._conn.execute(
                sa.select(*_COLUMNS).where(
                    actions.c.id == action_id,
                    actions.c.conversation_id == conversation_id,
                    actions.c.account_sid == account_sid,
                )
            )
        ).first()
        return None if row is None else _action(row)

    async def get_by_id(self, action_id: str, *, for_update: bool = False) -> Action | None:
        query = sa.select(*_COLUMNS).where(actions.c.id == action_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._conn.execute(query)).first()
        return None if row is None else _action(row)

    async def get_by_message_sid(self, message_sid: str, *, for_update: bool = False) -> Action | None:
        query = sa.select(*_COLUMNS).where(actions.c.message_sid == message_sid)
        if for_update:
            query = query.with_for_update()
        row = (await self._conn.execute(query)).first()
        return None if row is None else _action(row)

    async def insert(self, a: Action) -> None:
        await self._conn.execute(
            actions.insert().values(
                id=a.id,
                conversation_id=a.conversation_id,
                account_sid=a.account_sid,
                type=a.type,
                status=str(a.status),
                related=a.related,
                request=a.request,
                failure_reason=a.failure_reason,
                message_sid=a.related.get("messageSid"),
                created_ms=a.created_ms,
                updated_ms=a.updated_ms,
                completed_ms=a.completed_ms,
            )
        )

    async def update(self, a: Action) -> bool:
        """Write ``a`` unless the stored action is already terminal (terminal is final)."""
        result = await self._conn.execute(
            actions.update()
            .where(actions.c.id == a.id, actions.c.status == str(ActionStatus.PENDING))
            .values(
                status=str(a.status),
                related=a.related,
                failure_reason=a.failure_reason,
                message_sid=a.related.get("messageSid"),
                updated_ms=a.updated_ms,
                completed_ms=a.completed_ms,
            )
        )
        return bool(result.rowcount)
