"""Twilio's Messages API resources (``/2010-04-01``): Twilio's 2010 JSON shape (snake_case, RFC 2822 dates)."""

from __future__ import annotations

import datetime
import email.utils
from typing import Any

from orchestrion.services.messages_api import API_VERSION, segments
from orchestrion.services.sandbox import api_fields, api_sender
from orchestrion.store.sandbox import SandboxMessage

_SENT = {"sent", "delivered", "undelivered", "read"}


def rfc2822(ms: int | None) -> str | None:
    if ms is None:
        return None
    return email.utils.format_datetime(datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC))


def message_uri(account_sid: str, sid: str, suffix: str = ".json") -> str:
    return f"/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}{suffix}"


def message(m: SandboxMessage) -> dict[str, Any]:
    sent_ms = next((h["at"] for h in m.history if h["status"] in _SENT), None)
    return {
        "account_sid": m.account_sid,
        "api_version": API_VERSION,
        "body": m.body or "",
        "date_created": rfc2822(m.created_ms),
        "date_sent": rfc2822(sent_ms),
        "date_updated": rfc2822(m.updated_ms),
        "direction": "outbound-api",
        "error_code": m.error_code,
        "error_message": m.error_message,
        "from": api_sender(m),
        "messaging_service_sid": api_fields(m).get("messagingServiceSid"),
        "num_media": str(len(m.media_urls or [])),
        "num_segments": str(segments(m.body)),
        "price": None,
        "price_unit": "USD",
        "sid": m.sid,
        "status": m.status,
        "subresource_uris": {
            "media": message_uri(m.account_sid, m.sid, "/Media.json"),
            "feedback": message_uri(m.account_sid, m.sid, "/Feedback.json"),
        },
        "to": m.to_addresses[0] if m.to_addresses else None,
        "uri": message_uri(m.account_sid, m.sid),
    }
