"""Change signatures: one cheap read that changes whenever what a console page shows changes.

A live page polls its signature and is drawn again only when it differs
(``api.console.live``). Each part is, over the rows the page shows, their
count, the sum of their ``updated_ms`` and its maximum: a new or deleted row
changes the count, a changed row moves its ``updated_ms`` forward and so the
sum, whatever order transactions commit in. One change can hide: a row
changed twice within one millisecond, the page read in between. So the read
also gives the time of the newest change, and a page keeps being drawn for a
moment after it (``services.changes.SETTLE_MS``).
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


def _aggregates(table: sa.Table, column: sa.ColumnElement[Any], *where: Any) -> list[Any]:
    """count, sum and max of ``column`` over the rows of ``table`` matching ``where``."""
    return [
        sa.select(function).select_from(table).where(*where).scalar_subquery()
        for function in (
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(column), 0),
            sa.func.coalesce(sa.func.max(column), 0),
        )
    ]


_CONVERSATION = sa.select(
    conversations.c.status,
    conversations.c.updated_ms,
    *_aggregates(communications, communications.c.updated_ms, communications.c.conversation_id == conversations.c.id),
    *_aggregates(actions, actions.c.updated_ms, actions.c.conversation_id == conversations.c.id),
    *_aggregates(
        webhook_deliveries,
        webhook_deliveries.c.updated_ms,
        webhook_deliveries.c.account_sid == conversations.c.account_sid,
        webhook_deliveries.c.conversation_id == conversations.c.id,
    ),
    *_aggregates(
        conversation_history, conversation_history.c.at_ms, conversation_history.c.conversation_id == conversations.c.id
    ),
).where(conversations.c.account_sid == sa.bindparam("b_account"), conversations.c.id == sa.bindparam("b_id"))

_SANDBOX = sa.select(
    *_aggregates(
        sandbox_messages, sandbox_messages.c.updated_ms, sandbox_messages.c.account_sid == sa.bindparam("b_account")
    )
)


def _signature(row: Any, maxima: list[int]) -> tuple[str, int]:
    return "/".join(str(value) for value in row), max(int(row[i]) for i in maxima)


class SignatureRepo:
    def __init__(self, conn: SqlConnection) -> None:
        self._conn = conn

    async def conversation(self, account_sid: str, conversation_id: str) -> tuple[str, int] | None:
        """The conversation, its communications, actions, status callbacks and history, and the newest change's time.

        None if the account has no such conversation.
        """
        row = (await self._conn.execute(_CONVERSATION, {"b_account": account_sid, "b_id": conversation_id})).first()
        # Columns: status, updated_ms, then (count, sum, max) for each of the four tables.
        return None if row is None else _signature(row, [1, 4, 7, 10, 13])

    async def sandbox(self, account_sid: str) -> tuple[str, int]:
        """The account's sandbox messages, and the newest change's time."""
        row = (await self._conn.execute(_SANDBOX, {"b_account": account_sid})).one()
        return _signature(row, [2])
