"""Communications."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from orchestrion.domain.channels import Channel
from orchestrion.domain.errors import Conflict
from orchestrion.domain.models import Communication, Endpoint
from orchestrion.store.database import SqlConnection
from orchestrion.store.paging import Page, PageRequest, fetch_page
from orchestrion.store.sqlfuncs import prepared_insert_or_skip
from orchestrion.store.tables import communications


def _endpoint_json(e: Endpoint) -> dict[str, str]:
    out = {"address": e.address, "channel": str(e.channel)}
    if e.participant_id is not None:
        out["participantId"] = e.participant_id
    if e.delivery_status is not None:
        out["deliveryStatus"] = e.delivery_status
    return out


def _endpoint(data: dict[str, str]) -> Endpoint:
    return Endpoint(
        address=data["address"],
        channel=Channel(data["channel"]),
        participant_id=data.get("participantId"),
        delivery_status=data.get("deliveryStatus"),
    )


def _communication(row: Any) -> Communication:
    return Communication(
        id=row.id,
        conversation_id=row.conversation_id,
        account_sid=row.account_sid,
        author=_endpoint(row.author),
        content=row.content,
        channel_id=row.channel_id,
        resource_id=row.resource_id,
        recipients=tuple(_endpoint(r) for r in row.recipients),
        occurred_ms=row.occurred_ms,
        created_ms=row.created_ms,
        updated_ms=row.updated_ms,
    )


_BY_ID = sa.select(communications).where(
    communications.c.conversation_id == sa.bindparam("b_conv"), communications.c.id == sa.bindparam("b_id")
)
_BY_RESOURCE_ID = sa.select(communications).where(
    communications.c.conversation_id == sa.bindparam("b_conv"),
    communications.c.resource_id == sa.bindparam("b_resource"),
)
_SET_RECIPIENTS = (
    communications.update()
    .where(communications.c.id == sa.bindparam("b_id"))
    .values(
        recipients=sa.bindparam("v_recipients", type_=communications.c.recipients.type),
        updated_ms=sa.bindparam("v_updated"),
    )
)


class CommunicationRepo:
    def __init__(self, conn: SqlConnection) -> None:
        self._conn = conn

    async def get(self, conversation_id: str, communication_id: str) -> Communication | None:
        row = (await self._conn.execute(_BY_ID, {"b_conv": conversation_id, "b_id": communication_id})).first()
        return None if row is None else _communication(row)

    async def get_by_resource_id(self, conversation_id: str, resource_id: str) -> Communication | None:
        row = (
            await self._conn.execute(_BY_RESOURCE_ID, {"b_conv": conversation_id, "b_resource": resource_id})
        ).first()
        return None if row is None else _communication(row)

    async def insert(self, c: Communication) -> Communication:
        """Insert ``c``; if its resourceId is already recorded, return that one instead."""
        result = await self._conn.run(
            prepared_insert_or_skip(self._conn.dialect.name, communications),
            dict(
                id=c.id,
                conversation_id=c.conversation_id,
                account_sid=c.account_sid,
                author=_endpoint_json(c.author),
                content=c.content,
                channel_id=c.channel_id,
                resource_id=c.resource_id,
                recipients=[_endpoint_json(r) for r in c.recipients],
                occurred_ms=c.occurred_ms,
                created_ms=c.created_ms,
                updated_ms=c.updated_ms,
            ),
        )
        if result.rowcount:
            return c
        existing = None if c.resource_id is None else await self.get_by_resource_id(c.conversation_id, c.resource_id)
        if existing is None:  # the id itself was taken (never in practice: ids are random)
            raise Conflict(f"communication {c.id}: id already taken")
        return existing

    async def set_recipients(self, communication_id: str, recipients: tuple[Endpoint, ...], updated_ms: int) -> None:
        await self._conn.execute(
            _SET_RECIPIENTS,
            {
                "b_id": communication_id,
                "v_recipients": [_endpoint_json(r) for r in recipients],
                "v_updated": updated_ms,
            },
        )

    async def list(
        self, conversation_id: str, page: PageRequest, *, channel_id: str | None = None
    ) -> Page[Communication]:
        query = sa.select(communications).where(communications.c.conversation_id == conversation_id)
        if channel_id is not None:
            query = query.where(communications.c.channel_id == channel_id)
        return await fetch_page(self._conn, query, communications.c.id, page, _communication)
