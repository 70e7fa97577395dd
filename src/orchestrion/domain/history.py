"""A conversation's history: the changes that are neither messages nor actions.

Its creation, each change of status or name, and each participant added,
changed or removed, with the time it happened. Entries are written in the
transaction of the change (``services.history``), so the history never shows
a change that was rolled back and never misses one that committed; they are
compact states, not diffs, so a reader finds "ACTIVE → INACTIVE" by comparing
an entry with the one before it (``status_moves``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from orchestrion.domain.models import Conversation, Json, Participant
from orchestrion.domain.webhooks import EventType

CONVERSATION_KINDS = frozenset({EventType.CONVERSATION_CREATED, EventType.CONVERSATION_UPDATED})
PARTICIPANT_KINDS = frozenset(
    {EventType.PARTICIPANT_ADDED, EventType.PARTICIPANT_UPDATED, EventType.PARTICIPANT_REMOVED}
)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    id: int  # insertion order
    conversation_id: str
    kind: EventType  # one of CONVERSATION_KINDS | PARTICIPANT_KINDS
    at_ms: int
    data: Json  # conversation_state or participant_state at that moment


def conversation_state(c: Conversation) -> Json:
    return {"status": str(c.status), "name": c.name}


def participant_state(p: Participant) -> Json:
    return {
        "id": p.id,
        "name": p.name,
        "type": p.type,
        "addresses": [{"channel": str(a.channel), "address": a.address} for a in p.addresses],
    }


@dataclass(frozen=True, slots=True)
class StatusMove:
    """A conversation entry seen against the one before it."""

    entry: HistoryEntry
    previous_status: str | None  # None: the conversation's creation
    status_changed: bool


def status_moves(entries: Iterable[HistoryEntry]) -> Iterator[StatusMove]:
    """Each conversation entry with the status it moved from (entries in insertion order)."""
    previous: str | None = None
    for entry in entries:
        if entry.kind not in CONVERSATION_KINDS:
            continue
        status = entry.data.get("status")
        yield StatusMove(entry, previous, previous is not None and status != previous)
        previous = status
