"""Accounts and API keys. Auth tokens are encrypted at rest, key secrets hashed."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from orchestrion.domain.models import Account, ApiKey
from orchestrion.store.database import SqlConnection
from orchestrion.store.prepared import Prepared
from orchestrion.store.secrets import SecretBox
from orchestrion.store.sqlfuncs import insert_into
from orchestrion.store.tables import accounts, api_keys


def hash_secret(secret: str) -> bytes:
    # API key secrets are 128 random bits: a fast hash is enough, no KDF needed.
    return hashlib.sha256(secret.encode()).digest()


_ACCOUNT = Prepared(sa.select(accounts).where(accounts.c.sid == sa.bindparam("b_sid")))


class AccountRepo:
    def __init__(self, conn: SqlConnection, box: SecretBox) -> None:
        self._conn = conn
        self._box = box

    async def insert(self, account: Account) -> None:
        await self._conn.execute(
            insert_into(accounts),
            dict(
                sid=account.sid,
                auth_token_enc=self._box.encrypt(account.auth_token),
                created_ms=account.created_ms,
            ),
        )

    async def insert_if_absent(self, account: Account) -> bool:
        """Insert ``account`` unless its SID exists (also when another process inserts it at the same time)."""
        try:
            async with self._conn.begin_nested():
                await self.insert(account)
        except IntegrityError:
            return False
        return True

    async def get(self, sid: str) -> Account | None:
        row = (await self._conn.run(_ACCOUNT, {"b_sid": sid})).first()
        if row is None:
            return None
        return Account(sid=row.sid, auth_token=self._box.decrypt(row.auth_token_enc), created_ms=row.created_ms)

    async def set_auth_token(self, sid: str, auth_token: str) -> None:
        await self._conn.execute(
            accounts.update().where(accounts.c.sid == sid).values(auth_token_enc=self._box.encrypt(auth_token))
        )

    async def first_sid(self) -> str | None:
        return (await self._conn.execute(sa.select(accounts.c.sid).order_by(accounts.c.created_ms).limit(1))).scalar()

    async def insert_key(self, key: ApiKey, secret: str) -> None:
        await self._conn.execute(
            insert_into(api_keys),
            dict(sid=key.sid, account_sid=key.account_sid, secret_hash=hash_secret(secret), created_ms=key.created_ms),
        )

    async def get_key(self, sid: str) -> tuple[ApiKey, bytes] | None:
        row = (await self._conn.execute(sa.select(api_keys).where(api_keys.c.sid == sid))).first()
        if row is None:
            return None
        return ApiKey(sid=row.sid, account_sid=row.account_sid, created_ms=row.created_ms), bytes(row.secret_hash)
