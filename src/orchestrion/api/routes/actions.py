"""Actions: /v2/Conversations/{ConversationId}/Actions."""

from __future__ import annotations

import orjson
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from orchestrion.api import idempotency
from orchestrion.api.context import ApiState, authenticate, state
from orchestrion.api.jsonio import JSONResponse, describe, read_json
from orchestrion.api.openapi import documented
from orchestrion.api.schemas.actions import ActionEnvelope, SendMessageBody
from orchestrion.api.schemas.common import missing
from orchestrion.domain.errors import InvalidInput
from orchestrion.domain.models import Action
from orchestrion.domain.sending import ACTION_TYPE
from orchestrion.services import actions
from orchestrion.services.idempotency import IdempotentRequest
from orchestrion.store.idempotency import StoredResponse
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
    key = idempotency.key_from(request)
    if key is None:
        created = await actions.create_send_message(api.ctx, account_sid, conversation_id, command, limit=api.limits)
        return JSONResponse(action(created), status_code=202)
    compared = body.model_dump(mode="json", by_alias=True, exclude_none=True)
    once = IdempotentRequest(key, idempotency.fingerprint(request.method, request.url.path, compared))

    def render(created: Action) -> StoredResponse:
        return StoredResponse(fingerprint="", status_code=202, headers={}, body=orjson.dumps(action(created)))

    answer = await actions.create_send_message_once(
        api.ctx, account_sid, conversation_id, command, once, render, limit=api.limits
    )
    return idempotency.to_response(answer)


async def status_body(api: ApiState, account_sid: str, conversation_id: str, action_id: str) -> bytes:
    """The Action's status as the SDK reads it: the route's answer, and the status lane's (api.lane)."""
    return orjson.dumps(action(await actions.get_action(api.ctx, account_sid, conversation_id, action_id)))


@documented("FetchConversationAction", "Fetch an action's status")
async def fetch(request: Request) -> Response:
    account_sid = await authenticate(request)
    body = await status_body(
        state(request), account_sid, request.path_params["ConversationId"], request.path_params["ActionId"]
    )
    return Response(body, media_type="application/json")


routes: list[BaseRoute] = [
    Route(LIST, create, methods=["POST"]),
    Route(ONE, fetch, methods=["GET"]),
]
