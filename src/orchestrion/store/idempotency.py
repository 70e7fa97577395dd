"""Stored first responses for Idempotency-Key replays (24 hours)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from orchestrion.store.database import SqlConnection
from orchestrion.store.sqlfuncs import insert_into
from orchestrion.store.tables import idempotency_keys


@dataclass(frozen=True, slots=True)
class StoredResponse:
    fingerprint: str
    status_code: int
    headers: dict[str, str]
    body: bytes


class IdempotencyRepo:
    def __init__(self, conn: SqlConnection) -> None:
        self._conn = conn

    async def get(self, account_sid: str, key: str, now_ms: int) -> StoredResponse | None:
        row = (
            await self._conn.execute(
                sa.select(idempotency_keys).where(
                    idempotency_keys.c.account_sid == account_sid,
                    idempotency_keys.c.key == key,
                    idempotency_keys.c.expires_ms > now_ms,
                )
            )
        ).first()
        if row is None:
            return None
        return StoredResponse(row.fingerprint, row.status_code, row.headers, bytes(row.body))

    async def put(self, account_sid: str, key: str, response: StoredResponse, expires_ms: int, now_ms: int) -> bool:
        """Store ``response``; False if another request stored one for this key first."""
        await self._conn.execute(
            idempotency_keys.delete().where(
                idempotency_keys.c.account_sid == account_sid,
                idempotency_keys.c.key == key,
                idempotency_keys.c.expires_ms <= now_ms,
            )
        )
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(
                    insert_into(idempotency_keys),
                    dict(
                        account_sid=account_sid,
                        key=key,
                        fingerprint=response.fingerprint,
                        status_code=response.status_code,
                        headers=response.headers,
                        body=response.body,
                        expires_ms=expires_ms,
                    ),
                )
        except IntegrityError:
            return False
        return True

    async def purge(self, now_ms: int) -> int:
        result = await self._conn.execute(idempotency_keys.delete().where(idempotency_keys.c.expires_ms <= now_ms))
        return int(result.rowcount or 0)
