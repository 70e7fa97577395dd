"""Participants of a conversation: /v2/Conversations/{ConversationId}/Participants."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from orchestrion.api.context import authenticate, state
from orchestrion.api.jsonio import JSONResponse, read_json
from orchestrion.api.openapi import documented
from orchestrion.api.pagination import envelope, page_request
from orchestrion.api.schemas.participants import CreateParticipantBody, UpdateParticipantBody
from orchestrion.services import participants
from orchestrion.wire.participants import participant

LIST = "/v2/Conversations/{ConversationId}/Participants"
ONE = "/v2/Conversations/{ConversationId}/Participants/{id}"


def _scope(account_sid: str, conversation_id: str) -> str:
    return f"participants\x00{account_sid}\x00{conversation_id}"


@documented("CreateParticipantInConversation", "Add a participant", body=CreateParticipantBody, status=201)
async def create(request: Request) -> Response:
    account_sid = await authenticate(request)
    body = await read_json(request, CreateParticipantBody)
    created = await participants.create_participant(
        state(request).ctx, account_sid, request.path_params["ConversationId"], body.fields()
    )
    return JSONResponse(participant(created), status_code=201)


@documented("ListParticipantByConversation", "List the participants of a conversation")
async def list_(request: Request) -> Response:
    account_sid = await authenticate(request)
    api = state(request)
    conversation_id = request.path_params["ConversationId"]
    scope = _scope(account_sid, conversation_id)
    page = page_request(request, api.tokens, scope)
    found = await participants.list_participants(api.ctx, account_sid, conversation_id, page)
    return JSONResponse(envelope("participants", found, page.limit, api.tokens, scope, participant, lambda p: p.id))


@documented("FetchParticipant", "Fetch a participant")
async def fetch(request: Request) -> Response:
    account_sid = await authenticate(request)
    found = await participants.get_participant(
        state(request).ctx, account_sid, request.path_params["ConversationId"], request.path_params["id"]
    )
    return JSONResponse(participant(found))


@documented("UpdateParticipantInConversation", "Update a participant", body=UpdateParticipantBody)
async def update(request: Request) -> Response:
    account_sid = await authenticate(request)
    body = await read_json(request, UpdateParticipantBody)
    updated = await participants.update_participant(
        state(request).ctx,
        account_sid,
        request.path_params["ConversationId"],
        request.path_params["id"],
        body.fields(),
    )
    return JSONResponse(participant(updated))


@documented("DeleteParticipantInConversation", "Remove a participant (Orchestrion's addition)", status=204)
async def delete(request: Request) -> Response:
    """204 No Content; the participant's addresses are free again. Not in the reference document."""
    account_sid = await authenticate(request)
    await participants.remove_participant(
        state(request).ctx, account_sid, request.path_params["ConversationId"], request.path_params["id"]
    )
    return Response(status_code=204)


routes: list[BaseRoute] = [
    Route(LIST, create, methods=["POST"]),
    Route(LIST, list_, methods=["GET"]),
    Route(ONE, fetch, methods=["GET"]),
    Route(ONE, update, methods=["PUT"]),
    Route(ONE, delete, methods=["DELETE"]),
]
