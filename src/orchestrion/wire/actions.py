"""Action responses."""

from __future__ import annotations

from typing import Any

from orchestrion.domain.clock import to_wire
from orchestrion.domain.models import Action, ActionView


def action(a: Action | ActionView) -> dict[str, Any]:
    """The Action as the SDK reads it.

    ``type`` echoes the request's discriminator (``SEND_MESSAGE``), as the
    reference document's response examples do. ``completedAt`` is left out
    until the Action is terminal (the schema does not allow null there);
    ``failureReason`` is null unless the Action FAILED.
    """
    out: dict[str, Any] = {
        "id": a.id,
        "type": a.type,
        "status": str(a.status),
        "conversationId": a.conversation_id,
        "related": a.related,
        "createdAt": to_wire(a.created_ms),
        "updatedAt": to_wire(a.updated_ms),
        "failureReason": a.failure_reason,
    }
    if a.completed_ms is not None:
        out["completedAt"] = to_wire(a.completed_ms)
    return out
