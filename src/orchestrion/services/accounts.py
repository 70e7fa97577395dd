"""Accounts, API keys and authentication."""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass, field

from orchestrion.domain import ids
from orchestrion.domain.errors import Unauthenticated
from orchestrion.domain.models import Account, ApiKey
from orchestrion.services.context import Context
from orchestrion.store.accounts import hash_secret


@dataclass(frozen=True, slots=True)
class NewCredentials:
    sid: str
    secret: str = field(repr=False)
    account_sid: str


async def create_account(ctx: Context, sid: str | None = None, auth_token: str | None = None) -> NewCredentials:
    account = Account(
        sid=sid or ids.new_account_sid(), auth_token=auth_token or ids.new_secret(), created_ms=ctx.clock.now_ms()
    )
    async with ctx.store.write() as tx:
        await tx.accounts.insert(account)
    return NewCredentials(account.sid, account.auth_token, account.sid)


async def ensure_account(ctx: Context, sid: str, auth_token: str) -> bool:
    """Make sure ``sid`` exists with ``auth_token``; True if it was created.

    Processes started together all ensure the same account: the insert tolerates a concurrent one.
    """
    async with ctx.store.write() as tx:
        if await tx.accounts.insert_if_absent(Account(sid=sid, auth_token=auth_token, created_ms=ctx.clock.now_ms())):
            return True
        existing = await tx.accounts.get(sid)
        if existing is not None and not hmac.compare_digest(existing.auth_token, auth_token):
            await tx.accounts.set_auth_token(sid, auth_token)
        return False


async def create_first_account(ctx: Context) -> NewCredentials | None:
    """A new account if the store has none yet; None if it has one.

    Processes started together on an empty database make one account between them: the check and the
    insert hold one lock (PostgreSQL's advisory lock; SQLite's single writer).
    """
    account = Account(sid=ids.new_account_sid(), auth_token=ids.new_secret(), created_ms=ctx.clock.now_ms())
    async with ctx.store.write() as tx:
        await tx.grouping.lock("orchestrion:first-account")
        if await tx.accounts.first_sid() is not None:
            return None
        await tx.accounts.insert(account)
    return NewCredentials(account.sid, account.auth_token, account.sid)


async def any_account(ctx: Context) -> str | None:
    async with ctx.store.read() as tx:
        return await tx.accounts.first_sid()


async def create_api_key(ctx: Context, account_sid: str) -> NewCredentials:
    async with ctx.store.write() as tx:
        if await tx.accounts.get(account_sid) is None:
            raise Unauthenticated(f"Account {account_sid} does not exist")
        secret = ids.new_secret() + ids.new_secret()
        key = ApiKey(sid=ids.new_api_key_sid(), account_sid=account_sid, created_ms=ctx.clock.now_ms())
        await tx.accounts.insert_key(key, secret)
    return NewCredentials(key.sid, secret, account_sid)


def secret_digest(secret: str) -> bytes:
    """The digest ``credential_digest`` gives for a credential whose secret is ``secret``."""
    return hash_secret(secret)


async def credential_digest(ctx: Context, username: str) -> bytes | None:
    """SHA-256 of the secret stored now for ``username`` (an Account SID or API key SID); None if unknown.

    A console session keeps a keyed hash of it from sign-in, so rotating the
    auth token (or a key's secret) ends every session signed in with the old one.
    """
    async with ctx.store.read() as tx:
        if username.startswith("AC"):
            account = await tx.accounts.get(username)
            return None if account is None else hash_secret(account.auth_token)
        if username.startswith("SK"):
            found = await tx.accounts.get_key(username)
            return None if found is None else found[1]  # stored as the secret's SHA-256
    return None


class Authenticator:
    """Checks HTTP Basic credentials; remembers good ones briefly.

    The cache key is a digest of the username and password, so a changed
    secret never matches a cached entry; entries expire after ``ttl_s``.
    """

    def __init__(self, ctx: Context, ttl_s: float = 30.0, max_entries: int = 10_000) -> None:
        self._ctx = ctx
        self._ttl_s = ttl_s
        self._max = max_entries
        self._cache: dict[bytes, tuple[str, float]] = {}

    async def authenticate(self, username: str, password: str) -> str:
        """The account SID these credentials act for, or raise Unauthenticated."""
        digest = hashlib.sha256(f"{username}\x00{password}".encode()).digest()
        hit = self._cache.get(digest)
        now = time.monotonic()
        if hit is not None and hit[1] > now:
            return hit[0]
        account_sid = await self._check(username, password)
        if len(self._cache) >= self._max:
            self._cache.clear()
        self._cache[digest] = (account_sid, now + self._ttl_s)
        return account_sid

    async def _check(self, username: str, password: str) -> str:
        async with self._ctx.store.read() as tx:
            if username.startswith("AC"):
                account = await tx.accounts.get(username)
                if account is not None and hmac.compare_digest(account.auth_token.encode(), password.encode()):
                    return account.sid
            elif username.startswith("SK"):
                found = await tx.accounts.get_key(username)
                if found is not None and hmac.compare_digest(found[1], hash_secret(password)):
                    return found[0].account_sid
        raise Unauthenticated("Authentication failed: check the account SID or API key and its secret")
