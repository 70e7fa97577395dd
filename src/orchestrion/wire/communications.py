"""Communication responses."""

from __future__ import annotations

from typing import Any

from orchestrion.domain.clock import to_wire
from orchestrion.domain.models import Communication, Endpoint


def endpoint(e: Endpoint) -> dict[str, Any]:
    out: dict[str, Any] = {"address": e.address, "channel": str(e.channel)}
    if e.participant_id is not None:
        out["participantId"] = e.participant_id
    if e.delivery_status is not None:
        out["deliveryStatus"] = e.delivery_status
    return out


def communication(c: Communication) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": c.id,
        "conversationId": c.conversation_id,
        "accountId": c.account_sid,
        "author": endpoint(c.author),
        "content": c.content,
    }
    if c.channel_id is not None:
        out["channelId"] = c.channel_id
    if c.resource_id is not None:
        out["resourceId"] = c.resource_id
    out["recipients"] = [endpoint(r) for r in c.recipients]
    out["createdAt"] = to_wire(c.created_ms)
    out["updatedAt"] = to_wire(c.updated_ms)
    out["occurredAt"] = to_wire(c.occurred_ms)
    return out
