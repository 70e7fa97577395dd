"""Conversations: /v2/Conversations."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from orchestrion.api.accepted import accepted
from orchestrion.api.context import authenticate, state
from orchestrion.api.jsonio import JSONResponse, read_json
from orchestrion.api.openapi import documented
from orchestrion.api.pagination import envelope, page_request
from orchestrion.api.schemas.conversations import (
    CreateConversationBody,
    PatchConversationBody,
    ReplaceConversationBody,
)
from orchestrion.api.schemas.participants import text_param
from orchestrion.domain.errors import InvalidInput
from orchestrion.domain.models import ConversationStatus, ConversationView
from orchestrion.services import conversations
from orchestrion.wire.conversations import conversation

LIST = "/v2/Conversations"
ONE = "/v2/Conversations/{id}"


def _statuses(request: Request) -> list[ConversationStatus]:
    """``status`` may repeat (the SDK repeats it) or hold a comma-separated list."""
    out: list[ConversationStatus] = []
    for raw in request.query_params.getlist("status"):
        for value in filter(None, (v.strip() for v in raw.split(","))):
            try:
                status = ConversationStatus(value)
            except ValueError as error:
                raise InvalidInput(
                    f"Invalid parameter status: {value!r} is not one of ACTIVE, INACTIVE, CLOSED"
                ) from error
            if status not in out:
                out.append(status)
    return out


def _view_id(view: ConversationView) -> str:
    return view.conversation.id


@documented("CreateConversationWithConfig", "Create a conversation", body=CreateConversationBody, status=201)
async def create(request: Request) -> Response:
    account_sid = await authenticate(request)
    body = await read_json(request, CreateConversationBody)
    view = await conversations.create_conversation(state(request).ctx, account_sid, body.to_new())
    return JSONResponse(conversation(view), status_code=201)


@documented("ListConversationByAccount", "List conversations")
async def list_(request: Request) -> Response:
    account_sid = await authenticate(request)
    api = state(request)
    statuses = _statuses(request)
    channel_id = text_param(request.query_params.get("channelId"), "channelId")
    scope = "\x00".join(["conversations", account_sid, ",".join(sorted(statuses)), channel_id or ""])
    page = page_request(request, api.tokens, scope)
    found = await conversations.list_conversations(api.ctx, account_sid, page, statuses=statuses, channel_id=channel_id)
    return JSONResponse(envelope("conversations", found, page.limit, api.tokens, scope, conversation, _view_id))


@documented("FetchConversation", "Fetch a conversation")
async def fetch(request: Request) -> Response:
    account_sid = await authenticate(request)
    view = await conversations.get_conversation(state(request).ctx, account_sid, request.path_params["id"])
    return JSONResponse(conversation(view))


@documented(
    "UpdateConversationById", "Replace a conversation's status, name and metadata", body=ReplaceConversationBody
)
async def replace(request: Request) -> Response:
    account_sid = await authenticate(request)
    body = await read_json(request, ReplaceConversationBody)
    view = await conversations.update_conversation(
        state(request).ctx, account_sid, request.path_params["id"], body.change()
    )
    return JSONResponse(conversation(view))


@documented("PatchConversationById", "Change some fields of a conversation", body=PatchConversationBody)
async def patch(request: Request) -> Response:
    account_sid = await authenticate(request)
    body = await read_json(request, PatchConversationBody)
    view = await conversations.update_conversation(
        state(request).ctx, account_sid, request.path_params["id"], body.change()
    )
    return JSONResponse(conversation(view))


@documented("DeleteConversationAsync", "Delete a conversation and everything in it (an operation)", status=202)
async def delete(request: Request) -> Response:
    account_sid = await authenticate(request)
    cid = request.path_params["id"]
    # The existence check runs after the Idempotency-Key lookup: a replay after the deletion gets its first answer.
    return await accepted(
        request,
        account_sid,
        "conversation.delete",
        {"conversationId": cid},
        {"conversationId": cid},
        precheck=lambda tx: conversations.check_delete(tx, account_sid, cid),
    )


routes: list[BaseRoute] = [
    Route(LIST, create, methods=["POST"]),
    Route(LIST, list_, methods=["GET"]),
    Route(ONE, fetch, methods=["GET"]),
    Route(ONE, replace, methods=["PUT"]),
    Route(ONE, patch, methods=["PATCH"]),
    Route(ONE, delete, methods=["DELETE"]),
]
