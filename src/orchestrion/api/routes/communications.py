"""Communications of a conversation: /v2/Conversations/{ConversationId}/Communications."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from orchestrion.api.context import authenticate, state
from orchestrion.api.jsonio import JSONResponse, read_json
from orchestrion.api.openapi import documented
from orchestrion.api.pagination import envelope, page_request
from orchestrion.api.schemas.communications import CreateCommunicationBody
from orchestrion.api.schemas.participants import text_param
from orchestrion.services import communications
from orchestrion.wire.communications import communication

LIST = "/v2/Conversations/{ConversationId}/Communications"
ONE = "/v2/Conversations/{ConversationId}/Communications/{id}"


def _scope(account_sid: str, conversation_id: str, channel_id: str | None) -> str:
    return f"communications\x00{account_sid}\x00{conversation_id}\x00{channel_id or ''}"


@documented("CreateCommunicationInConversation", "Record a communication", body=CreateCommunicationBody, status=201)
async def create(request: Request) -> Response:
    """201 also when the resourceId was already recorded: the body is then the first record."""
    account_sid = await authenticate(request)
    body = await read_json(request, CreateCommunicationBody)
    recorded = await communications.create_communication(
        state(request).ctx, account_sid, request.path_params["ConversationId"], body.to_new()
    )
    return JSONResponse(communication(recorded), status_code=201)


@documented("ListCommunicationByConversation", "List the communications of a conversation")
async def list_(request: Request) -> Response:
    account_sid = await authenticate(request)
    api = state(request)
    conversation_id = request.path_params["ConversationId"]
    channel_id = text_param(request.query_params.get("channelId"), "channelId")
    scope = _scope(account_sid, conversation_id, channel_id)
    page = page_request(request, api.tokens, scope)
    found = await communications.list_communications(api.ctx, account_sid, conversation_id, page, channel_id=channel_id)
    return JSONResponse(envelope("communications", found, page.limit, api.tokens, scope, communication, lambda c: c.id))


@documented("FetchCommunication", "Fetch a communication")
async def fetch(request: Request) -> Response:
    account_sid = await authenticate(request)
    found = await communications.get_communication(
        state(request).ctx, account_sid, request.path_params["ConversationId"], request.path_params["id"]
    )
    return JSONResponse(communication(found))


routes: list[BaseRoute] = [
    Route(LIST, create, methods=["POST"]),
    Route(LIST, list_, methods=["GET"]),
    Route(ONE, fetch, methods=["GET"]),
]
