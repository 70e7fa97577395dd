"""Change signatures for live console pages: what a page shows, in a few bytes (``store.signatures``).

A page is drawn again when its signature differs from the one it was drawn
with, or while its newest change is younger than ``SETTLE_MS`` (the one
change a signature can miss is a row changed twice within a millisecond; a
page drawn a moment later shows the last state). Every process reads the
same database, so this holds with any number of processes: whichever one
answers a poll sees every committed change.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from orchestrion.domain import ids
from orchestrion.domain.errors import NotFound
from orchestrion.services.context import Context

SETTLE_MS = 2_000


@dataclass(frozen=True, slots=True)
class Signature:
    value: str
    newest_ms: int  # when the newest change it covers happened

    def settled(self, now_ms: int) -> bool:
        """Whether a page drawn with this signature may skip drawing again while it stays the same."""
        return now_ms - self.newest_ms > SETTLE_MS


def signature(parts: str, newest_ms: int) -> Signature:
    return Signature(hashlib.sha256(parts.encode()).hexdigest()[:20], newest_ms)


async def conversation(ctx: Context, account_sid: str, conversation_id: str) -> Signature:
    """The conversation's timeline (``services.timeline``); NotFound if it is not the account's."""
    if not ids.is_id(conversation_id, ids.CONVERSATION):
        raise NotFound("Conversation", conversation_id)
    async with ctx.store.read() as tx:
        found = await tx.signatures.conversation(account_sid, conversation_id)
    if found is None:
        raise NotFound("Conversation", conversation_id)
    return signature(*found)


async def sandbox(ctx: Context, account_sid: str) -> Signature:
    """The account's sandbox inbox."""
    async with ctx.store.read() as tx:
        return signature(*await tx.signatures.sandbox(account_sid))
