"""Providers per account, the attempts of their sends, and the signatures their status reports used.

The provider's secrets (one JSON object) are encrypted at rest like an account's auth token
(``store.secrets``): the server needs it in clear to call the provider.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from orchestrion.domain.channels import Channel
from orchestrion.domain.providers import ProviderConfig
from orchestrion.store.database import SqlConnection
from orchestrion.store.prepared import Prepared
from orchestrion.store.secrets import SecretBox
from orchestrion.store.sqlfuncs import insert_into
from orchestrion.store.tables import account_providers, provider_attempts, provider_signatures

# A send attempt left unknown this long ago is of no use any more: nobody retries it.
_ATTEMPT_KEPT_MS = 7 * 24 * 3600 * 1000
_BY_ACCOUNT = Prepared(sa.select(account_providers).where(account_providers.c.account_sid == sa.bindparam("b_account")))


class ProviderRepo:
    def __init__(self, conn: SqlConnection, box: SecretBox) -> None:
        self._conn = conn
        self._box = box

    def _config(self, row: Any) -> ProviderConfig:
        return ProviderConfig(
            account_sid=row.account_sid,
            name=row.provider,
            channels=frozenset(Channel(c) for c in row.channels),
            options=dict(row.options),
            secrets={} if row.secret_enc is None else json.loads(self._box.decrypt(row.secret_enc)),
            updated_ms=row.updated_ms,
        )

    async def of_account(self, account_sid: str) -> list[ProviderConfig]:
        rows = (await self._conn.run(_BY_ACCOUNT, {"b_account": account_sid})).rows
        return sorted((self._config(row) for row in rows), key=lambda c: c.name)

    async def put(self, config: ProviderConfig) -> None:
        """Insert or replace the account's provider of that name."""
        await self.remove(config.account_sid, config.name)
        await self._conn.execute(
            insert_into(account_providers),
            dict(
                account_sid=config.account_sid,
                provider=config.name,
                channels=sorted(str(c) for c in config.channels),
                options=dict(config.options),
                secret_enc=self._box.encrypt(json.dumps(dict(config.secrets))) if config.secrets else None,
                updated_ms=config.updated_ms,
            ),
        )

    async def remove(self, account_sid: str, name: str) -> bool:
        result = await self._conn.execute(
            account_providers.delete().where(
                account_providers.c.account_sid == account_sid, account_providers.c.provider == name
            )
        )
        return bool(result.rowcount)

    # --- send attempts

    async def begin_attempt(self, key: str, now_ms: int) -> int | None:
        """Record an attempt of ``key`` as started; when an earlier one's outcome is unknown, when it started."""
        table = provider_attempts
        row = (
            await self._conn.execute(
                sa.select(table.c.started_ms).where(table.c.idempotency_key == key).with_for_update()
            )
        ).first()
        if row is not None:
            await self._conn.execute(
                table.update().where(table.c.idempotency_key == key).values(attempts=table.c.attempts + 1)
            )
            return int(row.started_ms)
        await self._conn.execute(table.delete().where(table.c.started_ms < now_ms - _ATTEMPT_KEPT_MS))
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(insert_into(table), dict(idempotency_key=key, started_ms=now_ms, attempts=1))
        except IntegrityError:  # a concurrent run of the same key (a lease taken over) got there first
            return now_ms
        return None

    async def forget_attempt(self, key: str) -> None:
        await self._conn.execute(provider_attempts.delete().where(provider_attempts.c.idempotency_key == key))

    # --- accepted signatures

    async def accept_signature(self, signature: str, *, now_ms: int, expires_ms: int) -> bool:
        """Remember ``signature`` until ``expires_ms``; False if it was already accepted (a replay)."""
        await self._conn.execute(provider_signatures.delete().where(provider_signatures.c.expires_ms < now_ms))
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(
                    insert_into(provider_signatures), dict(signature=signature, expires_ms=expires_ms)
                )
        except IntegrityError:
            return False
        return True
