"""Studio Flow Executions (``domain.studio``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from orchestrion.domain.studio import ACTIVE, Execution
from orchestrion.store.database import SqlConnection
from orchestrion.store.paging import Page, PageRequest, fetch_page
from orchestrion.store.sqlfuncs import insert_into
from orchestrion.store.tables import studio_executions

_c = studio_executions.c


def _execution(row: Any) -> Execution:
    return Execution(
        sid=row.sid,
        account_sid=row.account_sid,
        flow_sid=row.flow_sid,
        contact_address=row.contact_address,
        from_address=row.from_address,
        parameters=row.parameters,
        conversation_id=row.conversation_id,
        created_ms=row.created_ms,
        updated_ms=row.updated_ms,
        ends_ms=row.ends_ms,
    )


@dataclass(frozen=True, slots=True)
class ExecutionFilter:
    flow_sid: str | None = None
    conversation_id: str | None = None
    status: str | None = None  # as of ``now_ms``
    now_ms: int = 0
    created_from_ms: int | None = None  # inclusive
    created_until_ms: int | None = None  # exclusive


def _where(account_sid: str, f: ExecutionFilter) -> list[sa.ColumnElement[bool]]:
    out = [_c.account_sid == account_sid]
    if f.flow_sid is not None:
        out.append(_c.flow_sid == f.flow_sid)
    if f.conversation_id is not None:
        out.append(_c.conversation_id == f.conversation_id)
    if f.status is not None:
        out.append(_c.ends_ms > f.now_ms if f.status == ACTIVE else _c.ends_ms <= f.now_ms)
    if f.created_from_ms is not None:
        out.append(_c.created_ms >= f.created_from_ms)
    if f.created_until_ms is not None:
        out.append(_c.created_ms < f.created_until_ms)
    return out


class StudioRepo:
    def __init__(self, conn: SqlConnection) -> None:
        self._conn = conn

    async def insert(self, e: Execution) -> None:
        await self._conn.execute(
            insert_into(studio_executions),
            dict(
                sid=e.sid,
                account_sid=e.account_sid,
                flow_sid=e.flow_sid,
                contact_address=e.contact_address,
                from_address=e.from_address,
                parameters=e.parameters,
                conversation_id=e.conversation_id,
                created_ms=e.created_ms,
                updated_ms=e.updated_ms,
                ends_ms=e.ends_ms,
            ),
        )

    async def get(self, account_sid: str, flow_sid: str, sid: str) -> Execution | None:
        row = (
            await self._conn.execute(
                sa.select(studio_executions).where(
                    _c.account_sid == account_sid, _c.flow_sid == flow_sid, _c.sid == sid
                )
            )
        ).first()
        return None if row is None else _execution(row)

    async def end(self, sid: str, now_ms: int) -> None:
        await self._conn.execute(
            studio_executions.update().where(_c.sid == sid).values(ends_ms=now_ms, updated_ms=now_ms)
        )

    async def delete(self, sid: str) -> None:
        await self._conn.execute(studio_executions.delete().where(_c.sid == sid))

    async def newest(self, account_sid: str, f: ExecutionFilter, limit: int) -> list[Execution]:
        """The ``limit`` newest matching executions, oldest first (the sandbox view)."""
        rows = await self._conn.execute(
            sa.select(studio_executions).where(*_where(account_sid, f)).order_by(_c.sid.desc()).limit(limit)
        )
        return [_execution(r) for r in reversed(list(rows))]

    async def list(self, account_sid: str, page: PageRequest, f: ExecutionFilter) -> Page[Execution]:
        query = sa.select(studio_executions).where(*_where(account_sid, f))
        return await fetch_page(self._conn, query, _c.sid, page, _execution)
