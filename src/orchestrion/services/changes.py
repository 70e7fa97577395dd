"""Change signatures for live console pages: short strings that differ whenever what a page shows differs.

A page polls its signature and is drawn again only when it changes (see
``store.signatures`` for why one aggregate read is enough, and its one blind
spot). Every process reads the same database, so this works with any number
of processes: whichever one answers a poll sees every committed change.
"""

from __future__ import annotations

import hashlib

from orchestrion.domain import ids
from orchestrion.domain.errors import NotFound
from orchestrion.services.context import Context


def _short(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:20]


async def conversation(ctx: Context, account_sid: str, conversation_id: str) -> str:
    """The conversation's timeline (``services.timeline``); NotFound if it is not the account's."""
    if not ids.is_id(conversation_id, ids.CONVERSATION):
        raise NotFound("Conversation", conversation_id)
    async with ctx.store.read() as tx:
        found = await tx.signatures.conversation(account_sid, conversation_id)
    if found is None:
        raise NotFound("Conversation", conversation_id)
    return _short(found)


async def sandbox(ctx: Context, account_sid: str) -> str:
    """The account's sandbox inbox."""
    async with ctx.store.read() as tx:
        return _short(await tx.signatures.sandbox(account_sid))
