"""Queries of inbound ingestion: configurations with capture rules, duplicates."""

from __future__ import annotations

import sqlalchemy as sa

from orchestrion.domain.models import Configuration
from orchestrion.store.configurations import _configuration
from orchestrion.store.database import SqlConnection
from orchestrion.store.prepared import Prepared
from orchestrion.store.tables import communications, configurations

_CONFIGURATIONS = Prepared(
    sa.select(configurations)
    .where(configurations.c.account_sid == sa.bindparam("b_account"))
    .order_by(configurations.c.id)
)
_BY_CHANNEL_ID = Prepared(
    sa.select(communications.c.conversation_id, communications.c.id)
    .where(
        communications.c.account_sid == sa.bindparam("b_account"),
        communications.c.channel_id == sa.bindparam("b_channel_id"),
    )
    .limit(1)
)


class IngestionRepo:
    def __init__(self, conn: SqlConnection) -> None:
        self._conn = conn

    async def configurations(self, account_sid: str) -> list[Configuration]:
        rows = (await self._conn.run(_CONFIGURATIONS, {"b_account": account_sid})).rows
        return [_configuration(row) for row in rows]

    async def communication_with_channel_id(self, account_sid: str, channel_id: str) -> tuple[str, str] | None:
        """``(conversation id, communication id)`` of the account's communication with this downstream id."""
        row = (await self._conn.run(_BY_CHANNEL_ID, {"b_account": account_sid, "b_channel_id": channel_id})).first()
        return None if row is None else (row["conversation_id"], row["id"])
