"""Reading a conversation's history (domain.history) and searching an address in every form (domain.grouping)."""

from __future__ import annotations

from orchestrion.domain.grouping import address_forms
from orchestrion.domain.history import HistoryEntry, status_moves
from orchestrion.domain.webhooks import EventType


def _entry(n: int, kind: EventType, status: str | None = None) -> HistoryEntry:
    data = {"status": status, "name": None} if status else {"id": "p", "name": "Ann", "type": None, "addresses": []}
    return HistoryEntry(id=n, conversation_id="c", kind=kind, at_ms=n, data=data)


def test_status_moves_compare_each_entry_with_the_one_before() -> None:
    entries = [
        _entry(1, EventType.CONVERSATION_CREATED, "ACTIVE"),
        _entry(2, EventType.PARTICIPANT_ADDED),
        _entry(3, EventType.CONVERSATION_UPDATED, "ACTIVE"),  # a name change: no move
        _entry(4, EventType.CONVERSATION_UPDATED, "INACTIVE"),
        _entry(5, EventType.CONVERSATION_UPDATED, "CLOSED"),
    ]
    assert [(m.entry.id, m.previous_status, m.status_changed) for m in status_moves(entries)] == [
        (1, None, False),
        (3, "ACTIVE", False),
        (4, "ACTIVE", True),
        (5, "INACTIVE", True),
    ]


def test_a_history_cut_short_claims_no_move_for_its_first_entry() -> None:
    [move] = status_moves([_entry(9, EventType.CONVERSATION_UPDATED, "CLOSED")])
    assert (move.previous_status, move.status_changed) == (None, False)


def test_a_phone_number_is_searched_on_every_number_channel() -> None:
    assert address_forms("+14155550100") == ("+14155550100", "whatsapp:+14155550100", "rcs:+14155550100")
    assert address_forms("whatsapp:+14155550100") == (
        "whatsapp:+14155550100",
        "+14155550100",
        "rcs:+14155550100",
    )


def test_a_chat_identity_is_searched_as_it_is() -> None:
    assert address_forms("alice@example.com") == ("alice@example.com",)
