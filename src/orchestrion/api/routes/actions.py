"""Actions: /v2/Conversations/{ConversationId}/Actions."""

from __future__ import annotations

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from orchestrion.api.context import authenticate, state
from orchestrion.api.jsonio import JSONResponse, describe, read_json
from orchestrion.api.openapi import documented
from orchestrion.api.schemas.actions import ActionEnvelope, SendMessageBody
from orchestrion.api.schemas.common import missing
from orchestrion.domain.errors import InvalidInput
from orchestrion.domain.sending import ACTION_TYPE
from orchestrion.services import actions
from orchestrion.wire.actions import action

LIST = "/v2/Conversations/{ConversationId}/Actions"
ONE = "/v2/Conversations/{ConversationId}/Actions/{ActionId}"


@documented("CreateConversationAction", "Send a message in a conversation", body=SendMessageBody, status=202)
async def create(request: Request) -> Response:
    account_sid = await authenticate(request)
    api = state(request)
    envelope = await read_json(request, ActionEnvelope)
    absent = [name for name in ("type", "payload") if getattr(envelope, name) is None]
    if absent:
        raise missing(absent)
    if envelope.type != ACTION_TYPE:
        raise InvalidInput(f"Unsupported action type {envelope.type!r}: the supported type is {ACTION_TYPE}")
    try:
        body = SendMessageBody.model_validate({"type": envelope.type, "payload": envelope.payload})
    except ValidationError as error:
        raise InvalidInput(describe(error)) from error
    command = body.to_command()
    conversation_id = request.path_params["ConversationId"]
    created = await actions.create_send_message(api.ctx, account_sid, conversation_id, command, limit=api.limits)
    return JSONResponse(action(created), status_code=202)


@documented("FetchConversationAction", "Fetch an action's status")
async def fetch(request: Request) -> Response:
    account_sid = await authenticate(request)
    found = await actions.get_action(
        state(request).ctx, account_sid, request.path_params["ConversationId"], request.path_params["ActionId"]
    )
    return JSONResponse(action(found))


routes: list[BaseRoute] = [
    Route(LIST, create, methods=["POST"]),
    Route(ONE, fetch, methods=["GET"]),
]
