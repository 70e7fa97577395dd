"""What the bench's bare ASGI apps share: action bodies shaped like Orchestrion's, and the ASGI plumbing.

No framework, no routing beyond a split of the path, no auth: the apps built
on this are floors (``baseline_app``) and limits (``limit_sqlite_app``,
``limit_asyncpg_app``) to read Orchestrion's numbers against.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Protocol

import orjson

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Handler = Callable[[Scope, Receive, Send], Awaitable[None]]
Row = tuple[str, str, bytes, int]  # action id, conversation id, request body, created (epoch ms)

MESSAGE_SID = "SM0123456789abcdef0123456789abcdef"
ACTION_ID = "conv_action_01jq7z8k9m0n1p2q3r4s5t6v7w"
CONVERSATION_ID = "conv_conversation_01jq7z8k9m0n1p2q3r4s5t6v7x"


def action_body(action_id: str, conversation_id: str, *, completed: bool) -> bytes:
    """A SEND_MESSAGE action as Orchestrion renders it: same fields, same size."""
    related = {"messageSid": MESSAGE_SID}
    body: dict[str, Any] = {
        "id": action_id,
        "type": "SEND_MESSAGE",
        "status": "COMPLETED" if completed else "PENDING",
        "conversationId": conversation_id,
        "related": related,
        "createdAt": "2026-03-30T10:30:00.123Z",
        "updatedAt": "2026-03-30T10:30:00.456Z",
        "failureReason": None,
    }
    if completed:
        related["communicationId"] = "conv_communication_01jq7z8k9m0n1p2q3r4s5t6v7y"
        body["completedAt"] = "2026-03-30T10:30:00.456Z"
    return orjson.dumps(body)


def start_message(status: int, body: bytes) -> Message:
    return {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }


async def respond(send: Send, status: int, body: bytes) -> None:
    await send(start_message(status, body))
    await send({"type": "http.response.body", "body": body})


async def read_body(receive: Receive) -> bytes:
    """The whole request body (a real server reads it; skipping it would flatter the floor)."""
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


def conversation_of(path: str) -> str:
    """``/v2/Conversations/{id}/Actions[/...]`` -> id; anything else -> the fixed conversation id."""
    parts = path.split("/")
    return parts[3] if len(parts) > 3 and parts[2] == "Conversations" else CONVERSATION_ID


def asgi_app(
    http: Handler,
    startup: Callable[[], Awaitable[None]] | None = None,
    shutdown: Callable[[], Awaitable[None]] | None = None,
) -> Handler:
    """An ASGI app: ``http`` for requests, ``startup``/``shutdown`` around them (lifespan)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await http(scope, receive, send)
            return
        if scope["type"] != "lifespan":
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if startup is not None:
                    await startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if shutdown is not None:
                    await shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    return app


Waiting = list[tuple[Row, asyncio.Future[None]]]  # rows of a group commit, and the requests waiting on them


def settle(batch: Waiting, error: BaseException | None) -> None:
    """Answer every request of one group commit: committed, or failed with ``error``."""
    for _, future in batch:
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)


class RowStore(Protocol):
    """Where a limit app keeps one row per POST."""

    async def insert(self, row: Row) -> None:
        """Return once the row is committed."""
        ...

    async def get(self, action_id: str) -> tuple[str, str] | None:
        """(action id, conversation id) by primary key."""
        ...


_OK = b'{"status": "ok"}'
_NOT_FOUND = b'{"code": 20404, "message": "not found", "status": 404}'


def row_app(
    store: RowStore,
    startup: Callable[[], Awaitable[None]] | None = None,
    shutdown: Callable[[], Awaitable[None]] | None = None,
) -> Handler:
    """POST: insert one row, answer 202 with its action once committed. GET: one row by id, or 404."""

    async def http(scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if scope["method"] == "GET":
            if path == "/healthz":
                await respond(send, 200, _OK)
                return
            found = await store.get(path.rsplit("/", 1)[1])
            if found is None:
                await respond(send, 404, _NOT_FOUND)
                return
            await respond(send, 200, action_body(found[0], found[1], completed=True))
            return
        body = await read_body(receive)
        action_id = "conv_action_" + secrets.token_hex(13)
        conversation_id = conversation_of(path)
        await store.insert((action_id, conversation_id, body, int(time.time() * 1000)))
        await respond(send, 202, action_body(action_id, conversation_id, completed=False))

    return asgi_app(http, startup, shutdown)
