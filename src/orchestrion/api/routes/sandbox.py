"""The sandbox inbox: /sandbox/messages (Orchestrion's own API, not Twilio's).

Authenticated like /v2 and scoped to the caller's account.

- ``GET /sandbox/messages``: ``{"messages": [...]}``, oldest first, at most
  ``limit`` (1..1000, default 100) of the newest matching; filters ``to``,
  ``from``, ``conversationId``, ``status`` (queued, sent, delivered,
  undelivered, failed, read).
- ``GET /sandbox/messages/{sid}``: one message, 404 if not the account's.
- ``DELETE /sandbox/messages``: forget the account's messages,
  ``{"deleted": n}``. Timelines in flight still finish, so their Actions end.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from orchestrion.api.context import authenticate, state
from orchestrion.api.jsonio import JSONResponse
from orchestrion.api.openapi import documented
from orchestrion.api.views.sandbox import message
from orchestrion.domain.errors import InvalidInput
from orchestrion.services import sandbox

LIST = "/sandbox/messages"
ONE = "/sandbox/messages/{sid}"


def _filter(request: Request) -> sandbox.InboxFilter:
    query = request.query_params
    raw_limit = query.get("limit") or str(sandbox.DEFAULT_LIST_LIMIT)
    if not raw_limit.isdigit():
        raise InvalidInput(f"Invalid parameter limit: must be an integer from 1 to {sandbox.MAX_LIST_LIMIT}")
    return sandbox.InboxFilter(
        to=query.get("to") or None,
        from_address=query.get("from") or None,
        conversation_id=query.get("conversationId") or None,
        status=query.get("status") or None,
        limit=int(raw_limit),
    )


@documented("ListSandboxMessages", "List the messages the sandbox channel sent", tag="Sandbox")
async def list_(request: Request) -> Response:
    account_sid = await authenticate(request)
    found = await sandbox.list_messages(state(request).ctx, account_sid, _filter(request))
    return JSONResponse({"messages": [message(m) for m in found]})


@documented("FetchSandboxMessage", "Fetch one sandbox message", tag="Sandbox")
async def fetch(request: Request) -> Response:
    account_sid = await authenticate(request)
    found = await sandbox.get_message(state(request).ctx, account_sid, request.path_params["sid"])
    return JSONResponse(message(found))


@documented("ClearSandboxMessages", "Forget every sandbox message of the account", tag="Sandbox")
async def clear(request: Request) -> Response:
    account_sid = await authenticate(request)
    deleted = await sandbox.clear_messages(state(request).ctx, account_sid)
    return JSONResponse({"deleted": deleted})


routes: list[BaseRoute] = [
    Route(LIST, list_, methods=["GET"]),
    Route(LIST, clear, methods=["DELETE"]),
    Route(ONE, fetch, methods=["GET"]),
]
