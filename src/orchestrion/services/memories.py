"""Observations and conversation summaries of a profile (the Memory API), kept as they are written.

Twilio's Memory API takes these writes asynchronously (202); here they are
committed before the answer, so a Recall right after a write already sees it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from orchestrion.domain import ids
from orchestrion.domain.errors import InvalidInput, NotFound
from orchestrion.domain.memory import Memory, MemoryKind
from orchestrion.services.context import Context
from orchestrion.services.profiles import load_profile
from orchestrion.store.memories import MemoryFilter
from orchestrion.store.paging import Page, PageRequest
from orchestrion.store.store import Tx

MAX_BATCH = 10
_PREFIX = {MemoryKind.OBSERVATION: ids.OBSERVATION, MemoryKind.SUMMARY: ids.SUMMARY}
_NAME = {MemoryKind.OBSERVATION: "Observation", MemoryKind.SUMMARY: "Summary"}


@dataclass(frozen=True, slots=True)
class NewMemory:
    content: str
    source: str | None
    occurred_ms: int | None  # None: now
    conversation_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MemoryChange:
    """A PATCH: None means "leave as is"."""

    content: str | None = None
    source: str | None = None
    occurred_ms: int | None = None
    conversation_ids: tuple[str, ...] | None = None


async def create_memories(
    ctx: Context, account_sid: str, store_id: str, profile_id: str, kind: MemoryKind, batch: Sequence[NewMemory]
) -> list[Memory]:
    if not 1 <= len(batch) <= MAX_BATCH:
        raise InvalidInput(f"Give 1 to {MAX_BATCH} {kind}s at a time")
    async with ctx.store.write() as tx:
        profile = await load_profile(tx, account_sid, store_id, profile_id)
        now = ctx.clock.now_ms()
        created = [
            Memory(
                id=ids.new_id(_PREFIX[kind]),
                profile_id=profile.id,
                kind=kind,
                content=new.content,
                source=new.source,
                conversation_ids=new.conversation_ids,
                occurred_ms=now if new.occurred_ms is None else new.occurred_ms,
                created_ms=now,
                updated_ms=now,
            )
            for new in batch
        ]
        for memory in created:
            await tx.memories.insert(memory)
    return created


async def list_memories(
    ctx: Context,
    account_sid: str,
    store_id: str,
    profile_id: str,
    kind: MemoryKind,
    page: PageRequest,
    f: MemoryFilter,
) -> Page[Memory]:
    async with ctx.store.read() as tx:
        profile = await load_profile(tx, account_sid, store_id, profile_id)
        return await tx.memories.list(profile.id, kind, page, f)


async def _load(tx: Tx, account_sid: str, store_id: str, profile_id: str, kind: MemoryKind, memory_id: str) -> Memory:
    """The profile's memory of this kind, or NotFound (the profile's own NotFound first)."""
    profile = await load_profile(tx, account_sid, store_id, profile_id)
    found = await tx.memories.get(profile.id, kind, memory_id) if ids.is_id(memory_id, _PREFIX[kind]) else None
    if found is None:
        raise NotFound(_NAME[kind], memory_id)
    return found


async def get_memory(
    ctx: Context, account_sid: str, store_id: str, profile_id: str, kind: MemoryKind, memory_id: str
) -> Memory:
    async with ctx.store.read() as tx:
        return await _load(tx, account_sid, store_id, profile_id, kind, memory_id)


async def update_memory(
    ctx: Context,
    account_sid: str,
    store_id: str,
    profile_id: str,
    kind: MemoryKind,
    memory_id: str,
    change: MemoryChange,
) -> Memory:
    async with ctx.store.write() as tx:
        current = await _load(tx, account_sid, store_id, profile_id, kind, memory_id)
        changed = Memory(
            id=current.id,
            profile_id=current.profile_id,
            kind=current.kind,
            content=current.content if change.content is None else change.content,
            source=current.source if change.source is None else change.source,
            conversation_ids=current.conversation_ids if change.conversation_ids is None else change.conversation_ids,
            occurred_ms=current.occurred_ms if change.occurred_ms is None else change.occurred_ms,
            created_ms=current.created_ms,
            updated_ms=ctx.clock.now_ms(),
        )
        await tx.memories.update(changed)
    return changed


async def delete_memory(
    ctx: Context, account_sid: str, store_id: str, profile_id: str, kind: MemoryKind, memory_id: str
) -> None:
    async with ctx.store.write() as tx:
        await _load(tx, account_sid, store_id, profile_id, kind, memory_id)
        await tx.memories.delete(memory_id)
