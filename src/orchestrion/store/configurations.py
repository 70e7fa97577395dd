"""Configurations."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from orchestrion.domain.errors import Conflict
from orchestrion.domain.models import Configuration
from orchestrion.store.database import SqlConnection
from orchestrion.store.paging import Page, PageRequest, fetch_page
from orchestrion.store.tables import configurations, conversations


def _configuration(row: Any) -> Configuration:
    return Configuration(
        id=row.id,
        account_sid=row.account_sid,
        display_name=row.display_name,
        description=row.description,
        grouping_type=row.grouping_type,
        memory_store_id=row.memory_store_id,
        settings=row.settings,
        version=row.version,
        created_ms=row.created_ms,
        updated_ms=row.updated_ms,
    )


class ConfigurationRepo:
    def __init__(self, conn: SqlConnection) -> None:
        self._conn = conn

    async def get(self, account_sid: str, configuration_id: str, *, for_update: bool = False) -> Configuration | None:
        query = sa.select(configurations).where(
            configurations.c.account_sid == account_sid, configurations.c.id == configuration_id
        )
        if for_update:
            query = query.with_for_update()
        row = (await self._conn.execute(query)).first()
        return None if row is None else _configuration(row)

    async def find_by_display_name(self, account_sid: str, display_name: str) -> str | None:
        return (
            await self._conn.execute(
                sa.select(configurations.c.id).where(
                    configurations.c.account_sid == account_sid, configurations.c.display_name == display_name
                )
            )
        ).scalar()

    async def insert(self, configuration: Configuration) -> None:
        await self._write(
            configurations.insert().values(**_values(configuration)), configuration.account_sid, configuration
        )

    async def update(self, configuration: Configuration) -> None:
        values = _values(configuration)
        del values["id"], values["account_sid"], values["created_ms"]
        await self._write(
            configurations.update().where(configurations.c.id == configuration.id).values(**values),
            configuration.account_sid,
            configuration,
        )

    async def _write(self, statement: Any, account_sid: str, configuration: Configuration) -> None:
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(statement)
        except IntegrityError as error:
            other = await self.find_by_display_name(account_sid, configuration.display_name)
            raise Conflict(
                f"A configuration named {configuration.display_name!r} already exists in this account", other
            ) from error

    async def delete(self, account_sid: str, configuration_id: str) -> bool:
        result = await self._conn.execute(
            configurations.delete().where(
                configurations.c.account_sid == account_sid, configurations.c.id == configuration_id
            )
        )
        return bool(result.rowcount)

    async def open_conversation_ids(self, configuration_id: str, limit: int = 1) -> list[str]:
        rows = await self._conn.execute(
            sa.select(conversations.c.id)
            .where(conversations.c.configuration_id == configuration_id, conversations.c.status != "CLOSED")
            .limit(limit)
        )
        return [r.id for r in rows]

    async def list(
        self, account_sid: str, page: PageRequest, *, memory_store_id: str | None = None
    ) -> Page[Configuration]:
        query = sa.select(configurations).where(configurations.c.account_sid == account_sid)
        if memory_store_id is not None:
            query = query.where(configurations.c.memory_store_id == memory_store_id)
        return await fetch_page(self._conn, query, configurations.c.id, page, _configuration)


def _values(c: Configuration) -> dict[str, Any]:
    return {
        "id": c.id,
        "account_sid": c.account_sid,
        "display_name": c.display_name,
        "description": c.description,
        "grouping_type": c.grouping_type,
        "memory_store_id": c.memory_store_id,
        "settings": c.settings,
        "version": c.version,
        "created_ms": c.created_ms,
        "updated_ms": c.updated_ms,
    }
