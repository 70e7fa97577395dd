"""Change signatures: one cheap read that changes whenever what a console page shows changes.

A page polls its signature and is rendered again only when it differs. Each
part is a row count with the sum of the rows' ``updated_ms`` (of their ids
for the append-only history): a new row changes the count, a changed row moves
its ``updated_ms`` forward and so the sum, whatever order transactions commit
in. Only a row changed twice within one millisecond keeps the sum; the
console renders once more after every change to cover that (api.console.live).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from orchestrion.store.database import SqlConnection
from orchestrion.store.tables import (
    actions,
    communications,
    conversation_history,
    conversations,
    sandbox_messages,
    webhook_deliveries,
)


def _count_and_sum(table: sa.Table, column: sa.ColumnElement[Any], *where: Any) -> list[Any]:
    return [
        sa.select(sa.func.count()).select_from(table).where(*where).scalar_subquery(),
        sa.select(sa.func.coalesce(sa.func.sum(column), 0)).where(*where).scalar_subquery(),
    ]


_CONVERSATION = sa.select(
    conversations.c.status,
    conversations.c.updated_ms,
    *_count_and_sum(
        communications, communications.c.updated_ms, communications.c.conversation_id == conversations.c.id
    ),
    *_count_and_sum(actions, actions.c.updated_ms, actions.c.conversation_id == conversations.c.id),
    *_count_and_sum(
        webhook_deliveries,
        webhook_deliveries.c.updated_ms,
        webhook_deliveries.c.account_sid == conversations.c.account_sid,
        webhook_deliveries.c.conversation_id == conversations.c.id,
    ),
    *_count_and_sum(
        conversation_history, conversation_history.c.id, conversation_history.c.conversation_id == conversations.c.id
    ),
).where(conversations.c.account_sid == sa.bindparam("b_account"), conversations.c.id == sa.bindparam("b_id"))

_SANDBOX = sa.select(
    *_count_and_sum(
        sandbox_messages, sandbox_messages.c.updated_ms, sandbox_messages.c.account_sid == sa.bindparam("b_account")
    )
)


def _text(row: Any) -> str:
    return "/".join(str(value) for value in row)


class SignatureRepo:
    def __init__(self, conn: SqlConnection) -> None:
        self._conn = conn

    async def conversation(self, account_sid: str, conversation_id: str) -> str | None:
        """The conversation, its communications, actions, status callbacks and history; None if not found."""
        row = (await self._conn.execute(_CONVERSATION, {"b_account": account_sid, "b_id": conversation_id})).first()
        return None if row is None else _text(row)

    async def sandbox(self, account_sid: str) -> str:
        """The account's sandbox messages."""
        row = (await self._conn.execute(_SANDBOX, {"b_account": account_sid})).one()
        return _text(row)
