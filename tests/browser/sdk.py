"""Arranging data for the browser tests through the official twilio SDK, as an application does."""

from __future__ import annotations

import time
from typing import Any

from twilio.rest.conversations.v2.action import ActionList

AGENT = "+15005550006"
CUSTOMER = "+14155550100"


def send(
    client: Any, conversation_id: str, to: str = CUSTOMER, text: str = "Hello from the SDK", **sandbox: Any
) -> Any:
    payload: dict[str, Any] = {
        "from": {"address": AGENT, "channel": "SMS"},
        "to": [{"address": to, "channel": "SMS"}],
        "content": {"text": text},
    }
    if sandbox:
        payload["channelSettings"] = {"sandbox": sandbox}
    request = ActionList.CreateConversationActionRequest({"type": "SEND_MESSAGE", "payload": payload})
    return client.conversations.v2.actions(conversation_id).create(request)


def wait_for_message_sid(client: Any, conversation_id: str, action_id: str) -> str:
    deadline = time.monotonic() + 30
    while not (sid := client.conversations.v2.actions(conversation_id, action_id).fetch().related.get("messageSid")):
        assert time.monotonic() < deadline, "the action never got its message SID"
        time.sleep(0.05)
    return str(sid)
