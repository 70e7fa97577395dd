"""The sandbox channel's outbox of "sent" messages, readable by people and tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import sqlalchemy as sa

from orchestrion.domain.errors import Conflict
from orchestrion.store.database import SqlConnection
from orchestrion.store.sqlfuncs import prepared_insert_or_skip
from orchestrion.store.tables import sandbox_messages


@dataclass(frozen=True, slots=True)
class SandboxMessage:
    sid: str
    account_sid: str
    idempotency_key: str
    conversation_id: str | None
    channel: str
    from_address: str
    to_addresses: list[str]
    body: str | None
    content_id: str | None
    variables: dict[str, str] | None
    media_urls: list[str] | None
    channel_settings: dict[str, Any] | None
    status: str
    error_code: int | None
    error_message: str | None
    created_ms: int
    updated_ms: int
    history: list[dict[str, Any]] = field(default_factory=list)


def _message(row: Any) -> SandboxMessage:
    return SandboxMessage(
        sid=row.sid,
        account_sid=row.account_sid,
        idempotency_key=row.idempotency_key,
        conversation_id=row.conversation_id,
        channel=row.channel,
        from_address=row.from_address,
        to_addresses=row.to_addresses,
        body=row.body,
        content_id=row.content_id,
        variables=row.variables,
        media_urls=row.media_urls,
        channel_settings=row.channel_settings,
        status=row.status,
        error_code=row.error_code,
        error_message=row.error_message,
        created_ms=row.created_ms,
        updated_ms=row.updated_ms,
        history=row.history,
    )


_BY_SID = sa.select(sandbox_messages).where(sandbox_messages.c.sid == sa.bindparam("b_sid"))
_BY_SID_LOCKED = _BY_SID.with_for_update()
_BY_KEY = sa.select(sandbox_messages).where(sandbox_messages.c.idempotency_key == sa.bindparam("b_key"))
_SET_STATUS = (
    sandbox_messages.update()
    .where(sandbox_messages.c.sid == sa.bindparam("b_sid"))
    .values(
        status=sa.bindparam("v_status"),
        error_code=sa.bindparam("v_error_code"),
        error_message=sa.bindparam("v_error_message"),
        history=sa.bindparam("v_history", type_=sandbox_messages.c.history.type),
        updated_ms=sa.bindparam("v_updated_ms"),
    )
)


class SandboxRepo:
    def __init__(self, conn: SqlConnection) -> None:
        self._conn = conn

    async def get(self, sid: str, *, for_update: bool = False) -> SandboxMessage | None:
        row = (await self._conn.execute(_BY_SID_LOCKED if for_update else _BY_SID, {"b_sid": sid})).first()
        return None if row is None else _message(row)

    async def get_by_key(self, idempotency_key: str) -> SandboxMessage | None:
        row = (await self._conn.execute(_BY_KEY, {"b_key": idempotency_key})).first()
        return None if row is None else _message(row)

    async def insert(self, m: SandboxMessage) -> SandboxMessage:
        """Record ``m``; a second send with the same idempotency key returns the first."""
        result = await self._conn.run(
            prepared_insert_or_skip(self._conn.dialect.name, sandbox_messages),
            dict(
                sid=m.sid,
                account_sid=m.account_sid,
                idempotency_key=m.idempotency_key,
                conversation_id=m.conversation_id,
                channel=m.channel,
                from_address=m.from_address,
                to_addresses=m.to_addresses,
                body=m.body,
                content_id=m.content_id,
                variables=m.variables,
                media_urls=m.media_urls,
                channel_settings=m.channel_settings,
                status=m.status,
                error_code=m.error_code,
                error_message=m.error_message,
                history=m.history,
                created_ms=m.created_ms,
                updated_ms=m.updated_ms,
            ),
        )
        if result.rowcount:
            return m
        existing = await self.get_by_key(m.idempotency_key)
        if existing is None:  # the SID itself was taken (never in practice: 128 random bits)
            raise Conflict(f"sandbox message {m.sid}: id already taken")
        return existing

    async def rewrite(self, m: SandboxMessage) -> None:
        """Store ``m``'s status, error and history (its timeline moved, or went back to queued)."""
        await self._conn.execute(
            _SET_STATUS,
            {
                "b_sid": m.sid,
                "v_status": m.status,
                "v_error_code": m.error_code,
                "v_error_message": m.error_message,
                "v_history": m.history,
                "v_updated_ms": m.updated_ms,
            },
        )

    async def list(
        self,
        account_sid: str,
        *,
        to: str | None = None,
        from_: str | None = None,
        conversation_id: str | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> list[SandboxMessage]:
        query = sa.select(sandbox_messages).where(sandbox_messages.c.account_sid == account_sid)
        if from_ is not None:
            query = query.where(sandbox_messages.c.from_address == from_)
        if conversation_id is not None:
            query = query.where(sandbox_messages.c.conversation_id == conversation_id)
        if status is not None:
            query = query.where(sandbox_messages.c.status == status)
        rows = await self._conn.execute(query.order_by(sandbox_messages.c.created_ms, sandbox_messages.c.sid))
        messages = [_message(r) for r in rows]
        if to is not None:
            messages = [m for m in messages if to in m.to_addresses]
        return messages[-limit:] if limit else messages

    async def page(
        self,
        account_sid: str,
        *,
        to: str | None,
        from_: str | None,
        created_from_ms: int | None,
        created_before_ms: int | None,
        after: tuple[int, str] | None,
        limit: int,
    ) -> Sequence[SandboxMessage]:
        """Newest first, keyset-paged: up to ``limit`` messages older than ``after`` (created_ms, sid)."""
        t = sandbox_messages
        query = sa.select(t).where(t.c.account_sid == account_sid)
        if to is not None:  # the JSON list of recipients holds this address, exactly as written
            query = query.where(sa.cast(t.c.to_addresses, sa.Text).contains(orjson.dumps(to).decode(), autoescape=True))
        if from_ is not None:
            query = query.where(t.c.from_address == from_)
        if created_from_ms is not None:
            query = query.where(t.c.created_ms >= created_from_ms)
        if created_before_ms is not None:
            query = query.where(t.c.created_ms < created_before_ms)
        if after is not None:
            query = query.where(sa.tuple_(t.c.created_ms, t.c.sid) < sa.tuple_(*after))
        rows = await self._conn.execute(query.order_by(t.c.created_ms.desc(), t.c.sid.desc()).limit(limit))
        return [_message(r) for r in rows]

    async def delete(self, account_sid: str, sid: str) -> bool:
        t = sandbox_messages
        result = await self._conn.execute(t.delete().where(t.c.account_sid == account_sid, t.c.sid == sid))
        return bool(result.rowcount)

    async def by_keys(self, idempotency_keys: Sequence[str]) -> dict[str, SandboxMessage]:
        """The messages sent under these idempotency keys (an Action's id), by key."""
        if not idempotency_keys:
            return {}
        rows = await self._conn.execute(
            sa.select(sandbox_messages).where(sandbox_messages.c.idempotency_key.in_(list(idempotency_keys)))
        )
        return {row.idempotency_key: _message(row) for row in rows}

    async def clear(self, account_sid: str) -> int:
        result = await self._conn.execute(
            sandbox_messages.delete().where(sandbox_messages.c.account_sid == account_sid)
        )
        return int(result.rowcount or 0)

    async def count(self) -> int:
        return int((await self._conn.execute(sa.select(sa.func.count()).select_from(sandbox_messages))).scalar_one())
