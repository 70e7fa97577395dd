"""Participant responses.

``name`` is never null on the wire: Twilio's own clients (Twilio Agent Connect
among them) read it as a string, and a participant nobody named shows the
address it was created with (its first address), or ``""`` when it has none.
"""

from __future__ import annotations

from typing import Any

from orchestrion.domain.clock import to_wire
from orchestrion.domain.models import Address, Participant


def address(a: Address) -> dict[str, Any]:
    out: dict[str, Any] = {"channel": str(a.channel), "address": a.address}
    if a.channel_id is not None:
        out["channelId"] = a.channel_id
    return out


def display_name(p: Participant) -> str:
    """The participant's name, else its first address, else ``""``."""
    if p.name:
        return p.name
    return p.addresses[0].address if p.addresses else ""


def participant(p: Participant) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": p.id,
        "conversationId": p.conversation_id,
        "accountId": p.account_sid,
        "name": display_name(p),
    }
    if p.type is not None:
        out["type"] = p.type
    if p.profile_id is not None:
        out["profileId"] = p.profile_id
    out["addresses"] = [address(a) for a in p.addresses]
    out["createdAt"] = to_wire(p.created_ms)
    out["updatedAt"] = to_wire(p.updated_ms)
    return out
