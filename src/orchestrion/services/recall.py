"""Recall (``POST /v1/Stores/{storeId}/Profiles/{profileId}/Recall``): what a profile's memory holds for a query.

Observations, summaries and communications are each ranked by the lexical
search of ``domain.recall`` over the newest ``SCAN_LIMIT`` of their kind.
The communications are the profile's (``store.recall``), or those of the
conversation given, when the profile takes part in it. A conversation given
without a query lends its last ``EXPANSION_COMMUNICATIONS`` communications'
text as the query, the deterministic counterpart of the Memory API's query
expansion. The relevance threshold applies to observations and summaries,
as the Memory API documents.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from orchestrion.domain.identity import addresses_of
from orchestrion.domain.memory import Memory, MemoryKind
from orchestrion.domain.models import Communication, Participant
from orchestrion.domain.recall import Hit, recall
from orchestrion.services.context import Context
from orchestrion.services.profiles import load_profile
from orchestrion.store.memories import MemoryFilter
from orchestrion.store.store import Tx

SCAN_LIMIT = 1000
EXPANSION_COMMUNICATIONS = 10


@dataclass(frozen=True, slots=True)
class RecallRequest:
    conversation_id: str | None = None
    query: str | None = None
    begin_ms: int | None = None  # inclusive
    end_ms: int | None = None  # exclusive
    observations_limit: int = 20
    summaries_limit: int = 5
    communications_limit: int = 0
    relevance_threshold: float = 0.0


@dataclass(frozen=True, slots=True)
class Recalled:
    observations: list[Hit[Memory]]
    summaries: list[Hit[Memory]]
    communications: list[Hit[Communication]]
    participants: dict[str, Participant] = field(default_factory=dict)  # of the communications, by id
    query_ms: int = 0


def _text(communication: Communication) -> str:
    text = communication.content.get("text")
    return text if isinstance(text, str) else ""


async def _memories(
    tx: Tx, profile_id: str, kind: MemoryKind, request: RecallRequest, query: str | None, limit: int
) -> list[Hit[Memory]]:
    if limit <= 0:
        return []
    window = MemoryFilter(occurred_from_ms=request.begin_ms, occurred_until_ms=request.end_ms)
    found = await tx.memories.newest(profile_id, kind, window, SCAN_LIMIT)
    return recall(
        query,
        found,
        text=lambda m: m.content,
        recency=lambda m: (m.occurred_ms, m.id),
        limit=limit,
        threshold=request.relevance_threshold,
    )


async def recall_memories(
    ctx: Context, account_sid: str, store_id: str, profile_id: str, request: RecallRequest
) -> Recalled:
    started = time.perf_counter()
    async with ctx.store.read() as tx:
        profile = await load_profile(tx, account_sid, store_id, profile_id)
        forms = [
            form for identifier, _ in await tx.profiles.identifiers(profile.id) for form in addresses_of(identifier)
        ]
        communications: list[Communication] = []
        if request.conversation_id is not None or request.communications_limit > 0:
            communications = await tx.recall.communications(
                account_sid,
                profile.id,
                forms,
                conversation_id=request.conversation_id,
                occurred_from_ms=request.begin_ms,
                occurred_until_ms=request.end_ms,
                limit=SCAN_LIMIT,
            )
        query = request.query
        if not query and request.conversation_id is not None:
            query = " ".join(_text(c) for c in communications[:EXPANSION_COMMUNICATIONS])
        observations = await _memories(
            tx, profile.id, MemoryKind.OBSERVATION, request, query, request.observations_limit
        )
        summaries = await _memories(tx, profile.id, MemoryKind.SUMMARY, request, query, request.summaries_limit)
        recalled = recall(
            query,
            communications,
            text=_text,
            recency=lambda c: (c.occurred_ms, c.id),
            limit=request.communications_limit,
        )
        conversation_ids = sorted({hit.item.conversation_id for hit in recalled})
        by_conversation = await tx.participants.all_for(conversation_ids)
    participants = {p.id: p for found in by_conversation.values() for p in found}
    elapsed_ms = int((time.perf_counter() - started) * 1000)
    return Recalled(observations, summaries, recalled, participants, elapsed_ms)
