"""State machines: conversation status, action status, operation status."""

from __future__ import annotations

from orchestrion.domain.errors import InvalidState
from orchestrion.domain.models import ActionStatus, ConversationStatus, OperationStatus

_CONVERSATION_MOVES: dict[ConversationStatus, frozenset[ConversationStatus]] = {
    ConversationStatus.ACTIVE: frozenset(ConversationStatus),
    ConversationStatus.INACTIVE: frozenset(ConversationStatus),
    ConversationStatus.CLOSED: frozenset({ConversationStatus.CLOSED}),
}


def check_conversation_move(current: ConversationStatus, target: ConversationStatus) -> None:
    """ACTIVE <-> INACTIVE, either -> CLOSED; CLOSED is final."""
    if target not in _CONVERSATION_MOVES[current]:
        raise InvalidState(f"Conversation is {current} and cannot become {target}: a CLOSED conversation is final")


def check_open(status: ConversationStatus) -> None:
    if status is ConversationStatus.CLOSED:
        raise InvalidState("Conversation is CLOSED and accepts no new communications or actions")


def action_is_terminal(status: ActionStatus) -> bool:
    return status is not ActionStatus.PENDING


def operation_is_terminal(status: OperationStatus) -> bool:
    return status in (OperationStatus.COMPLETED, OperationStatus.FAILED)


# Recipient delivery statuses only move forward along this order; FAILED can
# replace anything that is not yet READ.
_DELIVERY_RANK = {"INITIATED": 0, "IN_PROGRESS": 1, "DELIVERED": 2, "READ": 3, "COMPLETED": 3}


def next_delivery_status(current: str | None, reported: str) -> str | None:
    """The delivery status after a report, or None if the report is stale."""
    if current == reported:
        return None
    if reported == "FAILED":
        return None if current in ("READ", "FAILED") else "FAILED"
    if current == "FAILED":
        return None
    if _DELIVERY_RANK.get(reported, -1) > _DELIVERY_RANK.get(current or "", -1):
        return reported
    return None
