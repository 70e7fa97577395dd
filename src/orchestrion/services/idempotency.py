"""Idempotency-Key: the first answer to a write, kept for 24 hours in the transaction of the write.

A write that carries a key first looks the key up inside its own transaction:
a stored answer is replayed (a different request under the same key is an
``IdempotencyMismatch``). Otherwise the write happens and its answer is
stored in the same transaction, so the answer exists exactly when the write
does: a client that lost the answer (a crash, a dropped connection) and
retries with its key gets it, and nothing is done twice. Two requests racing
with one key: the loser's insert of the key fails, its transaction (its
write) rolls back, and it replays the winner's answer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from orchestrion.domain.errors import IdempotencyMismatch, StoreUnavailable
from orchestrion.services.context import Context
from orchestrion.store.idempotency import StoredResponse
from orchestrion.store.store import Tx

TTL_MS = 24 * 60 * 60 * 1000


@dataclass(frozen=True, slots=True)
class IdempotentRequest:
    key: str
    fingerprint: str  # method, path and body: what makes two requests the same


class KeyTaken(Exception):
    """A concurrent request stored an answer for the same key first (raised to roll back the write)."""


def replay(stored: StoredResponse, request: IdempotentRequest) -> StoredResponse:
    if stored.fingerprint != request.fingerprint:
        raise IdempotencyMismatch(
            f"Idempotency-Key {request.key} was already used in the last 24 hours for a different request "
            "(method, path or body): send a new key for a new request"
        )
    return stored


async def stored_answer(ctx: Context, tx: Tx, account_sid: str, request: IdempotentRequest) -> StoredResponse | None:
    """The answer to replay for this key, looked up inside the write's transaction."""
    stored = await tx.idempotency.get(account_sid, request.key, ctx.clock.now_ms())
    return None if stored is None else replay(stored, request)


async def remember(ctx: Context, tx: Tx, account_sid: str, request: IdempotentRequest, answer: StoredResponse) -> None:
    """Keep ``answer`` for the key in the write's transaction; KeyTaken if another request got there first."""
    now = ctx.clock.now_ms()
    kept = replace(answer, fingerprint=request.fingerprint)
    if not await tx.idempotency.put(account_sid, request.key, kept, expires_ms=now + TTL_MS, now_ms=now):
        raise KeyTaken


async def winner(ctx: Context, account_sid: str, request: IdempotentRequest) -> StoredResponse:
    """After KeyTaken: the answer the other request stored."""
    async with ctx.store.read() as tx:
        stored = await tx.idempotency.get(account_sid, request.key, ctx.clock.now_ms())
    if stored is None:  # the winner's answer expired in between: vanishingly rare
        raise StoreUnavailable(f"Idempotency-Key {request.key} is contended; try again")
    return replay(stored, request)
