"""Bare ASGI app used as the performance floor for bench_actions.py.

No framework, no routing, no auth, no storage: any GET answers 200 with a
fixed action body in COMPLETED state, any other method drains the request body
and answers 202 with the same action in PENDING state. The bodies have the
shape and size of a real SEND_MESSAGE action so that the bytes on the wire are
comparable with Orchestrion's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def _action(status: str, related: dict[str, str], completed: str | None) -> bytes:
    body: dict[str, Any] = {
        "id": "conv_action_01jq7z8k9m0n1p2q3r4s5t6v7w",
        "type": "SEND_MESSAGE",
        "status": status,
        "conversationId": "conv_conversation_01jq7z8k9m0n1p2q3r4s5t6v7x",
        "related": related,
        "createdAt": "2026-03-30T10:30:00.123Z",
        "updatedAt": "2026-03-30T10:30:00.456Z",
        "failureReason": None,
    }
    if completed is not None:
        body["completedAt"] = completed
    return orjson.dumps(body)


_MESSAGE_SID = "SM0123456789abcdef0123456789abcdef"
COMPLETED_BODY = _action(
    "COMPLETED",
    {
        "messageSid": _MESSAGE_SID,
        "communicationId": "conv_communication_01jq7z8k9m0n1p2q3r4s5t6v7y",
    },
    "2026-03-30T10:30:00.456Z",
)
PENDING_BODY = _action("PENDING", {"messageSid": _MESSAGE_SID}, None)


def _start(status: int, body: bytes) -> Message:
    return {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
    }


_GET_START = _start(200, COMPLETED_BODY)
_POST_START = _start(202, PENDING_BODY)
_GET_BODY: Message = {"type": "http.response.body", "body": COMPLETED_BODY}
_POST_BODY: Message = {"type": "http.response.body", "body": PENDING_BODY}


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    kind = scope["type"]
    if kind == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if kind != "http":
        return
    if scope["method"] == "GET":
        await send(_GET_START)
        await send(_GET_BODY)
        return
    # A real server reads the request body; skipping it would flatter the floor.
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send(_POST_START)
    await send(_POST_BODY)
