"""Configuration responses."""

from __future__ import annotations

from typing import Any

from orchestrion.domain.clock import to_wire
from orchestrion.domain.models import Configuration


def configuration(c: Configuration) -> dict[str, Any]:
    settings = c.settings
    out: dict[str, Any] = {
        "id": c.id,
        "displayName": c.display_name,
        "description": c.description,
        "conversationGroupingType": c.grouping_type,
        "memoryStoreId": c.memory_store_id,
        "channelSettings": settings.get("channelSettings", {}),
        "statusCallbacks": settings.get("statusCallbacks", []),
        "intelligenceConfigurationIds": settings.get("intelligenceConfigurationIds", []),
        "memoryExtractionEnabled": settings.get("memoryExtractionEnabled", False),
    }
    bridge = settings.get("conversationsV1Bridge")
    if bridge is not None:
        out["conversationsV1Bridge"] = bridge
    out["createdAt"] = to_wire(c.created_ms)
    out["updatedAt"] = to_wire(c.updated_ms)
    out["version"] = c.version
    return out
