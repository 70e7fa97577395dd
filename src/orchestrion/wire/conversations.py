"""Conversation responses."""

from __future__ import annotations

from typing import Any

from orchestrion.domain.clock import to_wire
from orchestrion.domain.models import Conversation, ConversationView, effective_status_callbacks
from orchestrion.wire.participants import participant

# What a conversation shows of its configuration snapshot, in this order.
_SHOWN = (
    "displayName",
    "conversationGroupingType",
    "memoryStoreId",
    "channelSettings",
    "statusCallbacks",
    "intelligenceConfigurationIds",
    "traitExtractionStrategyIds",
    "observationExtractionStrategyIds",
    "memoryExtractionEnabled",
    "conversationsV1Bridge",
)


def configuration(c: Conversation) -> dict[str, Any]:
    shown = {key: c.configuration[key] for key in _SHOWN if c.configuration.get(key) is not None}
    if c.status_callbacks is not None:
        shown["statusCallbacks"] = effective_status_callbacks(c)
    return shown


def conversation(view: ConversationView) -> dict[str, Any]:
    c = view.conversation
    return {
        "id": c.id,
        "accountId": c.account_sid,
        "configurationId": c.configuration_id,
        "status": str(c.status),
        "name": c.name,
        "createdAt": to_wire(c.created_ms),
        "updatedAt": to_wire(c.updated_ms),
        "configuration": configuration(c),
        "metadata": dict(c.metadata),
        "participants": [participant(p) for p in view.participants],
    }
