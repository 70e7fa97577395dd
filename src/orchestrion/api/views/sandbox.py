"""Sandbox inbox responses (``/sandbox/messages``): Orchestrion's own, not Twilio's."""

from __future__ import annotations

from typing import Any

from orchestrion.domain.clock import to_wire
from orchestrion.store.sandbox import SandboxMessage


def message(m: SandboxMessage) -> dict[str, Any]:
    return {
        "sid": m.sid,
        "accountSid": m.account_sid,
        "conversationId": m.conversation_id,
        "actionId": m.idempotency_key,
        "channel": m.channel,
        "from": m.from_address,
        "to": list(m.to_addresses),
        "body": m.body,
        "contentId": m.content_id,
        "variables": m.variables,
        "mediaUrls": m.media_urls,
        "channelSettings": m.channel_settings,
        "status": m.status,
        "errorCode": m.error_code,
        "errorMessage": m.error_message,
        "history": [{"status": h["status"], "at": to_wire(h["at"]), "atMs": h["at"]} for h in m.history],
        "createdAt": to_wire(m.created_ms),
        "updatedAt": to_wire(m.updated_ms),
    }
