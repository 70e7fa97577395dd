"""Control-plane operations."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from orchestrion.domain.models import Operation, OperationStatus
from orchestrion.store.database import SqlConnection
from orchestrion.store.sqlfuncs import insert_into
from orchestrion.store.tables import operations


def _operation(row: Any) -> Operation:
    return Operation(
        id=row.id,
        account_sid=row.account_sid,
        kind=row.kind,
        status=OperationStatus(row.status),
        related=row.related,
        error=row.error,
        created_ms=row.created_ms,
        updated_ms=row.updated_ms,
        completed_ms=row.completed_ms,
    )


class OperationRepo:
    def __init__(self, conn: SqlConnection) -> None:
        self._conn = conn

    async def get(self, account_sid: str, operation_id: str) -> Operation | None:
        row = (
            await self._conn.execute(
                sa.select(operations).where(operations.c.account_sid == account_sid, operations.c.id == operation_id)
            )
        ).first()
        return None if row is None else _operation(row)

    async def get_with_request(self, operation_id: str) -> tuple[Operation, dict[str, Any]] | None:
        row = (await self._conn.execute(sa.select(operations).where(operations.c.id == operation_id))).first()
        return None if row is None else (_operation(row), row.request)

    async def insert(self, op: Operation, request: dict[str, Any]) -> None:
        await self._conn.execute(
            insert_into(operations),
            dict(
                id=op.id,
                account_sid=op.account_sid,
                kind=op.kind,
                status=str(op.status),
                related=op.related,
                request=request,
                error=op.error,
                created_ms=op.created_ms,
                updated_ms=op.updated_ms,
                completed_ms=op.completed_ms,
            ),
        )

    async def update(self, op: Operation) -> None:
        await self._conn.execute(
            operations.update()
            .where(operations.c.id == op.id)
            .values(
                status=str(op.status),
                related=op.related,
                error=op.error,
                updated_ms=op.updated_ms,
                completed_ms=op.completed_ms,
            )
        )
