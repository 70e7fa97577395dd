"""Queries of inbound ingestion: configurations with capture rules, a message's group, duplicates."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa

from orchestrion.domain.channels import Channel
from orchestrion.domain.models import Configuration
from orchestrion.store.configurations import _configuration
from orchestrion.store.database import SqlConnection
from orchestrion.store.tables import communications, configurations, conversations, participant_addresses


def _pairs(forms: Sequence[tuple[Channel, str]]) -> sa.ColumnElement[bool]:
    return sa.or_(
        *(sa.and_(participant_addresses.c.channel == str(c), participant_addresses.c.address == a) for c, a in forms)
    )


class IngestionRepo:
    def __init__(self, conn: SqlConnection, backend: str) -> None:
        self._conn = conn
        self._backend = backend

    async def configurations(self, account_sid: str) -> list[Configuration]:
        rows = await self._conn.execute(
            sa.select(configurations).where(configurations.c.account_sid == account_sid).order_by(configurations.c.id)
        )
        return [_configuration(row) for row in rows]

    async def lock_group(self, key: str) -> None:
        """Serialize the ingestion of one group until the transaction ends (PostgreSQL; SQLite has one writer)."""
        if self._backend != "postgresql":
            return
        number = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
        await self._conn.execute(sa.select(sa.func.pg_advisory_xact_lock(number)))

    async def open_conversation(
        self,
        account_sid: str,
        configuration_id: str,
        customer: Sequence[tuple[Channel, str]],
        agent: Sequence[tuple[Channel, str]],
    ) -> str | None:
        """The newest ACTIVE or INACTIVE conversation of the configuration holding both addresses."""
        holds_customer = sa.select(participant_addresses.c.conversation_id).where(_pairs(customer))
        holds_agent = sa.select(participant_addresses.c.conversation_id).where(_pairs(agent))
        query = (
            sa.select(conversations.c.id)
            .where(
                conversations.c.account_sid == account_sid,
                conversations.c.configuration_id == configuration_id,
                conversations.c.status != "CLOSED",
                conversations.c.id.in_(holds_customer),
                conversations.c.id.in_(holds_agent),
            )
            .order_by(conversations.c.id.desc())
            .limit(1)
        )
        return (await self._conn.execute(query)).scalar()

    async def communication_with_channel_id(self, account_sid: str, channel_id: str) -> tuple[str, str] | None:
        """``(conversation id, communication id)`` of the account's communication with this downstream id."""
        row = (
            await self._conn.execute(
                sa.select(communications.c.conversation_id, communications.c.id)
                .where(communications.c.account_sid == account_sid, communications.c.channel_id == channel_id)
                .limit(1)
            )
        ).first()
        return None if row is None else (row.conversation_id, row.id)
